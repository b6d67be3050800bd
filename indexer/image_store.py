"""Photos added through the API live in the workspace, named by their content's hash
(``images/ab/<sha256>.jpg``), with their thumbnails in ``cache/thumbs``. A photo no product
holds any more (its product deleted, or given a new photo) is removed with its thumbnails,
after the write that dropped it has committed; a sweep at start-up removes what a crash
between the two left behind.

Ingested photos stay where the merchant keeps them: only this store is ever cleaned.
Every product photo, stored or ingested, is served from here too: as it is, or as a JPEG
thumbnail made once and cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from shelfsight.core.errors import BadInput, ImageChanged, NotFound
from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.indexer.images import (
    DecodedImage,
    ImageError,
    decode_bytes,
    decode_image,
    read_image_file,
)
from shelfsight.indexer.review_inbox import held_image_paths
from shelfsight.indexer.workspace import Workspace, atomic_path

THUMB_SIZES = {"thumb": 256, "medium": 640}
FORMAT_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}


class ImageMissing(NotFound):
    error = "image missing"


def stored_image_path(workspace: Workspace, sha256: str, fmt: str | None) -> Path:
    """Where an uploaded image lives: named by its hash, never by anything the client sent."""
    return workspace.stored_image(sha256, FORMAT_SUFFIX.get(fmt or "", ".img"))


def as_stored(image: Any) -> tuple[DecodedImage, bytes]:
    """An image to store (a path, bytes, a PIL image, an array, or an already decoded
    (image, bytes) pair): its decoded form and the bytes that go on disk."""
    if isinstance(image, tuple) and len(image) == 2 and isinstance(image[0], DecodedImage):
        return image
    if isinstance(image, str | os.PathLike):
        data = read_image_file(Path(image))
        return decode_bytes(data), data
    if isinstance(image, bytes | bytearray | memoryview):
        return decode_bytes(bytes(image)), bytes(image)
    picture = decode_image(image).image  # PIL or numpy: kept as a lossless PNG
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    data = buffer.getvalue()
    return decode_bytes(data), data


def store(workspace: Workspace, image: DecodedImage, data: bytes) -> dict[str, Any]:
    """Write an uploaded photo into the store (once per content) and return the fields
    its product records about it."""
    path = stored_image_path(workspace, image.sha256, image.format)
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return {
        "image_path": str(path),
        "image_sha256": image.sha256,
        "width": image.width,
        "height": image.height,
    }


def check_size(size: str) -> None:
    if size != "full" and size not in THUMB_SIZES:
        raise BadInput(f"size must be full or one of {sorted(THUMB_SIZES)}")


def product_image(workspace: Workspace, product: Product, size: str = "full") -> tuple[bytes, str]:
    """A product's photo as (bytes, media type): the file as ingested (``full``), or a
    JPEG thumbnail (``thumb`` 256 px, ``medium`` 640 px) made once and cached.

    ``ImageMissing`` when the file is gone; ``ImageChanged`` when the file at that path is
    no longer the image the catalogue recorded (replaced, truncated)."""
    check_size(size)
    if not product.image_path or not product.image_sha256:
        raise ImageMissing(f"{product.id!r} has no image")
    cache = workspace.thumbnail(product.image_sha256, size)
    if size != "full" and cache.is_file():
        return cache.read_bytes(), "image/jpeg"
    data = _stored_bytes(product)
    try:
        if size == "full":
            with PILImage.open(io.BytesIO(data)) as probe:  # the header only
                fmt = probe.format or "JPEG"
            return data, f"image/{fmt.lower()}"
        thumb = decode_bytes(data).image
    except (ImageError, OSError) as exc:
        raise ImageChanged(f"the image of {product.id!r}: {exc}") from None
    thumb.thumbnail((THUMB_SIZES[size], THUMB_SIZES[size]))
    with atomic_path(cache) as tmp:
        thumb.save(tmp, "JPEG", quality=85)
    return cache.read_bytes(), "image/jpeg"


def _stored_bytes(product: Product) -> bytes:
    try:
        data = read_image_file(Path(str(product.image_path)))
    except ImageError as exc:
        if exc.reason == "missing image":
            raise ImageMissing(f"the image of {product.id!r} is not on disk") from None
        raise ImageChanged(f"the image of {product.id!r}: {exc}") from None
    if hashlib.sha256(data).hexdigest() != product.image_sha256:
        raise ImageChanged(f"the file of {product.id!r} changed after ingest; ingest it again")
    return data


def _unused_files(workspace: Workspace, catalogue: Catalogue, sha256: str) -> list[Path]:
    held = {str(p) for p in catalogue.image_paths_with_sha(sha256)}
    copies = [str(p) for p in (workspace.home / "images" / sha256[:2]).glob(f"{sha256}.*")]
    held |= held_image_paths(catalogue, copies)  # photos waiting in the review inbox
    # The same picture may also be ingested from the merchant's folder: that product
    # keeps the thumbnails, not the stored copy.
    stored = [Path(p) for p in copies if p not in held]
    thumbs = [] if held else list((workspace.cache_dir / "thumbs").glob(f"{sha256}-*.jpg"))
    return [*stored, *thumbs]


def forget(workspace: Workspace, catalogue: Catalogue, shas: Iterable[str | None]) -> int:
    """Remove the stored photos (and thumbnails) of ``shas`` that no product holds;
    the number of files removed. Call under the writer lock, after the commit."""
    removed = 0
    for sha in {s for s in shas if s}:
        for path in _unused_files(workspace, catalogue, sha):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


def sweep(workspace: Workspace, catalogue: Catalogue) -> int:
    """``forget`` every photo in the store and every thumbnail: what no product holds goes."""
    shas = {p.name.split(".")[0] for p in (workspace.home / "images").glob("*/*") if p.is_file()}
    shas |= {p.name.split("-")[0] for p in (workspace.cache_dir / "thumbs").glob("*.jpg")}
    return forget(workspace, catalogue, shas)
