"""Reading a ``POST /tag/batch`` body part by part, as it streams in.

Litestar's own form parsing turns a file part with an empty file name into a text field
(so one such photo failed the whole batch with a decoding error) and answers too many
parts with a 400. Read here instead, each photo goes to a spooled temporary file as it
arrives (kept in memory up to 1 MB, on disk beyond), is checked for its declared type and
size, and is probed for its pixel count from its header alone, so a request's whole cost
is known before any photo is decoded: decoding happens later, one batch of photos at a
time, down to a bounded working copy (``indexer.images``).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO, Any

from litestar import Request
from litestar._multipart import parse_content_header
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from shelfsight.core.errors import Skip
from shelfsight.indexer.images import ImageError, probe_pixels
from shelfsight.service.http.uploads import ApiError, not_a_picture_type, too_large

SPOOL_BYTES = 1024 * 1024


class BatchOperation(Operation):
    """The body ``tag_batch`` reads itself, part by part, as OpenAPI should show it."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["images"],
                        properties={
                            "images": Schema(
                                type=OpenAPIType.ARRAY,
                                items=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                                description="The photos, each a file part named images.",
                            )
                        },
                    )
                )
            },
        )


@dataclass
class Photo:
    """One file part: its bytes (spooled), or why it cannot be tagged."""

    name: str
    file: IO[bytes] | None = None
    pixels: int = 0
    skip: Skip | None = None


@dataclass
class BatchForm:
    photos: list[Photo] = field(default_factory=list)

    def close(self) -> None:
        for photo in self.photos:
            if photo.file is not None:
                photo.file.close()

    @property
    def pixels(self) -> int:
        return sum(p.pixels for p in self.photos)


async def _chunks(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk
    yield b""  # the parser's end of input (Litestar's stream ends with one b"" too)


async def read_batch(
    request: Request[Any, Any, Any],
    field_name: str,
    max_photos: int,
    max_bytes: int,
    max_pixels: int,
) -> BatchForm:
    """Every ``field_name`` part of a multipart body as a ``Photo``; other parts are
    ignored. More than ``max_photos`` parts is a 413 before the rest is read."""
    ctype, params = parse_content_header(request.headers.get("content-type", ""))
    boundary = params.get("boundary")
    if ctype != "multipart/form-data" or not boundary:
        raise ApiError(
            400, "missing images", "send the photos as multipart/form-data file parts 'images'"
        )
    form = BatchForm()
    photo: Photo | None = None
    size = 0
    try:
        # The part limit leaves room for a few other fields beside the photos.
        with PushMultipartParser(boundary, max_segment_count=max_photos + 10) as parser:
            async for chunk in _chunks(request):
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        photo, size = _begin(form, part, field_name, max_photos), 0
                    elif part and photo is not None and photo.file is not None:
                        size += len(part)
                        if size > max_bytes:
                            photo.file.close()
                            photo.file = None
                            photo.skip = _skip(photo.name, too_large(photo.name, max_bytes))
                        else:
                            photo.file.write(part)
                    elif not part and photo is not None:  # the end of a part
                        _finish(photo, size, max_pixels)
                        photo = None
            if not parser.closed:
                raise ApiError(400, "bad multipart", "the multipart body ended early")
    except ParserLimitReached:
        form.close()
        raise ApiError(
            413, "too many photos", f"too many parts in one request; send at most {max_photos}"
        ) from None
    except ParserError as exc:
        form.close()
        raise ApiError(400, "bad multipart", f"unreadable multipart body ({exc})") from None
    except BaseException:
        form.close()
        raise
    return form


def _skip(name: str, refused: ApiError) -> Skip:
    """The refusal ``/tag`` would answer for this photo, as its batch item."""
    return Skip(refused.error, refused.detail, id=name)


def _begin(form: BatchForm, part: MultipartSegment, field_name: str, limit: int) -> Photo | None:
    if part.name != field_name:
        return None
    n = len(form.photos) + 1
    if n > limit:
        form.close()
        raise ApiError(
            413, "too many photos", f"more than {limit} photos in one request; send at most {limit}"
        )
    if not part.filename:
        # A browser sends an empty file input as a part with no file name; it skips
        # itself, the other photos go ahead.
        photo = Photo(f"image-{n}")
        photo.skip = Skip(
            "not a file",
            f"part {n} has no file name: send each photo as a file part",
            id=photo.name,
        )
    else:
        photo = Photo(part.filename[:255])
        refused = not_a_picture_type(photo.name, part.content_type)
        if refused is not None:
            photo.skip = _skip(photo.name, refused)
        else:
            # Closed by BatchForm.close, after the batch is tagged.
            photo.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    form.photos.append(photo)
    return photo


def _finish(photo: Photo, size: int, max_pixels: int) -> None:
    if photo.file is None:
        return
    if size == 0:
        photo.file.close()
        photo.file = None
        photo.skip = Skip("empty image file", "the file is empty (0 bytes)", id=photo.name)
        return
    photo.file.seek(0)
    try:
        photo.pixels = probe_pixels(photo.file, max_pixels)
    except ImageError as exc:
        photo.file.close()
        photo.file = None
        photo.skip = Skip(exc.reason, exc.detail, id=photo.name)
        return
    photo.file.seek(0)
