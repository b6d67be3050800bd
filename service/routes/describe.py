"""Listing descriptions: write one for a photo, a catalogue product or a title, and say
whether the describer is ready."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from msgspec import Meta

from shelfsight.indexer.listings import MAX_TITLE
from shelfsight.library import Shelfsight
from shelfsight.service.http.responses import ERROR_RESPONSES, DescriberStatus
from shelfsight.service.http.slow_work import run_slow
from shelfsight.service.http.state import ServiceState
from shelfsight.service.http.uploads import ApiError, read_image
from shelfsight.tagging.describe.writer import Description


@dataclass
class DescribeForm:
    """Every text field has a maximum length (a 400 beyond it): a 5 MB title cost 42 s of
    CPU before these existed."""

    image: UploadFile | None = None
    product_id: Annotated[str, Meta(max_length=128)] | None = None
    title: Annotated[str, Meta(max_length=MAX_TITLE)] | None = None
    brand: Annotated[str, Meta(max_length=100)] | None = None
    gender: Annotated[str, Meta(max_length=50)] | None = None
    colour: Annotated[str, Meta(max_length=50)] | None = None
    length: Annotated[str, Meta(max_length=20)] = "house"
    tone: Annotated[str, Meta(max_length=20)] = "neutral"
    k: int = 5
    force: bool = False  # describe an out-of-domain photo anyway
    # Details a person confirmed (from the answer's ``to_confirm``): "slot=value" lines.
    details: Annotated[str, Meta(max_length=2000)] | None = None


MAX_DETAILS = 20


def confirmed_details(text: str | None) -> dict[str, str]:
    """``sleeve=long`` lines (or ``;``-separated) as facts; a malformed line is a 400."""
    out: dict[str, str] = {}
    for line in (text or "").replace(";", "\n").splitlines():
        if not line.strip():
            continue
        slot, sep, value = line.partition("=")
        slot, value = " ".join(slot.split()), " ".join(value.split())
        if not sep or not slot or not value or len(slot) > 60 or len(value) > 60:
            raise ApiError(400, "bad details", f"expected slot=value, got {line[:80]!r}")
        out[slot] = value
    if len(out) > MAX_DETAILS:
        raise ApiError(400, "bad details", f"at most {MAX_DETAILS} confirmed details")
    return out


class DescribeController(Controller):
    path = "/describe"
    tags = ("descriptions",)

    @get("/status", sync_to_thread=False, responses=ERROR_RESPONSES, summary="Describer status")
    def describe_status(self, shelf: Shelfsight) -> DescriberStatus:
        """Whether the describer is ready: off, idle, loading (its model), ready or failed."""
        return DescriberStatus(**shelf.describer_state)

    @post("/", status_code=200, responses=ERROR_RESPONSES, summary="Describe a product")
    async def describe(
        self,
        service: ServiceState,
        data: Annotated[DescribeForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Description:
        """Write a listing description for a catalogue product (``product_id``), an
        uploaded photo (``image``) or a title alone, grounded in its neighbours'
        listings. The answer gives the text, the facts it rests on, the claims the guard
        removed and ``to_confirm``: details the neighbours agree on that this product's
        facts cannot decide (send one back as a field to state it)."""
        shelf, settings = service.shelf, service.settings
        if not settings.describe:
            raise ApiError(
                503, "descriptions are off", "this server runs with SHELFSIGHT_DESCRIBE=0"
            )
        if not 1 <= int(data.k) <= 20:
            raise ApiError(400, "bad k", "k must be between 1 and 20")
        given = (("brand", data.brand), ("gender", data.gender), ("colour", data.colour))
        fields = {**confirmed_details(data.details), **{n: v for n, v in given if v}}
        upload = data.image if isinstance(data.image, UploadFile) else None
        target: Any = None
        if upload is not None:
            limits = (settings.max_upload_bytes, settings.max_pixels)
            target, _ = await read_image(upload, *limits)
        elif data.product_id:
            target = shelf.product(data.product_id).id
        elif not data.title:
            raise ApiError(400, "nothing to describe", "send an image, a product_id or a title")

        def work() -> Description:
            return shelf.describe(
                target,
                title=data.title,
                fields=fields,
                k=data.k,
                force=data.force,
                length=data.length,
                tone=data.tone,
            )

        return await run_slow(service, work, settings.slow_timeout + 30)  # + model load
