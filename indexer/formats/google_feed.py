"""A Google Merchant Center product feed: tab-separated text or XML (RSS 2.0 ``<item>`` or
Atom ``<entry>`` elements, attributes plain or in the ``g:`` namespace).

Items of one ``item_group_id`` are the variants of one product and fold into it (the group
id is the product's id; every item id is kept in ``variant_ids`` for a supplemental feed
back). ``image_link`` is the main photo, ``additional_image_link`` the others; ``color``,
``gender``, ``age_group``, ``material`` and ``pattern`` are families when the variants
share them; ``product_type`` and ``google_product_category`` paths give one family per
level (``product_type_1`` is the top level).

XML is read as a stream with defusedxml: a document that declares entities (the
"billion laughs" bomb, an external entity) is refused as a whole before anything expands.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shelfsight.indexer.formats.cells import (
    html_text,
    is_path,
    level_families,
    one_value,
    split_list,
)
from shelfsight.indexer.formats.listing import Listing, listings_table
from shelfsight.indexer.formats.table import CatalogueError, Row, Table, as_text, read_csv

FAMILIES = ("color", "gender", "age_group", "material", "pattern")
CATEGORY_PATHS = {"product_type": "product_type", "google_product_category": "google_category"}
VARIANT_ATTRIBUTES = ("id", "color", "size", "material", "pattern", "gtin", "mpn", "price")
KEPT = ("link", "condition", "availability", "price", "gtin", "mpn", "size")
ITEM_ELEMENTS = ("item", "entry")


def looks_like(header: list[str]) -> bool:
    names = {_local(h).casefold() for h in header}
    return "id" in names and ("image_link" in names or "google_product_category" in names)


def read(path: Path) -> Table:
    if is_xml(path):
        records, errors = _read_xml(path)
    else:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            first = fh.readline()
        header, rows = read_csv(path, delimiter="\t" if "\t" in first else ",")
        if not looks_like(header):
            raise CatalogueError(f"{path}: not a product feed (no id and image_link columns)")
        records, errors = [], []
        for row in rows:
            if row.error:
                errors.append(row)
                continue
            rec = {_local(k): v for k, v in row.values.items()}
            records.append((row.number, {k: _as_list(k, v) for k, v in rec.items()}))
    return _fold(records, errors)


def is_xml(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def xml_root(path: Path) -> str:
    """The local name of the document's root element ("rss", "feed")."""
    for _, elem in _events(path, ("start",)):
        return _local(elem.tag)
    return ""


def _local(name: str) -> str:
    name = name.rsplit("}", 1)[-1]
    return name[2:] if name.startswith("g:") else name


def _as_list(key: str, value: Any) -> list[str]:
    if key == "additional_image_link":
        return split_list(value)
    text = as_text(value)
    return [text] if text else []


def _events(path: Path, events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    import defusedxml
    import defusedxml.ElementTree as safe_xml

    try:
        yield from safe_xml.iterparse(str(path), events=events)
    except defusedxml.DefusedXmlException as exc:
        raise CatalogueError(
            f"{path}: refused: the XML declares entities or a DTD ({type(exc).__name__}); "
            "a product feed needs none"
        ) from None


def _read_xml(path: Path) -> tuple[list[tuple[int, dict[str, list[str]]]], list[Row]]:
    import xml.etree.ElementTree as ET

    records: list[tuple[int, dict[str, list[str]]]] = []
    errors: list[Row] = []
    stack: list[Any] = []
    number = 0
    try:
        for event, elem in _events(path, ("start", "end")):
            if event == "start":
                if not stack and _local(elem.tag) not in ("rss", "feed", "channel"):
                    raise CatalogueError(
                        f"{path}: root element <{_local(elem.tag)}> is not a product feed's "
                        "<rss> or <feed>"
                    )
                stack.append(elem)
                continue
            stack.pop()
            if _local(elem.tag) not in ITEM_ELEMENTS:
                continue
            number += 1
            rec: dict[str, list[str]] = {}
            for child in elem:
                text = (child.text or "").strip() or (child.get("href") or "").strip()
                if text:
                    rec.setdefault(_local(child.tag), []).append(text)
            records.append((number, rec))
            if stack:  # streamed: an item read is dropped, whatever the feed's size
                stack[-1].remove(elem)
    except ET.ParseError as exc:
        errors.append(
            Row(number + 1, {}, error=f"malformed XML ({exc}): the rest of the feed is unread")
        )
    if not records and not errors:
        raise CatalogueError(f"{path}: no <item> or <entry> in the feed")
    return records, errors


def _fold(records: list[tuple[int, dict[str, list[str]]]], errors: list[Row]) -> Table:
    groups: dict[str, list[tuple[int, dict[str, list[str]]]]] = {}
    for number, rec in records:
        offer = (rec.get("id") or [""])[0]
        group = (rec.get("item_group_id") or [""])[0] or offer
        if not group:
            errors.append(Row(number, {}, error="an item with no id"))
            continue
        groups.setdefault(group, []).append((number, rec))
    listings = [_listing(group, items) for group, items in groups.items()]
    return listings_table("google-feed", listings, errors, colour_family="color")


def _first(items: list[tuple[int, dict[str, list[str]]]], key: str) -> str:
    return next((rec[key][0] for _, rec in items if rec.get(key)), "")


def _listing(group: str, items: list[tuple[int, dict[str, list[str]]]]) -> Listing:
    item = Listing(id=group, row=items[0][0], title=_first(items, "title"))
    item.description = html_text(_first(items, "description"))
    item.brand = _first(items, "brand")
    for _, rec in items:
        item.add_photos(rec.get("image_link", [])[:1])
    for _, rec in items:
        item.add_photos(rec.get("additional_image_link", []))
    for fam in FAMILIES:
        value = one_value((rec.get(fam) or [""])[0] for _, rec in items)
        if value:
            item.families[fam] = value
    for key, base in CATEGORY_PATHS.items():
        path = _first(items, key)
        if not path:
            continue
        item.fields[key] = path
        item.families.update(level_families(base, path) if is_path([path]) else {base: path})
    for key in KEPT:
        if value := _first(items, key):
            item.fields[key] = value
    if len(items) > 1 or _first(items, "item_group_id"):
        item.fields["variant_ids"] = [rec["id"][0] for _, rec in items if rec.get("id")]
        item.variants = [
            {k: rec[k][0] for k in VARIANT_ATTRIBUTES if rec.get(k)} for _, rec in items
        ]
    return item
