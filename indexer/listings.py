"""Listings sent to ``add`` (the API's writes) made into catalogue records: checked,
their tag families put in the catalogue's spelling, merged with the stored product or
replacing it, their photos stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shelfsight.core.errors import BadInput
from shelfsight.indexer import image_store
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.images import DecodedImage
from shelfsight.indexer.product_ids import ID_RULE, is_valid_id
from shelfsight.indexer.tag_names import canonical_families, check_value
from shelfsight.indexer.workspace import Workspace

WRITE_MODES = ("replace", "merge")
MAX_TITLE = 500
Upload = tuple[DecodedImage, bytes]


class BadListing(BadInput):
    """A listing refused before anything is written; ``error`` names what is wrong."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error


def check_mode(mode: str) -> None:
    if mode not in WRITE_MODES:
        raise BadListing("bad mode", f"mode must be one of {', '.join(WRITE_MODES)}")


def listing_from_json(raw: Any, n: int) -> dict[str, Any]:
    """One listing as a client sent it (JSON), checked: only the keys it holds (a merge
    keeps the rest); every key but ``id``, ``title`` and ``tags`` is a field."""
    if not isinstance(raw, dict):
        raise BadListing("bad listing", f"listing {n} is not a JSON object")
    pid = str(raw.get("id", "")).strip()
    if not is_valid_id(pid):
        raise BadListing("bad id", f"listing {n}: id must be {ID_RULE} ({pid!r})")
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in tags.items()
    ):
        raise BadListing("bad tags", f"listing {n}: tags must map family -> value")
    out: dict[str, Any] = {"id": pid}
    if "title" in raw:
        out["title"] = str(raw.get("title") or "")
        if len(out["title"]) > MAX_TITLE:
            raise BadListing("field too long", f"listing {n}: a title of {MAX_TITLE} at most")
    if "tags" in raw:
        out["tags"] = {k: str(v) for k, v in tags.items() if str(v).strip()}
    fields = {k: v for k, v in raw.items() if k not in ("id", "title", "tags")}
    if fields:
        out["fields"] = fields
    return out


def check_unique(ids: list[str]) -> None:
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise BadListing("duplicate id", f"ids repeated in this request: {dupes}")


@dataclass
class Records:
    """What a write will commit: ``records`` for the catalogue, a status per listing
    (``added`` or ``updated``) and the photos the new ones take the place of."""

    records: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[str | None] = field(default_factory=list)


def checked_listings(
    listings: Mapping[str, Any] | Sequence[Mapping[str, Any]], images: Any, mode: str
) -> tuple[list[dict[str, Any]], list[Upload | None]]:
    """The listings and their decoded photos (``None``: keep the stored one), refused
    before any lock is taken when the mode, a tag family or a tag value is invalid."""
    check_mode(mode)
    if isinstance(listings, Mapping):
        listings, images = [listings], [images]
    items = [dict(x) for x in listings]
    photos = list(images) if images is not None else [None] * len(items)
    if len(photos) != len(items):
        raise BadInput(f"{len(items)} listings but {len(photos)} images")
    check_unique([str(item.get("id", "")) for item in items])
    for n, item in enumerate(items):
        pid = str(item.get("id", "")).strip()
        if not is_valid_id(pid):
            raise BadListing("bad id", f"listing {n}: id must be {ID_RULE} ({pid!r})")
        tags = item.get("tags") or {}
        canonical_families(tags, [])  # valid names, one spelling per family
        for family, value in tags.items():
            check_value(family, str(value))
    return items, [None if p is None else image_store.as_stored(p) for p in photos]


def listing_records(
    workspace: Workspace,
    catalogue: Catalogue,
    listings: list[dict[str, Any]],
    uploads: list[Upload | None],
    mode: str,
) -> Records:
    """Catalogue records for checked listings (under the writer lock: keys are allocated
    and stored products read here). ``replace``: a listing is the product's whole record;
    ``merge``: given fields overwrite, the others (and the photo, when none is given) stay."""
    out = Records()
    keys, new = catalogue.allocate_keys(str(item["id"]) for item in listings)
    current = catalogue.by_keys(k for pid, k in keys.items() if pid not in new)
    for item, upload in zip(listings, uploads, strict=True):
        pid = str(item["id"])
        old = current.get(keys[pid])
        record: dict[str, Any] = {"key": keys[pid], "id": pid}
        # GENDER=Women joins the catalogue's gender, never a family of its own.
        family_of = catalogue.family_names(item.get("tags") or {})
        tags = {family_of[f]: str(v) for f, v in (item.get("tags") or {}).items()}
        if mode == "merge" and old is not None:
            record["title"] = item.get("title", old.title)
            record["tags"] = {**old.tags, **tags}
            record["fields"] = {**old.fields, **item.get("fields", {})}
        else:
            record["title"] = item.get("title", "")
            record["tags"] = tags
            record["fields"] = item.get("fields", {})
        if upload is not None:
            record.update(image_store.store(workspace, *upload))
        elif old is None:
            raise BadInput(f"{pid!r} is a new product and needs an image")
        out.records.append(record)
        out.results.append({"id": pid, "status": "updated" if old else "added"})
        if old is not None and upload is not None:
            out.replaced.append(old.image_sha256)
    return out
