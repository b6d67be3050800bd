"""Embedding backends, chosen by a model spec string (see ``load_embedder``)."""

from __future__ import annotations

from pathlib import Path

from shelfsight.core.errors import BadInput, NotIndexed
from shelfsight.indexer.embedders.base import Embedder, embed_images, l2_normalise
from shelfsight.indexer.model_specs import SPECS
from shelfsight.indexer.workspace import Workspace


class ModelNotTrained(NotIndexed, RuntimeError):
    pass


def current_hybrid(home: Path | None) -> Path | None:
    if home is None:
        return None
    ws = Workspace(home)
    pointer = ws.current_model_pointer
    return ws.models_dir / pointer.read_text().strip() if pointer.is_file() else None


def load_embedder(spec: str = "cnn", home: Path | None = None) -> Embedder:
    """Build the embedder a spec names.

    ``auto`` is the trained hybrid when the workspace has one, else the plain CNN;
    ``hybrid`` is the workspace's current trained model, ``hybrid:FILE`` a model file
    (relative to the workspace); ``openclip:ARCH[:CHECKPOINT]`` an open_clip image tower.
    """
    kind, _, rest = spec.partition(":")
    if kind == "auto":
        kind, rest = ("hybrid", "") if current_hybrid(home) else ("cnn", "")
    if kind == "cnn":
        from shelfsight.indexer.embedders.cnn import CnnEmbedder

        return CnnEmbedder(rest or "efficientnet_lite0")
    if kind == "hybrid":
        from shelfsight.indexer.embedders.hybrid import HybridEmbedder

        if rest:
            path = Path(rest)
            if not path.is_absolute() and home is not None:
                path = home / path
            rel = f"hybrid:{rest}"
        else:
            current = current_hybrid(home)
            if current is None:
                raise ModelNotTrained("no trained hybrid model; run `shelfsight train` first")
            path, rel = current, f"hybrid:models/{current.name}"
        if not path.is_file():
            raise FileNotFoundError(f"hybrid model file not found: {path}")
        return HybridEmbedder(path, spec=rel)
    if kind == "openclip":
        from shelfsight.indexer.embedders.openclip import OpenClipEmbedder

        arch, _, checkpoint = rest.partition(":")
        if not arch:
            raise BadInput("openclip needs an architecture: openclip:ARCH[:CHECKPOINT]")
        return OpenClipEmbedder(arch, checkpoint or None)
    raise BadInput(f"unknown model {spec!r}; expected one of: {SPECS}")


__all__ = ["Embedder", "ModelNotTrained", "embed_images", "l2_normalise", "load_embedder"]
