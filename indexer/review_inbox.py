"""The review inbox (issue 27, first brick): what tagging suggested for new products,
kept until a person accepts, corrects or rejects it, and the record of every decision.

Two tables in the catalogue's own database (so an item and the product it becomes can be
written in one transaction, with the catalogue's crash safety): ``review_items`` (one
per kept photo or listing: its words, its suggested tags with scores and review flags,
its status) and ``review_decisions`` (one per item and family once decided: suggested
value and score, whether it was flagged, the final value, whether it changed, by which
key, when). ``stats`` counts, per family and ISO week, how often suggestions were kept
unchanged, flagged and unflagged apart: how far the tool can be trusted on the
merchant's own new products.

The library's ``shelfsight.review`` turns an accept into a catalogue product;
``tagging.neighbour_tags.outcomes`` learns the review thresholds from the decisions.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shelfsight.core.errors import BadInput, NotFound
from shelfsight.indexer.catalogue import Catalogue

STATUSES = ("pending", "accepted", "rejected")
COUNTS = ("decisions", "flagged", "flagged_kept", "unflagged", "unflagged_kept")


class UnknownItem(NotFound):
    error = "no such review item"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Suggestion:
    """One family's suggested tag, as tagging returned it."""

    value: str
    score: float
    review: bool
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    source: str = ""
    held: bool = False  # reviewed whatever its score (out of domain, a new kind...)
    threshold: float | None = None  # the score under which it was sent to review
    audit: float = 0.0  # a spot check, drawn at this share of the tags above the threshold


@dataclass
class ReviewItem:
    id: int
    status: str
    title: str
    text: str
    image_path: str | None
    suggested: dict[str, Suggestion]
    created_at: str
    decided_at: str | None = None
    decided_by: str | None = None
    product_id: str | None = None

    @property
    def flagged(self) -> list[str]:
        return [f for f, s in self.suggested.items() if s.review]


class ReviewInbox:
    """Pending items and decisions, in ``catalogue``'s database."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        db = catalogue.db
        if "review_items" not in db.table_names():
            db.table("review_items").create(
                {
                    "id": int,
                    "status": str,
                    "title": str,
                    "text": str,
                    "image_path": str,
                    "suggested": str,
                    "created_at": str,
                    "decided_at": str,
                    "decided_by": str,
                    "product_id": str,
                },
                pk="id",
                not_null={"status", "suggested", "created_at"},
            )
            db.table("review_items").create_index(["status"])
            db.table("review_items").create_index(["image_path"])
        if "review_decisions" not in db.table_names():
            db.table("review_decisions").create(
                {
                    "item_id": int,
                    "family": str,
                    "suggested": str,
                    "score": float,
                    "flagged": int,
                    "final": str,
                    "changed": int,
                    "source": str,
                    "held": int,
                    "threshold": float,
                    "audit": float,
                    # Whether a person saw the tag: a bulk accept of the unflagged did not,
                    # so its "unchanged" says nothing about being right.
                    "looked": int,
                    "decided_by": str,
                    "decided_at": str,
                },
                pk=("item_id", "family"),
            )
            db.table("review_decisions").create_index(["family", "decided_at"])

    # -- keeping what tagging suggested ------------------------------------------------
    def keep(
        self,
        suggested: Iterable[Mapping[str, Suggestion]],
        *,
        titles: Iterable[str] | None = None,
        texts: Iterable[str] | None = None,
        image_paths: Iterable[str | None] | None = None,
    ) -> list[int]:
        """Store each photo's or listing's suggestions as a pending item, all in one
        transaction (a batch is kept whole or not at all); their ids, in order."""
        rows = list(suggested)
        titles_l = list(titles) if titles is not None else [""] * len(rows)
        texts_l = list(texts) if texts is not None else [""] * len(rows)
        paths_l = list(image_paths) if image_paths is not None else [None] * len(rows)
        if not len(rows) == len(titles_l) == len(texts_l) == len(paths_l):
            raise BadInput(
                "bad review items: suggestions, titles, texts and images differ in number"
            )
        ids = []
        with self.catalogue.transaction():
            table = self.catalogue.db.table("review_items")
            for tags, title, text, path in zip(rows, titles_l, texts_l, paths_l, strict=True):
                table.insert(
                    {
                        "status": "pending",
                        "title": title or "",
                        "text": text or "",
                        "image_path": path,
                        "suggested": json.dumps({f: s.__dict__ for f, s in tags.items()}),
                        "created_at": _now(),
                    }
                )
                assert table.last_pk is not None  # set by every insert
                ids.append(int(table.last_pk))
        return ids

    # -- reading ---------------------------------------------------------------------
    def get(self, item_id: int) -> ReviewItem | None:
        if not 0 < item_id < 2**63:  # no such row, and SQLite could not even bind it
            return None
        rows = list(self.catalogue.db.query("select * from review_items where id = ?", [item_id]))
        return _item(rows[0]) if rows else None

    def items(
        self,
        status: str | None = "pending",
        *,
        needs_review: bool | None = None,
        family: str | None = None,
        value: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ReviewItem]:
        """Items, oldest first: by status, whether any tag (or ``family``'s) is flagged,
        and ``family``'s suggested ``value``; filtered and paged in SQL, so a page costs
        the same however large the inbox grows."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"bad status {status!r}; choose {', '.join(STATUSES)}")
        if value is not None and not family:
            raise BadInput("a value filter needs its family")
        where, args = ["1"], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        tag = f'$."{family}"' if family else ""
        if family and '"' in family:
            raise BadInput(f"bad family {family!r}")
        if tag:
            where.append("json_extract(suggested, ?) is not null")
            args.append(tag)
        if value is not None:
            where.append("json_extract(suggested, ?) = ?")
            args += [tag + ".value", value]
        if needs_review is not None:
            flagged = (
                "json_extract(suggested, ?) = 1"
                if tag
                else "exists (select 1 from json_each(suggested) "
                "where json_extract(json_each.value, '$.review') = 1)"
            )
            if tag:
                args.append(tag + ".review")
            where.append(flagged if needs_review else f"not ({flagged})")
        sql = f"select * from review_items where {' and '.join(where)} order by id limit ? offset ?"
        rows = self.catalogue.db.query(sql, [*args, max(0, limit), max(0, offset)])
        return [_item(r) for r in rows]

    def reviewed_products(self) -> set[str]:
        """The ids of the catalogue products a person accepted from the inbox."""
        rows = self.catalogue.db.execute(
            "select product_id from review_items where status = 'accepted' "
            "and product_id is not null"
        ).fetchall()
        return {str(r[0]) for r in rows}

    # -- deciding --------------------------------------------------------------------
    def pending(self, item_id: int) -> ReviewItem:
        item = self.get(item_id)
        if item is None:
            raise UnknownItem(f"no review item {item_id}")
        if item.status != "pending":
            raise BadInput(f"review item {item_id} is already {item.status}")
        return item

    def decide(
        self,
        item_id: int,
        final: Mapping[str, str] | None,
        by: str = "",
        product_id: str | None = None,
        looked: Collection[str] | None = None,
    ) -> ReviewItem:
        """Accept (``final``: every family's kept or corrected value) or reject (None) a
        pending item, recording a decision per family; one transaction. ``looked``: the
        families a person saw (default all; a bulk accept sees only the flagged)."""
        (decided,) = self.decide_many([(item_id, final, product_id, looked)], by)
        return decided

    def decide_many(
        self,
        decisions: Sequence[
            tuple[int, Mapping[str, str] | None, str | None, Collection[str] | None]
        ],
        by: str = "",
    ) -> list[ReviewItem]:
        """``decide`` for many items (id, final, product id, looked) in one transaction."""
        with self.catalogue.transaction():
            at = _now()
            table = self.catalogue.db.table("review_decisions")
            for item_id, final, product_id, looked in decisions:
                item = self.pending(item_id)
                status = "rejected" if final is None else "accepted"
                self.catalogue.db.table("review_items").update(
                    item_id,
                    {
                        "status": status,
                        "decided_at": at,
                        "decided_by": by,
                        "product_id": product_id,
                    },
                )
                if final is None:
                    continue
                for family, s in item.suggested.items():
                    kept = final.get(family, s.value)
                    table.insert(
                        {
                            "item_id": item_id,
                            "family": family,
                            "suggested": s.value,
                            "score": s.score,
                            "flagged": int(s.review),
                            "final": kept,
                            "changed": int(kept != s.value),
                            "source": s.source,
                            "held": int(s.held),
                            "threshold": s.threshold,
                            "audit": s.audit,
                            "looked": int(looked is None or family in looked or kept != s.value),
                            "decided_by": by,
                            "decided_at": at,
                        }
                    )
        out = [self.get(d[0]) for d in decisions]
        return [i for i in out if i is not None]

    def undo(self, item_id: int) -> ReviewItem:
        """A decided item back to pending, its decisions forgotten (the facade removes the
        product an accept added)."""
        with self.catalogue.transaction():
            item = self.get(item_id)
            if item is None or item.status == "pending":
                raise BadInput(f"review item {item_id} has no decision to undo")
            self.catalogue.db.execute("delete from review_decisions where item_id = ?", [item_id])
            self.catalogue.db.table("review_items").update(
                item_id,
                {"status": "pending", "decided_at": None, "decided_by": None, "product_id": None},
            )
        undone = self.get(item_id)
        assert undone is not None
        return undone

    def counts(self) -> dict[str, int]:
        """Items per status."""
        rows = self.catalogue.db.query(
            "select status, count(*) as n from review_items group by status"
        )
        return {s: 0 for s in STATUSES} | {r["status"]: r["n"] for r in rows}

    # -- what the decisions say -------------------------------------------------------
    def decisions(self, newest: int | None = None) -> Iterator[dict[str, Any]]:
        """Every decision (or the ``newest`` ones), oldest first, with its item's title
        and product."""
        sql = (
            "select d.*, i.title, i.product_id from review_decisions d "
            "join review_items i on i.id = d.item_id"
        )
        if newest is None:
            yield from self.catalogue.db.query(sql + " order by d.decided_at, d.item_id")
            return
        rows = self.catalogue.db.query(
            sql + " order by d.decided_at desc, d.item_id desc limit ?", [newest]
        )
        yield from reversed(list(rows))

    def stats(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per family and ISO week (``2026-W49``), and ``all``: decisions, and the share
        kept unchanged among the flagged and the unflagged suggestions."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        # Counted in SQL per day, then folded into weeks: an unauthenticated GET costs
        # the number of days the inbox has been used, not the number of decisions.
        per_day = self.catalogue.db.query(
            "select family, substr(decided_at, 1, 10) as day, flagged, changed, "
            "count(*) as n from review_decisions group by 1, 2, 3, 4"
        )
        for d in per_day:
            year, week, _ = datetime.fromisoformat(d["day"]).isocalendar()
            for period in (f"{year}-W{week:02d}", "all"):
                cell = out.setdefault(d["family"], {}).setdefault(
                    period,
                    {
                        "decisions": 0,
                        "flagged": 0,
                        "flagged_kept": 0,
                        "unflagged": 0,
                        "unflagged_kept": 0,
                    },
                )
                side = "flagged" if d["flagged"] else "unflagged"
                cell["decisions"] += d["n"]
                cell[side] += d["n"]
                cell[f"{side}_kept"] += 0 if d["changed"] else d["n"]
        for periods in out.values():
            for cell in periods.values():
                for side in ("flagged", "unflagged"):
                    n = cell[side]
                    cell[f"{side}_kept_share"] = round(cell[f"{side}_kept"] / n, 4) if n else None
        return out


def held_image_paths(catalogue: Catalogue, paths: Iterable[str]) -> set[str]:
    """Which of ``paths`` review items hold (whatever their status: an undo brings a
    rejected item back); an indexed look-up per path."""
    wanted = list(paths)
    if not wanted or "review_items" not in catalogue.db.table_names():
        return set()
    marks = ",".join("?" * len(wanted))
    rows = catalogue.db.execute(
        f"select image_path from review_items where image_path in ({marks})", wanted
    ).fetchall()
    return {r[0] for r in rows}


def _item(row: Mapping[str, Any]) -> ReviewItem:
    suggested = {
        f: Suggestion(**{**s, "alternatives": [tuple(a) for a in s["alternatives"]]})
        for f, s in json.loads(row["suggested"]).items()
    }
    return ReviewItem(
        id=row["id"],
        status=row["status"],
        title=row["title"] or "",
        text=row["text"] or "",
        image_path=row["image_path"],
        suggested=suggested,
        created_at=row["created_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        product_id=row["product_id"],
    )
