"""Safe image decoding: every way a merchant's image can be broken maps to one clear reason."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from shelfsight.indexer.errors import BadInput

if TYPE_CHECKING:
    import numpy as np

# Far above any product photo (a 12k x 8k studio shot is ~100 MP), far below a bomb.
MAX_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# A 64 MP photo is ~30 MB as a high-quality JPEG; anything past this is not a photo.
MAX_FILE_BYTES = 100 * 1024 * 1024
# Banners and strips, not products; past this, fitting the long side to the model's input
# leaves the short side a pixel or two. (A 60000 x 2 PNG is 438 bytes.)
MAX_ASPECT = 20.0
# A truncated JPEG must be an error, not a grey bottom half.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(BadInput):
    """An image that cannot be used; ``reason`` is short and stable, ``detail`` says more."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.error = reason


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # always RGB
    sha256: str
    width: int
    height: int
    original_mode: str
    format: str | None = None  # JPEG, PNG, ... as Pillow read it


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any mode to RGB; transparency is composited on white like a studio backdrop."""
    if img.mode == "RGB":
        return img
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode == "I;16" or img.mode.startswith("I;16"):
        img = img.point(lambda v: v / 256).convert("L")
    return img.convert("RGB")


def check_shape(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse, from the header alone, what no product photo looks like."""
    if width * height > max_pixels:
        raise ImageError(
            "image too large",
            f"the picture is {width} x {height} pixels, more than the "
            f"{max_pixels / 1e6:g} megapixels accepted; send a smaller version of it",
        )
    if min(width, height) < 1 or max(width, height) / min(width, height) > MAX_ASPECT:
        raise ImageError(
            "bad aspect ratio",
            f"the picture is {width} x {height} pixels, more than {MAX_ASPECT:.0f} times as "
            "long as it is wide: not a product photo",
        )


def decode_bytes(data: bytes, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    if not data:
        raise ImageError("empty image file", "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_PIXELS and 2x; we refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                check_shape(width, height, max_pixels)
                probe.load()
                mode = probe.mode
                fmt = probe.format
                # Phone photos are stored sideways with an EXIF rotation: apply it, or the
                # product is embedded and thumbnailed on its side.
                rgb = to_rgb(ImageOps.exif_transpose(probe))
                rgb.load()
                width, height = rgb.size
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            "image too large", "the picture has too many pixels to open safely; send a smaller one"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            "not an image",
            "the file is not a picture Shelfsight can read (JPEG, PNG, WebP, GIF, BMP or TIFF)",
        ) from exc
    except OSError as exc:
        msg = str(exc)
        if "truncated" in msg.lower() or "premature end" in msg.lower():
            raise ImageError(
                "truncated image", f"the file ends too early: it is incomplete ({msg})"
            ) from exc
        raise ImageError("unreadable image", msg) from exc
    except (SyntaxError, ValueError) as exc:  # Pillow raises these for some corrupt headers
        raise ImageError("unreadable image", str(exc)) from exc
    return DecodedImage(
        image=rgb,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        original_mode=mode,
        format=fmt,
    )


def read_image_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``.

    Opened non-blocking and checked with fstat before any read: a FIFO would block the
    open (and the writer lock held around an ingest) forever, and ``/dev/zero`` never ends.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise ImageError("missing image", str(path)) from exc
    except OSError as exc:
        raise ImageError("unreadable image", f"{path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError("unreadable image", f"{path} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError("not a regular file", f"{path} is a device, pipe or socket")
        if info.st_size > max_bytes:
            raise ImageError("image file too large", f"{path}: more than {max_bytes} bytes")
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise ImageError("unreadable image", f"{path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # grew while we read it
        raise ImageError("image file too large", f"{path}: more than {max_bytes} bytes")
    return data


def decode_file(path: Path, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    return decode_bytes(read_image_file(path), max_pixels=max_pixels)


# What the Python API takes as a photo.
ImageInput: TypeAlias = "str | os.PathLike[str] | bytes | Image.Image | np.ndarray | DecodedImage"


def decode_image(image: Any, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """Any image a caller may hold: a file path, the file's bytes, a PIL image, or a numpy
    array (H x W x 3 uint8 RGB, H x W x 4 RGBA, or H x W grey). In-memory pictures get a
    hash of their pixels, so the same picture sent twice is recognised as such."""
    if isinstance(image, DecodedImage):
        return image
    if isinstance(image, str | os.PathLike):
        return decode_file(Path(image), max_pixels)
    if isinstance(image, bytes | bytearray | memoryview):
        return decode_bytes(bytes(image), max_pixels)
    if type(image).__module__ == "numpy":
        image = _from_array(image)
    if isinstance(image, Image.Image):
        check_shape(image.width, image.height, max_pixels)
        rgb = to_rgb(image)
        digest = hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).hexdigest()
        return DecodedImage(rgb, digest, rgb.width, rgb.height, image.mode, image.format)
    raise ImageError(
        "not an image",
        f"expected a path, bytes, a PIL image or a numpy array, not {type(image).__name__}",
    )


def _from_array(array: Any) -> Image.Image:
    import numpy as np

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError("not an image", f"an array of shape {a.shape} is not H x W (x 3|4)")
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and float(np.nanmax(a)) <= 1.0:
            a = a * 255.0  # floats in [0, 1], as most vision code holds them
        a = np.clip(np.nan_to_num(a), 0, 255).astype(np.uint8)
    return Image.fromarray(a)
