"""Checking what clients upload before any of it is used: size, declared type, pixels."""

from __future__ import annotations

from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException

from shelfsight.core.settings import MB
from shelfsight.indexer.images import DecodedImage, ImageError, decode_bytes
from shelfsight.service import errors

IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"}


class ApiError(HTTPException):
    """A client error with a short stable ``error`` and a human ``detail``."""

    def __init__(
        self,
        status_code: int,
        error: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            status_code=status_code, detail=detail or error, extra={"error": error}, headers=headers
        )
        self.error = error


def not_a_picture_type(field: str, content_type: str | None) -> ApiError | None:
    """A 415 for a part whose declared type is not a picture (no type, or a generic
    binary one, is left to the decoder)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype and ctype not in IMAGE_TYPES and ctype != "application/octet-stream":
        return ApiError(415, "unsupported media type", f"{field}: a {ctype} file is not a picture")
    return None


def too_large(field: str, max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "upload too large",
        f"{field}: the file is larger than {max_bytes / MB:g} MB, the most this server "
        "accepts per photo",
    )


def image_error(exc: ImageError) -> ApiError:
    return ApiError(errors.http_status(exc), exc.reason, errors.detail(exc))


async def read_image(
    upload: UploadFile | None, max_bytes: int, max_pixels: int, field: str = "image"
) -> tuple[DecodedImage, bytes]:
    if upload is None or not hasattr(upload, "read"):
        raise ApiError(400, "missing image", f"send the photo as a multipart file field {field!r}")
    refused = not_a_picture_type(field, upload.content_type)
    if refused is not None:
        raise refused
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large(field, max_bytes)
    try:
        return decode_bytes(data, max_pixels=max_pixels), data
    except ImageError as exc:
        raise image_error(exc) from None
