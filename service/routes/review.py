"""The review inbox over HTTP: list and read items (public, paged), decide on them and
export the decisions (API key). Items come from ``POST /tag?keep=true`` and
``POST /tag/batch?keep=true``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import Parameter

from shelfsight.core.errors import BadInput
from shelfsight.indexer.images import ImageError, read_image_file
from shelfsight.indexer.review_inbox import STATUSES, ReviewItem
from shelfsight.library import Shelfsight
from shelfsight.service.http.deps import API_KEY, in_thread, require_api_key
from shelfsight.service.http.responses import ERROR_RESPONSES

MAX_PAGE = 200
MAX_BULK = 200
PICK_LIST = 60  # values offered per family: the runner-ups first, then the commonest


@dataclass
class SuggestedTag:
    value: str
    score: float
    review: bool
    alternatives: list[tuple[str, float]]
    held: bool = False
    audit: float = 0.0
    threshold: float | None = None
    choices: list[str] = field(default_factory=list)  # the pick list, runner-ups first


@dataclass
class InboxItem:
    id: int
    status: str
    title: str
    image: str | None  # where the page fetches the kept photo
    suggested: dict[str, SuggestedTag]
    flagged: list[str]
    created_at: str
    decided_at: str | None = None
    decided_by: str | None = None
    product_id: str | None = None


@dataclass
class InboxPage:
    items: list[InboxItem]
    counts: dict[str, int]  # items per status


@dataclass
class Accepted:
    items: list[InboxItem]


@dataclass
class ReviewStats:
    """``families``: family -> ISO week (``2026-W49``) or ``all`` -> decisions, flagged,
    flagged_kept, unflagged, unflagged_kept and the two kept shares; ``thresholds``:
    ``family/route`` -> what the decisions taught (``tagging.neighbour_tags.outcomes``)."""

    items: dict[str, int]
    families: dict[str, dict[str, dict[str, Any]]]
    thresholds: dict[str, dict[str, Any]]


@dataclass
class Decision:
    """An accept: ``corrections`` (family -> value; a new value joins the family),
    the new product's ``product_id`` (default ``review-<item>``), who decided."""

    corrections: dict[str, str] = field(default_factory=dict)
    product_id: str | None = None
    by: str = ""


@dataclass
class BulkAccept:
    """Accept these items as suggested (the page's "accept all unflagged")."""

    items: list[int]
    by: str = ""


def _out(item: ReviewItem, choices: dict[str, list[str]] | None = None) -> InboxItem:
    suggested = {}
    for family, s in item.suggested.items():
        picks: list[str] = []
        if choices is not None and family in choices:
            runner_ups = [v for v, _ in s.alternatives]
            seen = {s.value, *runner_ups}
            picks = [s.value, *runner_ups, *[v for v in choices[family] if v not in seen]]
        suggested[family] = SuggestedTag(
            s.value,
            round(s.score, 4),
            s.review,
            [(v, round(sc, 4)) for v, sc in s.alternatives],
            s.held,
            s.audit,
            s.threshold,
            picks[:PICK_LIST],
        )
    return InboxItem(
        item.id,
        item.status,
        item.title,
        f"/review/{item.id}/image" if item.image_path else None,
        suggested,
        item.flagged,
        item.created_at,
        item.decided_at,
        item.decided_by,
        item.product_id,
    )


class ReviewController(Controller):
    path = "/review"
    tags = ("review",)

    @get("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List review items")
    def list_items(
        self,
        shelf: Shelfsight,
        status: Annotated[
            str, Parameter(max_length=10, description=", ".join(STATUSES))
        ] = "pending",
        needs_review: bool | None = None,
        family: Annotated[str | None, Parameter(max_length=100)] = None,
        value: Annotated[str | None, Parameter(max_length=200)] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
    ) -> InboxPage:
        """A page of items, oldest first, filtered by status, flag, family and value."""
        review = shelf.review
        items = review.items(
            status=status,
            needs_review=needs_review,
            family=family,
            value=value,
            limit=limit,
            offset=offset,
        )
        return InboxPage([_out(i) for i in items], review.counts())

    @get("/stats", sync_to_thread=True, responses=ERROR_RESPONSES, summary="Review statistics")
    def stats(self, shelf: Shelfsight) -> ReviewStats:
        """Per family and ISO week: suggestions kept unchanged, flagged and unflagged
        apart, with counts; the inbox's counts; the thresholds learnt from decisions."""
        return ReviewStats(**shelf.review.stats())

    @get(
        "/export",
        guards=[require_api_key],
        security=API_KEY,
        sync_to_thread=True,
        media_type="text/csv",
        responses=ERROR_RESPONSES,
        summary="Export review decisions",
    )
    def export(
        self,
        shelf: Shelfsight,
        format: Annotated[str, Parameter(max_length=5, description="csv or jsonl")] = "csv",
    ) -> Response[str]:
        """Every decision (API key): suggested value and score, final value, changed,
        looked at, by whom, when."""
        text = shelf.review.export(format)
        media = "text/csv" if format == "csv" else "application/x-ndjson"
        disposition = {"Content-Disposition": f'attachment; filename="decisions.{format}"'}
        return Response(text, media_type=media, headers=disposition)

    @get(
        "/{item_id:int}",
        sync_to_thread=True,
        responses=ERROR_RESPONSES,
        summary="Get a review item",
    )
    def get_item(self, shelf: Shelfsight, item_id: int) -> InboxItem:
        """One item, each family with its pick list (the runner-ups first, then the
        catalogue's values, commonest first)."""
        item = shelf.review.get(item_id)
        choices = {f: list(shelf.catalogue.value_counts(f)) for f in item.suggested}
        return _out(item, choices)

    @get(
        "/{item_id:int}/image",
        sync_to_thread=True,
        media_type="image/jpeg",
        responses=ERROR_RESPONSES,
        summary="A review item's photo",
    )
    def get_image(self, shelf: Shelfsight, item_id: int) -> Response[bytes]:
        """The photo kept with a review item, as stored."""
        item = shelf.review.get(item_id)
        if not item.image_path:
            raise BadInput(f"review item {item_id} has no photo")
        try:
            data = read_image_file(Path(item.image_path))
        except ImageError as exc:
            raise BadInput(f"the photo of review item {item_id}: {exc}") from None
        kind = Path(item.image_path).suffix.lstrip(".").lower().replace("jpg", "jpeg")
        return Response(data, media_type=f"image/{kind or 'jpeg'}")

    @post(
        "/{item_id:int}/accept",
        guards=[require_api_key],
        security=API_KEY,
        status_code=200,
        responses=ERROR_RESPONSES,
        summary="Accept a review item",
    )
    async def accept(self, shelf: Shelfsight, item_id: int, data: Decision) -> InboxItem:
        """Accept (with ``corrections``): the product joins the catalogue and the index
        at once, so the next similar photo is tagged from it."""
        done = await in_thread(
            lambda: shelf.review.accept(
                item_id, data.corrections, data.product_id, data.by, background=True
            )
        )
        return _out(done)

    @post(
        "/accept",
        guards=[require_api_key],
        security=API_KEY,
        status_code=200,
        responses=ERROR_RESPONSES,
        summary="Accept many review items",
    )
    async def accept_many(self, shelf: Shelfsight, data: BulkAccept) -> Accepted:
        """Accept many items as suggested, one catalogue write; only their flagged tags
        count as looked at."""
        if not data.items or len(data.items) > MAX_BULK:
            raise BadInput(f"send 1 to {MAX_BULK} item numbers")
        if len(set(data.items)) != len(data.items):
            raise BadInput("an item is named twice")
        done = await in_thread(
            lambda: shelf.review.accept_many(
                [(i, {}, None) for i in data.items], by=data.by, bulk=True, background=True
            )
        )
        return Accepted([_out(i) for i in done])

    @post(
        "/{item_id:int}/reject",
        guards=[require_api_key],
        security=API_KEY,
        status_code=200,
        responses=ERROR_RESPONSES,
        summary="Reject a review item",
    )
    async def reject(
        self, shelf: Shelfsight, item_id: int, data: Decision | None = None
    ) -> InboxItem:
        """Reject an item (API key): nothing joins the catalogue; the decision is kept,
        and can be undone."""
        done = await in_thread(lambda: shelf.review.reject(item_id, data.by if data else ""))
        return _out(done)

    @post(
        "/{item_id:int}/undo",
        guards=[require_api_key],
        security=API_KEY,
        status_code=200,
        responses=ERROR_RESPONSES,
        summary="Undo a review decision",
    )
    async def undo(self, shelf: Shelfsight, item_id: int) -> InboxItem:
        """Take a decision back; an accepted item's product leaves catalogue and index."""
        return _out(await in_thread(lambda: shelf.review.undo(item_id, background=True)))
