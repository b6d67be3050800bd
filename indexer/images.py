"""Safe image decoding: every way a merchant's image can be broken maps to one clear reason."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

from shelfsight.core.errors import BadInput

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
# What every later step gets of a photo: the networks see 224-384 px, colour and shape
# 256 px, OCR magnifies to 640 px. A 40 MP photo held whole is 120 MB of RGB (160 MB while
# decoded as RGBA); its working copy at this bound is 3 MB, so a batch of them stays small.
WORKING_SIDE = 1024
# Decoding a photo this large needs its full-size buffer for a moment; one at a time per
# process, so concurrent requests and batch workers cannot stack them (20 x 40 MP PNGs
# decoded together took a worker from 1.45 to 5.3 GB), and always on one thread, so the
# allocator keeps freed buffers in one arena, not one per thread (a 20-photo batch:
# +384 MB with a lock shared by two threads, +307 MB on one thread; BENCHMARKS.md).
LARGE_DECODE_PIXELS = 4 * WORKING_SIDE * WORKING_SIDE
_large_decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="large-decode")


class ImageError(BadInput):
    """An image that cannot be used; ``reason`` is short and stable, ``detail`` says more."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.error = reason


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # always RGB: the working copy, at most WORKING_SIDE on its long side
    sha256: str
    width: int  # the photo's own size (upright), not the working copy's
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


def _working_copy(img: Image.Image) -> Image.Image:
    """At most ``WORKING_SIDE`` on the long side (a smaller photo is left as it is)."""
    if max(img.size) <= WORKING_SIDE:
        return img
    if img.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        img = to_rgb(img)  # palette and 16-bit modes do not resample smoothly
    w, h = img.size
    scale = WORKING_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # reducing_gap: a cheap box reduction first, the filtered resize on what is left.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _shrunk(probe: Image.Image) -> Image.Image:
    """The opened picture decoded, as its upright RGB working copy."""
    probe.load()
    # Phone photos are stored sideways with an EXIF rotation: apply it, or the product is
    # embedded and thumbnailed on its side.
    rgb = to_rgb(ImageOps.exif_transpose(_working_copy(probe)))
    rgb.load()
    return rgb


@contextlib.contextmanager
def _opened(source: IO[bytes]) -> Iterator[Image.Image]:
    """``Image.open`` with the two ways a header alone is refused as ``ImageError``s:
    too many pixels (Pillow only warns between MAX_PIXELS and 2x; we refuse both) and
    not a picture at all."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as probe:
                yield probe
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            "image too large", "the picture has too many pixels to open safely; send a smaller one"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            "not an image",
            "the file is not a picture Shelfsight can read (JPEG, PNG, WebP, GIF, BMP or TIFF)",
        ) from exc


def probe_pixels(source: IO[bytes], max_pixels: int = MAX_PIXELS) -> int:
    """A picture's pixel count from its header alone (nothing decoded), after the checks
    ``decode_bytes`` makes first; 0 when the header is unreadable (decoding says why)."""
    try:
        with _opened(source) as probe:
            width, height = probe.size
    except (OSError, SyntaxError, ValueError):
        return 0
    check_shape(width, height, max_pixels)
    return width * height


def decode_bytes(data: bytes, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    if not data:
        raise ImageError("empty image file", "the file is empty (0 bytes)")
    try:
        with _opened(io.BytesIO(data)) as probe:
            width, height = probe.size
            check_shape(width, height, max_pixels)
            mode = probe.mode
            fmt = probe.format
            # A JPEG decodes straight at 1/2 .. 1/8 scale: its full size never exists.
            probe.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
            if probe.size[0] * probe.size[1] > LARGE_DECODE_PIXELS:
                rgb = _large_decoder.submit(_shrunk, probe).result()
            else:
                rgb = _shrunk(probe)
            if probe.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8):
                width, height = height, width  # turned a quarter: upright size
    except ImageError:
        raise
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
ImageInput: TypeAlias = (
    "str | os.PathLike[str] | bytes | IO[bytes] | Image.Image | np.ndarray | DecodedImage"
)


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
    if hasattr(image, "read"):  # an open binary file (an upload spooled to disk)
        data = image.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ImageError("image file too large", f"more than {MAX_FILE_BYTES} bytes")
        return decode_bytes(data, max_pixels)
    if type(image).__module__ == "numpy":
        image = _from_array(image)
    if isinstance(image, Image.Image):
        check_shape(image.width, image.height, max_pixels)
        rgb = to_rgb(_working_copy(image))
        digest = hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).hexdigest()
        return DecodedImage(rgb, digest, image.width, image.height, image.mode, image.format)
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
