"""Shopify's product CSV export: one row per variant and per extra image, grouped by the
product's handle (``Handle``, or ``URL handle`` in the 2024 export).

The first row of a handle carries the product (title, HTML body, vendor, category, type,
tags); later rows add a variant (option values, SKU) or an image (``Image Src`` at its
``Image Position``). Folded: the handle is the id; ``Type`` is the ``product_type`` family;
the ``Product Category`` path gives ``category_1`` (top level) to ``category_4``; an option
every variant shares (a product sold in one colour) is a family under the option's name, the
rest stay in ``variants``; ``Tags`` is a list field; Google Shopping gender and age group are
families.
"""

from __future__ import annotations

from pathlib import Path

from shelfsight.indexer.formats.cells import (
    HeaderMap,
    family_name,
    find_column,
    html_text,
    level_families,
    one_value,
    split_list,
)
from shelfsight.indexer.formats.listing import Listing, listings_table
from shelfsight.indexer.formats.table import CatalogueError, Row, Table, as_text, read_csv

HANDLE = ("Handle", "URL handle")
COLUMNS = {
    "title": ("Title",),
    "body": ("Body (HTML)", "Description"),
    "vendor": ("Vendor",),
    "category": ("Product Category", "Product category"),
    "type": ("Type",),
    "tags": ("Tags",),
    "image": ("Image Src", "Product image URL"),
    "position": ("Image Position", "Image position"),
    "variant_image": ("Variant Image", "Variant image URL"),
    "sku": ("Variant SKU", "SKU"),
    "status": ("Status",),
    "gender": ("Google Shopping / Gender",),
    "age_group": ("Google Shopping / Age Group",),
}
OPTIONS = 3
COLOUR_OPTIONS = ("color", "colour")
# Shopify's placeholder option of a product without variants.
_DEFAULT_OPTION = "title"


def looks_like(header: list[str]) -> bool:
    return find_column(header, *HANDLE) is not None and find_column(header, "Title") is not None


def read(path: Path) -> Table:
    header, raw = read_csv(path)
    handle_col = find_column(header, *HANDLE)
    if handle_col is None:
        raise CatalogueError(f"{path}: not a Shopify export (no Handle column)")
    columns = HeaderMap(header, COLUMNS)
    options = columns.numbered("Option{n} Name", "Option{n} Value", OPTIONS)
    cell = columns.cell
    groups: dict[str, Listing] = {}
    positions: dict[str, list[tuple[float, str]]] = {}
    option_names: dict[str, list[str]] = {}
    errors: list[Row] = []
    for row in raw:
        if row.error:
            errors.append(row)
            continue
        handle = as_text(row.values.get(handle_col))
        if not handle:
            errors.append(Row(row.number, {}, error="a row with no handle (Handle is empty)"))
            continue
        item = groups.get(handle)
        if item is None:
            item = groups[handle] = Listing(id=handle, row=row.number)
            positions[handle] = []
            option_names[handle] = [as_text(row.values.get(n)) if n else "" for n, _ in options]
        item.title = item.title or cell(row.values, "title")
        item.description = item.description or html_text(cell(row.values, "body"))
        item.brand = item.brand or cell(row.values, "vendor")
        for key in ("type", "gender", "age_group"):
            if (value := cell(row.values, key)) and (fam := _FAMILY[key]) not in item.families:
                item.families[fam] = value
        if (category := cell(row.values, "category")) and "category_1" not in item.families:
            item.families.update(level_families("category", category))
            item.fields["category_path"] = category
        if tags := split_list(cell(row.values, "tags")):
            item.fields.setdefault("tags", tags)
        if status := cell(row.values, "status"):
            item.fields.setdefault("status", status)
        if url := cell(row.values, "image"):
            raw_pos = cell(row.values, "position")
            pos = float(raw_pos) if raw_pos.replace(".", "", 1).isdigit() else float("inf")
            positions[handle].append((pos, url))
        variant = {
            name: as_text(row.values.get(value_col))
            for name, (_, value_col) in zip(option_names[handle], options, strict=True)
            if name.casefold() not in ("", _DEFAULT_OPTION)
            and value_col
            and as_text(row.values.get(value_col))
        }
        if sku := cell(row.values, "sku"):
            variant["sku"] = sku
        if variant:
            item.variants.append(variant)
        if variant_image := cell(row.values, "variant_image"):
            positions[handle].append((float("inf"), variant_image))

    colour_family: str | None = None
    for handle, item in groups.items():
        # sorted() is stable: images without a position keep the file's order, last.
        item.add_photos(url for _, url in sorted(positions[handle], key=lambda p: p[0]))
        for name in option_names[handle]:
            option = family_name(name) if name.casefold() != _DEFAULT_OPTION else None
            if option is None:
                continue
            shared = one_value(v.get(name) for v in item.variants)
            if shared and option not in item.families:
                item.families[option] = shared
                if option.casefold() in COLOUR_OPTIONS:
                    colour_family = colour_family or option
    return listings_table("shopify", groups.values(), errors, colour_family)


_FAMILY = {"type": "product_type", "gender": "gender", "age_group": "age_group"}
