"""One product as a platform's export describes it, folded from however many rows (a
Shopify variant or image row, a WooCommerce variation, a feed item of a group) it spans."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shelfsight.indexer.formats.table import Preset, Row, Table

# The columns every platform reader fills, under these names; ``Preset`` points at them.
STANDARD = ("id", "title", "description", "brand", "image", "photos")


@dataclass
class Listing:
    id: str
    row: int  # the first line of the file that belongs to it
    title: str = ""
    description: str = ""
    brand: str = ""
    families: dict[str, str] = field(default_factory=dict)
    photos: list[str] = field(default_factory=list)  # in the platform's order, first = main
    fields: dict[str, Any] = field(default_factory=dict)  # kept with the product, searchable
    variants: list[dict[str, str]] = field(default_factory=list)

    def add_photos(self, urls: Iterable[str]) -> None:
        for url in urls:
            if url and url not in self.photos:
                self.photos.append(url)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "brand": self.brand,
            "image": self.photos[0] if self.photos else "",
        }
        if len(self.photos) > 1:
            out["photos"] = list(self.photos)
        out.update(self.families)
        out.update({k: v for k, v in self.fields.items() if k not in out})
        if self.variants:
            out["variants"] = self.variants
        return {k: v for k, v in out.items() if v not in ("", None, [], {})}


def listings_table(
    fmt: str,
    listings: Iterable[Listing],
    errors: Iterable[Row] = (),
    colour_family: str | None = None,
    notes: Iterable[str] = (),
) -> Table:
    """The products as ingest's rows, with the roles the format fixes as the preset."""
    items = list(listings)
    families: dict[str, None] = {}
    header: dict[str, None] = dict.fromkeys(STANDARD)
    rows = []
    for item in items:
        families.update(dict.fromkeys(item.families))
        row = Row(item.row, item.values())
        header.update(dict.fromkeys(row.values))
        rows.append(row)
    preset = Preset(
        tag_columns=list(families),
        brand_column="brand",
        description_column="description",
        colour_column=colour_family if colour_family in families else None,
    )
    all_rows = sorted([*rows, *errors], key=lambda r: r.number)
    return Table(fmt, list(header), all_rows, preset, list(notes))
