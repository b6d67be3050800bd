"""What every embedding backend provides, and the shared image preprocessing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@runtime_checkable
class Embedder(Protocol):
    """Turns RGB images into L2-normalised float32 vectors.

    ``name`` identifies the vectors: two embedders with the same name must produce the same
    vectors, because stored embeddings are reused across runs by that name.
    """

    name: str  # identifies the vectors (stored with them)
    spec: str  # what load_embedder() takes to build this embedder again
    dim: int

    def preprocess(self, image: Image.Image) -> np.ndarray: ...

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray: ...


def pick_device() -> torch.device:
    import torch  # here: a look-up by product id never needs torch (1 s, 300 MB)

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def letterbox(
    image: Image.Image, size: int, fill: tuple[int, int, int] = (255, 255, 255)
) -> Image.Image:
    """Fit the whole product into a ``size`` square, padding on white.

    Centre-cropping (the ImageNet habit) would cut off sleeves, soles and straps, and the
    catalogue's own studio backdrop is white, so padding adds no new content. Resized
    first, padded second: padding first made a max(w, h)^2 canvas, 10 GB for a 60000 x 2
    strip; this way memory is bounded by the input and the output.
    """
    w, h = image.size
    if (w, h) == (size, size):
        return image
    scale = size / max(w, h)
    fitted = (max(1, min(size, round(w * scale))), max(1, min(size, round(h * scale))))
    resized = image.resize(fitted, Image.Resampling.BICUBIC)
    if fitted == (size, size):
        return resized
    canvas = Image.new("RGB", (size, size), fill)
    canvas.paste(resized, ((size - fitted[0]) // 2, (size - fitted[1]) // 2))
    return canvas


def letterbox_pixels(image: Image.Image, size: int) -> np.ndarray:
    """HWC uint8 pixels, letterboxed to ``size``: what the compiled networks take."""
    return np.asarray(letterbox(image, size), dtype=np.uint8)


def to_normalised_array(
    image: Image.Image,
    size: int,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> np.ndarray:
    """CHW float32 array, letterboxed to ``size`` and normalised: the plain eager input
    (the embedders normalise inside their compiled network instead)."""
    arr: np.ndarray = np.asarray(letterbox(image, size), dtype=np.float32) / 255.0
    arr = (arr - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def embed_images(embedder: Embedder, images: Sequence[Image.Image]) -> np.ndarray:
    if not images:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return embedder.embed_arrays(np.stack([embedder.preprocess(im) for im in images]))
