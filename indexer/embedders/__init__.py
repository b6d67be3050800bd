"""Embedding backends, chosen by a model spec string (see ``load_embedder``)."""

from __future__ import annotations

from indexer.embedders.base import Embedder, embed_images, l2_normalise


def load_embedder(spec: str = "cnn") -> Embedder:
    """``cnn`` or ``cnn:ARCH`` (EfficientNet-Lite0/1/2)."""
    kind, _, rest = spec.partition(":")
    if kind == "cnn":
        from indexer.embedders.cnn import CnnEmbedder

        return CnnEmbedder(rest or "efficientnet_lite0")
    raise ValueError(f"unknown model {spec!r}; expected 'cnn' or 'cnn:ARCH'")


__all__ = ["Embedder", "embed_images", "l2_normalise", "load_embedder"]
