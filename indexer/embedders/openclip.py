"""open_clip image towers as an alternative embedding backend.

``openclip:ARCH[:CHECKPOINT]``: ARCH is an open_clip model name (``ViT-B-32``) or a path
to a model-config JSON (registered on the fly); CHECKPOINT is a local weights file or an
open_clip pretrained tag (``laion2b_s34b_b79k``, fetched from the hub by open_clip; needs a
network). Without CHECKPOINT the tower is randomly initialised, which is only useful for
tests.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image

from shelfsight.indexer.embedders.base import l2_normalise, pick_device


def _register(arch: str) -> str:
    path = Path(arch)
    if path.suffix == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"open_clip model config not found: {path}")
        open_clip.add_model_config(path)
        return path.stem
    return arch


class OpenClipEmbedder:
    def __init__(self, arch: str, checkpoint: str | None = None) -> None:
        name = _register(arch)
        if name not in open_clip.list_models():
            raise ValueError(f"unknown open_clip architecture {arch!r}")
        self.device = pick_device()
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=checkpoint, device=self.device
        )
        model.eval()
        self.model = model
        self._preprocess = preprocess
        with torch.inference_mode():
            size = model.visual.image_size
            size = size if isinstance(size, tuple | list) else (size, size)
            probe = torch.zeros(1, 3, *size, device=self.device)
            self.dim = int(model.encode_image(probe).shape[-1])
        if checkpoint and Path(checkpoint).is_file():
            tag = hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()[:12]
        else:
            tag = checkpoint or "random"
        self.name = f"openclip-{name}-{tag}"
        # Absolute paths, so an index built here can reload its embedder from anywhere.
        arch_ref = str(Path(arch).resolve()) if Path(arch).suffix == ".json" else arch
        is_file = checkpoint is not None and Path(checkpoint).is_file()
        ckpt_ref = str(Path(checkpoint).resolve()) if checkpoint and is_file else checkpoint
        self.spec = f"openclip:{arch_ref}" + (f":{ckpt_ref}" if ckpt_ref else "")

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return self._preprocess(image).numpy()

    @torch.inference_mode()
    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device)
        return l2_normalise(self.model.encode_image(x).float().cpu().numpy())
