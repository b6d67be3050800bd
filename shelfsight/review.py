"""The review inbox through the library: keep what tagging suggested for new products,
then accept (the product joins the catalogue and the index at once, so the next similar
photo is tagged from it), correct, reject or undo; every decision refits the review
thresholds from the merchant's own outcomes (``tagging.neighbour_tags.outcomes``).

The store is ``indexer.review_inbox``, in the catalogue's database; a kept photo is
written to the workspace's image store like an upload, and held there while its item
exists (``image_store.sweep`` knows).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from shelfsight.core.errors import BadInput
from shelfsight.indexer import image_store
from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.indexer.listings import MAX_TITLE
from shelfsight.indexer.review_inbox import ReviewInbox, ReviewItem, Suggestion, UnknownItem
from shelfsight.indexer.workspace import Workspace
from shelfsight.tagging.neighbour_tags.outcomes import (
    Outcomes,
    fit_outcomes,
    load_outcomes,
    store_outcomes,
)
from shelfsight.tagging.results import TagResult

log = logging.getLogger(__name__)
EXPORT_FORMATS = ("csv", "jsonl")
# The newest decisions a refit reads: its cost stays bounded however long the inbox
# has been in use (about a second; the fit keeps the newest 3,000 a route anyway).
REFIT_DECISIONS = 50_000
EXPORT_FIELDS = (
    "item_id",
    "product_id",
    "title",
    "family",
    "suggested",
    "score",
    "flagged",
    "final",
    "changed",
    "looked",
    "held",
    "threshold",
    "audit",
    "source",
    "decided_by",
    "decided_at",
)


class Writes(Protocol):
    """What the inbox needs of an open workspace (``Shelfsight``)."""

    catalogue: Catalogue

    @property
    def workspace(self) -> Workspace: ...

    def add(
        self, items: Any, images: Any = None, mode: str = "replace"
    ) -> list[dict[str, Any]]: ...

    def delete(self, product_id: str) -> Product: ...


def suggestions(result: TagResult) -> dict[str, Suggestion]:
    """A tag answer's families as the inbox keeps them."""
    return {
        family: Suggestion(
            t.value,
            float(t.score),
            bool(t.review),
            [(a.value, float(a.score)) for a in t.alternatives],
            t.source,
            t.held,
            t.threshold,
            t.audit,
        )
        for family, t in result.tags.items()
    }


class Review:
    """The inbox of one open workspace."""

    def __init__(self, shelf: Writes) -> None:
        self.shelf = shelf
        self.inbox = ReviewInbox(shelf.catalogue)

    def keep(
        self,
        results: Sequence[TagResult],
        images: Sequence[Any | None],
        titles: Sequence[str] = (),
        texts: Sequence[str] = (),
    ) -> list[int]:
        """Pending items for tagged photos (or listings: ``None`` image), all or none."""
        if len(images) != len(results):
            raise BadInput(f"{len(results)} results but {len(images)} images")
        paths: list[str | None] = []
        for image in images:
            if image is None:
                paths.append(None)
                continue
            decoded, data = image_store.as_stored(image)
            paths.append(image_store.store(self.shelf.workspace, decoded, data)["image_path"])
        # The catalogue's families: what an accept writes and what the thresholds are
        # for (the photo's own colour and shape readings are shown by `tag`, not kept).
        families = set(self.shelf.catalogue.tag_families())
        kept = [{f: s for f, s in suggestions(r).items() if f in families} for r in results]
        return self.inbox.keep(
            kept,
            titles=[(t or "")[:MAX_TITLE] for t in titles] or [""] * len(results),
            texts=list(texts) or [""] * len(results),
            image_paths=paths,
        )

    def items(self, **filters: Any) -> list[ReviewItem]:
        return self.inbox.items(**filters)

    def counts(self) -> dict[str, int]:
        return self.inbox.counts()

    def get(self, item_id: int) -> ReviewItem:
        item = self.inbox.get(item_id)
        if item is None:
            raise UnknownItem(f"no review item {item_id}")
        return item

    def accept(
        self,
        item_id: int,
        corrections: Mapping[str, str] | None = None,
        product_id: str | None = None,
        by: str = "",
        background: bool = False,
    ) -> ReviewItem:
        """The item's tags (its suggestions, with ``corrections``) become a catalogue
        product (``product_id``, default ``review-<item>``), embedded and indexed now."""
        (done,) = self.accept_many(
            [(item_id, corrections or {}, product_id)], by=by, background=background
        )
        return done

    def accept_many(
        self,
        items: Sequence[tuple[int, Mapping[str, str], str | None]],
        by: str = "",
        bulk: bool = False,
        background: bool = False,
    ) -> list[ReviewItem]:
        """Accept several items (id, corrections, product id) with one catalogue write and
        one new index version. ``bulk``: accepted from a list, unseen: only the flagged
        tags (and any corrected) count as looked at when the thresholds are refitted;
        ``background``: refit on another thread (else before returning)."""
        listings: list[dict[str, Any]] = []
        photos: list[str] = []
        decisions: list[tuple[int, Mapping[str, str] | None, str | None, set[str] | None]] = []
        families = set(self.shelf.catalogue.tag_families())  # not the photo's attributes
        for item_id, corrections, product_id in items:
            item = self.inbox.pending(item_id)
            final = {f: s.value for f, s in item.suggested.items()} | _checked(item, corrections)
            looked = set(item.flagged) if bulk else None
            if item.image_path is None:  # words alone: the decision teaches, no product
                decisions.append((item_id, final, None, looked))
                continue
            if product_id and self.shelf.catalogue.get(product_id) is not None:
                # An accept adds a product; overwriting one the merchant has is `add`'s job.
                raise BadInput(f"product {product_id!r} is already in the catalogue")
            pid = product_id or f"review-{item_id}"
            tags = {f: v for f, v in final.items() if f in families}
            listings.append({"id": pid, "title": item.title or pid, "tags": tags})
            photos.append(item.image_path)
            decisions.append((item_id, final, pid, looked))
        if listings:
            # Idempotent if a crash falls between the two writes: the same listings again.
            self.shelf.add(listings, photos)
        done = self.inbox.decide_many(decisions, by)
        self._refit(background)
        return done

    def _refit(self, background: bool) -> None:
        if background:
            self.refit_in_background()
        else:
            self.refit()

    def reject(self, item_id: int, by: str = "") -> ReviewItem:
        return self.inbox.decide(item_id, None, by=by)

    def undo(self, item_id: int, background: bool = False) -> ReviewItem:
        """An accept or reject taken back: the product an accept added leaves the
        catalogue and the index."""
        item = self.get(item_id)
        if item.status == "accepted" and item.product_id:
            self.shelf.delete(item.product_id)
        undone = self.inbox.undo(item_id)
        self._refit(background)
        return undone

    def stats(self) -> dict[str, Any]:
        """Per family and ISO week: how often suggestions were kept, flagged and
        unflagged apart; the inbox's counts; the thresholds learnt so far."""
        outcomes = load_outcomes(self.shelf.catalogue)
        return {
            "items": self.inbox.counts(),
            "families": self.inbox.stats(),
            "thresholds": outcomes.to_json()["routes"] if outcomes else {},
        }

    def refit(self) -> Outcomes:
        """The review thresholds again from the newest decisions (about a second for
        50,000; tagging reads the stored result and never waits on it)."""
        return refit(self.shelf.catalogue)

    def refit_in_background(self) -> None:
        """``refit`` on its own thread and connection (the HTTP service: an accept
        answers at once); refits asked for while one runs are folded into one more."""
        _background.ask(self.shelf.catalogue.path)

    def export(self, fmt: str = "csv") -> str:
        """Every decision as CSV or JSON lines (``EXPORT_FIELDS``)."""
        if fmt not in EXPORT_FORMATS:
            raise BadInput(f"bad export format {fmt!r}; choose {', '.join(EXPORT_FORMATS)}")
        rows = [{k: d.get(k) for k in EXPORT_FIELDS} for d in self.inbox.decisions()]
        if fmt == "jsonl":
            return "".join(json.dumps(r) + "\n" for r in rows)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()


def refit(catalogue: Catalogue) -> Outcomes:
    inbox = ReviewInbox(catalogue)
    outcomes = fit_outcomes(inbox.decisions(REFIT_DECISIONS), catalogue.tag_families())
    store_outcomes(catalogue, outcomes)
    return outcomes


class _Background:
    """At most one refit running per process, and at most one more waiting."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: set[Path] = set()

    def ask(self, path: Path) -> None:
        with self.lock:
            if path in self.waiting:
                return
            self.waiting.add(path)
        threading.Thread(target=self._run, args=(path,), daemon=True).start()

    def _run(self, path: Path) -> None:
        with _REFITTING:
            with self.lock:
                self.waiting.discard(path)
            catalogue = Catalogue(path)
            try:
                refit(catalogue)
            except Exception:  # logged; the stored thresholds stay as they were
                log.exception("refitting the review thresholds failed")
            finally:
                catalogue.close()


_REFITTING = threading.Lock()
_background = _Background()


def _checked(item: ReviewItem, corrections: Mapping[str, str]) -> dict[str, str]:
    unknown = set(corrections) - set(item.suggested)
    if unknown:
        raise BadInput(f"no suggested tag for {', '.join(sorted(unknown))}")
    out = {}
    for family, value in corrections.items():
        text = str(value).strip() if isinstance(value, str) else ""
        if not text or len(text) > 200:
            raise BadInput(f"bad value for {family}: a text of 1 to 200 characters")
        out[family] = text
    return out
