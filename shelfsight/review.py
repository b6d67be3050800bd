"""The review inbox through the library (issue 27, in progress): keep what tagging
suggested for a new product, then accept (the product joins the catalogue and the index
at once, so the next similar photo is tagged from it), correct, reject or undo.

The store is ``indexer.review_inbox``; a kept photo is written to the workspace's image
store like an upload. Not yet built: the CLI and HTTP routes, the page, thresholds
refitted from decisions, ``eval stream``; the start-up sweep of unused stored photos
must learn that a pending item holds its photo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from shelfsight.core.errors import BadInput
from shelfsight.indexer import image_store
from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.indexer.review_inbox import ReviewInbox, ReviewItem, Suggestion
from shelfsight.indexer.workspace import Workspace
from shelfsight.tagging.results import TagResult


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
        paths: list[str | None] = []
        for image in images:
            if image is None:
                paths.append(None)
                continue
            decoded, data = image_store.as_stored(image)
            paths.append(image_store.store(self.shelf.workspace, decoded, data)["image_path"])
        return self.inbox.keep(
            [suggestions(r) for r in results],
            titles=list(titles) or [""] * len(results),
            texts=list(texts) or [""] * len(results),
            image_paths=paths,
        )

    def items(self, **filters: Any) -> list[ReviewItem]:
        return self.inbox.items(**filters)

    def get(self, item_id: int) -> ReviewItem:
        item = self.inbox.get(item_id)
        if item is None:
            raise BadInput(f"no review item {item_id}")
        return item

    def accept(
        self,
        item_id: int,
        corrections: Mapping[str, str] | None = None,
        product_id: str | None = None,
        by: str = "",
    ) -> ReviewItem:
        """The item's tags (its suggestions, with ``corrections``) become a catalogue
        product (``product_id``, default ``review-<item>``), embedded and indexed now."""
        item = self.get(item_id)
        if item.status != "pending":
            raise BadInput(f"review item {item_id} is already {item.status}")
        unknown = set(corrections or {}) - set(item.suggested)
        if unknown:
            raise BadInput(f"no suggested tag for {', '.join(sorted(unknown))}")
        final = {f: s.value for f, s in item.suggested.items()} | dict(corrections or {})
        pid = product_id or f"review-{item_id}"
        listing = {"id": pid, "title": item.title or pid, "tags": final}
        # Idempotent if a crash falls between the two writes: the same listing again.
        self.shelf.add([listing], [item.image_path])
        return self.inbox.decide(item_id, final, by=by, product_id=pid)

    def reject(self, item_id: int, by: str = "") -> ReviewItem:
        return self.inbox.decide(item_id, None, by=by)

    def undo(self, item_id: int) -> ReviewItem:
        """An accept or reject taken back: the product an accept added leaves the
        catalogue and the index."""
        item = self.get(item_id)
        if item.status == "accepted" and item.product_id:
            self.shelf.delete(item.product_id)
        return self.inbox.undo(item_id)

    def stats(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.inbox.stats()
