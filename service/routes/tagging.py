"""Tagging uploaded photos: one (``/tag``, OCR included) or a batch (``/tag/batch``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from msgspec import Meta

from shelfsight.indexer.listings import MAX_TITLE
from shelfsight.indexer.photo_ids import MAX_PHOTOS
from shelfsight.service.http.batch_upload import BatchOperation, read_batch
from shelfsight.service.http.deps import (
    OPTIONAL_API_KEY,
    AttributesParam,
    KParam,
    in_thread,
    linked,
    require_api_key,
)
from shelfsight.service.http.responses import ERROR_RESPONSES
from shelfsight.service.http.slow_work import run_slow
from shelfsight.service.http.state import ServiceState
from shelfsight.service.http.uploads import ApiError, read_image
from shelfsight.tagging.neighbour_tags.pipeline import pipeline_options
from shelfsight.tagging.results import BatchItem, BatchResult, TagResult

MAX_TEXT = 5000
ReviewParam = Annotated[
    float | None,
    Parameter(
        ge=0.0,
        le=1.0,
        description="Flag tags below this score for review (default: per-family fitted).",
    ),
]

KeepParam = Annotated[
    bool,
    Parameter(
        description="Keep each tagged photo and its suggestions in the review inbox "
        "(a write: needs the API key); the answer carries the item's number."
    ),
]


def check_keep(request: ASGIConnection[Any, Any, Any, Any], keep: bool) -> None:
    """Keeping writes to the workspace: the writes' key, checked before the upload is read."""
    if keep:
        require_api_key(request, None)  # type: ignore[arg-type]


@dataclass
class TagForm:
    """A photo (or up to eight of one product: several ``image`` parts), the listing's
    words, or both."""

    image: list[UploadFile] | None = None
    title: Annotated[str, Meta(max_length=MAX_TITLE)] | None = None
    text: Annotated[str, Meta(max_length=MAX_TEXT)] | None = None  # description, brand...


class TagController(Controller):
    path = "/tag"
    tags = ("tagging",)

    @post(
        "/",
        status_code=200,
        responses=ERROR_RESPONSES,
        summary="Tag a photo",
        security=OPTIONAL_API_KEY,
    )
    async def tag(
        self,
        request: Request[Any, Any, Any],
        service: ServiceState,
        data: Annotated[TagForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        k: KParam = 10,
        attributes: AttributesParam = "colour,shape",
        review_threshold: ReviewParam = None,
        keep: KeepParam = False,
    ) -> TagResult:
        """Multipart: ``image`` (a photo; several ``image`` parts are one product seen in
        several photos, at most eight, fused: each catalogue product counts at its closest
        pair of photos), ``title`` and ``text`` (the listing's words, fused with the photo
        where they inform); words without a photo are tagged alone."""
        check_keep(request, keep)
        shelf, settings = service.shelf, service.settings
        changes = {"k": k, "attributes": attributes, "review_threshold": review_threshold}
        opts = pipeline_options(None, {**changes, "ocr_timeout": settings.slow_timeout})
        title, text = data.title, [data.text] if data.text else []
        image: Any = None
        upload: Any = None  # the photo as sent: what the inbox keeps
        parts = data.image if isinstance(data.image, list) else [data.image]
        parts = [p for p in parts if isinstance(p, UploadFile)]
        if len(parts) > MAX_PHOTOS:
            raise ApiError(
                413, "too many photos", f"at most {MAX_PHOTOS} photos of one product per request"
            )
        if parts:
            limits = (settings.max_upload_bytes, settings.max_pixels)
            photos = [await read_image(part, *limits) for part in parts]
            upload = photos[0]
            image = photos[0][0] if len(photos) == 1 else [p[0] for p in photos]
        elif not data.title and not data.text:
            raise ApiError(400, "nothing to tag", "send an image, a title or text")

        def work() -> TagResult:
            result = shelf.tag(image, opts, title=title, text=text)
            linked(result.neighbours)
            if keep:
                words = [" ".join(text)]
                (result.review_item,) = shelf.review.keep([result], [upload], [title or ""], words)
            return result

        if "ocr" in opts.attributes and parts:
            return await run_slow(service, work, settings.slow_timeout + 5)
        return await in_thread(work)


class TagBatchController(Controller):
    """Registered under its own body limit (``SHELFSIGHT_MAX_BATCH_BYTES``): a batch
    carries many photos."""

    path = "/tag/batch"
    tags = ("tagging",)

    @post(
        "/",
        status_code=200,
        responses=ERROR_RESPONSES,
        operation_class=BatchOperation,
        summary="Tag many photos",
        security=OPTIONAL_API_KEY,
    )
    async def tag_batch(
        self,
        request: Request[Any, Any, Any],
        service: ServiceState,
        k: KParam = 10,
        attributes: AttributesParam = "colour,shape",
        keep: KeepParam = False,
    ) -> BatchResult:
        """Multipart: up to ``SHELFSIGHT_MAX_BATCH`` (50) photos, each a file part named
        ``images``, of at most ``SHELFSIGHT_MAX_BATCH_PIXELS`` (600 MP) together (413
        beyond either). One item per photo, in order: its tags, or why it was skipped (a
        photo that cannot be read never fails the others)."""
        check_keep(request, keep)
        shelf, cfg = service.shelf, service.settings
        opts = pipeline_options(None, {"k": k, "attributes": attributes})
        if "ocr" in opts.attributes:
            raise ApiError(400, "bad attributes", "OCR takes a second a photo: use /tag for it")
        form = await read_batch(
            request, "images", cfg.max_batch, cfg.max_upload_bytes, cfg.max_pixels
        )
        try:
            if not form.photos:
                raise ApiError(
                    400, "missing images", "send the photos as file parts named 'images'"
                )
            if form.pixels > cfg.max_batch_pixels:
                raise ApiError(
                    413,
                    "too many pixels",
                    f"the photos hold {form.pixels / 1e6:.0f} megapixels together, more than "
                    f"the {cfg.max_batch_pixels / 1e6:g} accepted in one request; send fewer "
                    "or smaller",
                )
            named = [(p.name, p.file) for p in form.photos if p.file is not None]

            def work() -> list[BatchItem]:
                # Decoded a batch at a time, as the model gets to them (not all up front).
                done = iter(shelf.tag_batch(named, options=opts))
                items = [
                    BatchItem(p.name, skipped=p.skip) if p.skip is not None else next(done)
                    for p in form.photos
                ]
                for item in items:
                    if item.result is not None:
                        linked(item.result.neighbours)
                if keep:
                    _keep_batch(shelf, form.photos, items)
                return items

            items = await in_thread(work)
        finally:
            form.close()
        tagged = sum(item.result is not None for item in items)
        columns = shelf.batch_columns(opts.attributes)
        return BatchResult(items, tagged, len(items) - tagged, columns)


def _keep_batch(shelf: Any, photos: list[Any], items: list[BatchItem]) -> None:
    """The tagged photos of a batch kept for review, all in one transaction."""
    kept = [(p, i) for p, i in zip(photos, items, strict=True) if i.result is not None]
    data = []
    for photo, _ in kept:
        photo.file.seek(0)
        data.append(photo.file.read())  # within the request's own size limit
    ids = shelf.review.keep([i.result for _, i in kept], data)
    for (_, item), item_id in zip(kept, ids, strict=True):
        assert item.result is not None
        item.result.review_item = item_id
