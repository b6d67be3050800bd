"""The frozen CNN trunk under the hybrid: EfficientNet-Lite feature maps per image.

Each image becomes a grid of cells (7 x 7 for Lite0 at 224 px, 9 x 9 for Lite2 at 260 px:
the deep block's own resolution); per cell the map stacks three groups:

- deep: the CNN's last block (320 channels for Lite0, 352 for Lite2), before the 1x1
  ``conv_head`` that widens it to 1280; the head is cheap to re-apply, so caching before it
  is 4x smaller and loses nothing;
- mid: blocks 2 and 4 (40 + 112 channels for Lite0), average-pooled to the grid: texture and pattern
  that the deep layers have abstracted away;
- colour: the mean CIELAB colour of the cell's pixels. ImageNet features are nearly
  colour-blind (the plain-CNN baseline gets 0.43 on baseColour), so the ViT gets colour
  straight from the pixels.

``indexer.features`` caches the maps by image hash; the hybrid embedder runs the same
trunk at query time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from shelfsight.indexer.embedders.base import IMAGENET_MEAN, IMAGENET_STD, letterbox_pixels
from shelfsight.indexer.embedders.cnn import LITE_INPUT, load_backbone
from shelfsight.indexer.embedders.runtime import compile_network

LAYOUT = "ms1"  # bump when the map layout changes: the cache file name carries it
MID_BLOCKS = (2, 4)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], (N, 3, H, W) -> CIELAB (D65), L in [0, 100]."""
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = rgb.new_tensor(
        [
            [0.412453, 0.357580, 0.180423],
            [0.212671, 0.715160, 0.072169],
            [0.019334, 0.119193, 0.950227],
        ]
    )
    xyz = torch.einsum("ij,njhw->nihw", m, linear)
    xyz = xyz / rgb.new_tensor([0.950456, 1.0, 1.088754]).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp(min=1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    L = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([L, a, b], dim=1)


def grid_side(input_size: int) -> int:
    """Cells per side of the trunk's map: the deep block's resolution at this input size."""
    return -(-input_size // 32)


def pool_matrix(size: int, cells: int) -> torch.Tensor:
    """(cells, size) averaging weights with adaptive average pooling's bins."""
    m = torch.zeros(cells, size)
    for i in range(cells):
        start, end = (i * size) // cells, -(-((i + 1) * size) // cells)
        m[i, start:end] = 1.0 / (end - start)
    return m


class CellPool(nn.Module):
    """Adaptive average pooling of a fixed-size map as two matrix products.

    ``F.adaptive_avg_pool2d`` does not export to ONNX when the output does not divide the
    input (Lite2: 33 x 33 -> 9 x 9); the same bins as weights export anywhere.
    """

    def __init__(self, size: int, cells: int) -> None:
        super().__init__()
        self.register_buffer("weights", pool_matrix(size, cells))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        w = self.weights
        return torch.einsum("gh,nchw,kw->ncgk", w, t, w)


def cell_pool(size: int, cells: int) -> nn.Module:
    """Pooling of a size x size map to cells x cells: the native op where it exports."""
    return nn.AdaptiveAvgPool2d(cells) if size % cells == 0 else CellPool(size, cells)


class TrunkMaps(nn.Module):
    """Normalised float (N, 3, H, W) -> (N, deep + mid + 3, G, G) multi-scale maps."""

    mean: torch.Tensor  # buffers, registered below
    std: torch.Tensor

    def __init__(self, backbone: nn.Module, input_size: int) -> None:
        super().__init__()
        # timm's EfficientNet: its stem and blocks are attributes no type describes.
        self.backbone: Any = backbone
        # Fixed, not read off the tensor, so the ONNX export has static pooling sizes. The
        # stride-32 block pads odd sizes up (260 px -> 9 x 9), hence the ceiling.
        side = grid_side(input_size)
        self.grid = (side, side)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        sizes = _mid_sizes(backbone, input_size)
        self.mid_pools = nn.ModuleList(cell_pool(n, side) for n in sizes)
        self.colour_pool = cell_pool(input_size, side)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.backbone
        h = m.bn1(m.conv_stem(x))
        mids = []
        for i, block in enumerate(m.blocks):
            h = block(h)
            if i in MID_BLOCKS:
                mids.append(h)
        pooled = [pool(t) for pool, t in zip(self.mid_pools, mids, strict=True)]
        lab = rgb_to_lab((x * self.std + self.mean).clamp(0, 1))
        # Scaled to about unit range so no group dominates before its own projection.
        colour = self.colour_pool(lab) / 50.0
        return torch.cat([h, *pooled, colour], dim=1)


@torch.no_grad()
def _mid_sizes(backbone: Any, input_size: int) -> list[int]:
    h = backbone.bn1(backbone.conv_stem(torch.zeros(1, 3, input_size, input_size)))
    sizes = []
    for i, block in enumerate(backbone.blocks[: max(MID_BLOCKS) + 1]):
        h = block(h)
        if i in MID_BLOCKS:
            sizes.append(int(h.shape[-1]))
    return sizes


class CnnTrunk:
    """Frozen EfficientNet-Lite: uint8 pixels -> (N, deep + mid + 3, G, G) maps."""

    def __init__(self, arch: str = "efficientnet_lite0", runtime: str = "auto"):
        self.arch = arch
        self.model: Any = load_backbone(arch)
        self.input_size = LITE_INPUT[arch]
        self.network = TrunkMaps(self.model, self.input_size).eval()
        self.run = compile_network(self.network, self.input_size, runtime)
        blocks: Any = self.model.blocks
        deep = int(blocks[-1][-1].conv_pwl.out_channels)
        mid = sum(int(blocks[i][-1].conv_pwl.out_channels) for i in MID_BLOCKS)
        self.groups = (deep, mid, 3)
        self.channels = sum(self.groups)
        self.grid = grid_side(self.input_size)
        self.layout = f"{arch}-{LAYOUT}"

    def preprocess(self, image) -> np.ndarray:
        return letterbox_pixels(image, self.input_size)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.run(pixels)
