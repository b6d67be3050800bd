"""WooCommerce's product CSV export (Products > Export): one row per product and one per
variation (``Type`` "variation", ``Parent`` naming its product as ``id:123`` or a SKU).

Folded: ``ID`` is the id (the SKU when ``ID`` is empty); ``Images`` is a comma list of
URLs; ``Categories`` a comma list of paths ("Clothing > Tshirts"), the first of which gives
``category_1`` (top level) to ``category_4`` (all kept in ``categories``); ``Tags`` a list;
an attribute with one value (``Attribute 1 name`` Color, ``Attribute 1 value(s)`` Blue) is
a family under its name, several values stay with the variations.
"""

from __future__ import annotations

from pathlib import Path

from shelfsight.indexer.formats.cells import (
    HeaderMap,
    family_name,
    find_column,
    html_text,
    level_families,
    split_list,
)
from shelfsight.indexer.formats.listing import Listing, listings_table
from shelfsight.indexer.formats.table import CatalogueError, Row, Table, as_text, read_csv

COLUMNS = {
    "id": ("ID",),
    "type": ("Type",),
    "sku": ("SKU",),
    "name": ("Name",),
    "short": ("Short description",),
    "description": ("Description",),
    "categories": ("Categories",),
    "tags": ("Tags",),
    "images": ("Images",),
    "parent": ("Parent",),
    "brand": ("Brands", "Brand"),
}
ATTRIBUTES = 10
COLOUR_ATTRIBUTES = ("color", "colour", "pa_color", "pa_colour")


def looks_like(header: list[str]) -> bool:
    need = ("ID", "Type", "SKU", "Name")
    return all(find_column(header, n) for n in need) and bool(
        find_column(header, "Images") or find_column(header, "Categories")
    )


def read(path: Path) -> Table:
    header, raw = read_csv(path)
    if not looks_like(header):
        raise CatalogueError(f"{path}: not a WooCommerce export (ID, Type, SKU, Name...)")
    columns = HeaderMap(header, COLUMNS)
    attributes = columns.numbered("Attribute {n} name", "Attribute {n} value(s)", ATTRIBUTES)
    cell = columns.cell
    products: dict[str, Listing] = {}
    by_sku: dict[str, str] = {}
    variations: list[Row] = []
    errors: list[Row] = []
    colour_family: str | None = None
    for row in raw:
        if row.error:
            errors.append(row)
            continue
        if "variation" in cell(row.values, "type").casefold():
            variations.append(row)
            continue
        pid = cell(row.values, "id") or cell(row.values, "sku")
        if not pid:
            errors.append(Row(row.number, {}, error="a product with neither ID nor SKU"))
            continue
        item = Listing(id=pid, row=row.number, title=cell(row.values, "name"))
        item.description = html_text(cell(row.values, "description")) or html_text(
            cell(row.values, "short")
        )
        item.brand = cell(row.values, "brand")
        paths = split_list(cell(row.values, "categories"))
        if paths:
            item.families.update(level_families("category", paths[0]))
            item.fields["categories"] = paths
        if tags := split_list(cell(row.values, "tags")):
            item.fields["tags"] = tags
        if sku := cell(row.values, "sku"):
            item.fields["sku"] = sku
            by_sku[sku] = pid
        item.add_photos(split_list(cell(row.values, "images")))
        for name_col, values_col in attributes:
            name = as_text(row.values.get(name_col)) if name_col else ""
            values = split_list(row.values.get(values_col)) if values_col else []
            fam = family_name(name) if name else None
            if fam and len(values) == 1:
                item.families.setdefault(fam, values[0])
                if fam.casefold() in COLOUR_ATTRIBUTES:
                    colour_family = colour_family or fam
            elif name and values:
                item.fields.setdefault("attributes", {})[name] = values
        products[pid] = item
    for row in variations:
        parent = cell(row.values, "parent")
        pid = parent[3:] if parent.startswith("id:") else by_sku.get(parent, parent)
        parent_item = products.get(pid)
        if parent_item is None:
            errors.append(
                Row(row.number, {}, error=f"a variation whose parent {parent!r} is not in the file")
            )
            continue
        parent_item.add_photos(split_list(cell(row.values, "images")))
        variant = {
            as_text(row.values.get(n)): as_text(row.values.get(v))
            for n, v in attributes
            if n and v and as_text(row.values.get(n)) and as_text(row.values.get(v))
        }
        if sku := cell(row.values, "sku"):
            variant["sku"] = sku
        if variant:
            parent_item.variants.append(variant)
    return listings_table("woocommerce", products.values(), errors, colour_family)
