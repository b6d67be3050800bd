"""One product's tags in each platform's import shape.

- ``csv`` / ``jsonl``: id, title, one column (key) per family, ``reviewed``.
- ``shopify``: a product CSV that updates by ``Handle`` (``Title`` is required with it):
  ``Tags`` keeps the product's own tags and adds ``family:value`` for each family, and
  each family is also a metafield column ``<family> (product.metafields.shelfsight.<key>)``.
- ``woocommerce``: a product CSV that updates by ``ID`` / ``SKU``: ``Tags`` as above, and
  each family an attribute (``Attribute N name`` / ``value(s)``, not global).
- ``google-feed``: a supplemental feed (tab-separated) keyed by ``id``, one row per offer
  (a variant's id when the product was folded from a group): ``color``, ``gender``,
  ``age_group``, ``material``, ``pattern``, ``size`` and ``product_type`` /
  ``google_product_category`` (a path, rebuilt from its levels).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shelfsight.core.errors import BadInput
from shelfsight.indexer.catalogue import Product
from shelfsight.indexer.formats.cells import split_list

SHAPES = ("csv", "jsonl", "shopify", "woocommerce", "google-feed")
GOOGLE_ATTRIBUTES = ("color", "gender", "age_group", "material", "pattern", "size")
GOOGLE_PATHS = {"product_type": "product_type", "google_product_category": "google_category"}
# Google accepts male, female and unisex only.
GOOGLE_GENDER = {
    "men": "male",
    "man": "male",
    "male": "male",
    "boys": "male",
    "women": "female",
    "woman": "female",
    "female": "female",
    "girls": "female",
    "unisex": "unisex",
}


@dataclass
class Shape:
    """What a shape needs to know of the whole export, decided once."""

    families: list[str]  # exported, in the catalogue's order
    colour_family: str | None  # the catalogue's colour role
    type_family: str | None  # the family that names the kind (for a feed's product_type)


def metafield_key(family: str) -> str:
    """Shopify's metafield keys: letters, digits, ``_`` and ``-``."""
    return re.sub(r"[^a-z0-9_-]+", "_", family.casefold()).strip("_") or "tag"


def header(fmt: str, shape: Shape) -> list[str]:
    if fmt in ("csv", "jsonl"):
        return ["id", "title", *shape.families, "reviewed"]
    if fmt == "shopify":
        meta = [f"{f} (product.metafields.shelfsight.{metafield_key(f)})" for f in shape.families]
        return ["Handle", "Title", "Tags", *meta]
    if fmt == "woocommerce":
        attrs = [
            f"Attribute {n} {part}"
            for n in range(1, len(shape.families) + 1)
            for part in ("name", "value(s)", "visible", "global")
        ]
        return ["ID", "SKU", "Name", "Tags", *attrs]
    return ["id", *GOOGLE_ATTRIBUTES, *GOOGLE_PATHS]


def _platform_tags(product: Product, shape: Shape) -> str:
    own = split_list(product.fields.get("tags", ""))
    ours = [f"{f}:{product.tags[f]}" for f in shape.families if product.tags.get(f)]
    return ", ".join(dict.fromkeys([*own, *ours]))


def rows(fmt: str, product: Product, shape: Shape, reviewed: bool) -> Iterator[list[Any]]:
    """The export's row(s) for one product (a feed writes one per offer)."""
    tags = product.tags
    if fmt in ("csv", "jsonl"):
        yield [product.id, product.title, *(tags.get(f, "") for f in shape.families), reviewed]
    elif fmt == "shopify":
        values = [tags.get(f, "") for f in shape.families]
        yield [product.id, product.title, _platform_tags(product, shape), *values]
    elif fmt == "woocommerce":
        attrs: list[Any] = []
        for f in shape.families:
            attrs += [f, tags.get(f, ""), 1, 0] if tags.get(f) else ["", "", "", ""]
        sku = product.fields.get("sku", "")
        yield [product.id, sku, product.title, _platform_tags(product, shape), *attrs]
    else:
        feed = _feed_values(product, shape)
        offers = product.fields.get("variant_ids") or [product.id]
        for offer in offers if isinstance(offers, list) else [product.id]:
            yield [offer, *(feed.get(k, "") for k in (*GOOGLE_ATTRIBUTES, *GOOGLE_PATHS))]


def _feed_values(product: Product, shape: Shape) -> dict[str, str]:
    tags = {f: v for f, v in product.tags.items() if f in shape.families}
    folded = {f.casefold(): v for f, v in tags.items()}
    out: dict[str, str] = {}
    for attribute in GOOGLE_ATTRIBUTES:
        if attribute in folded:
            out[attribute] = folded[attribute]
    if shape.colour_family and shape.colour_family in tags:
        out["color"] = tags[shape.colour_family]
    if "gender" in out:
        out["gender"] = GOOGLE_GENDER.get(out["gender"].casefold(), out["gender"])
    for attribute, base in GOOGLE_PATHS.items():
        levels = _levels(folded, base)
        if levels:
            out[attribute] = " > ".join(levels)
        elif base in folded:
            out[attribute] = folded[base]
    if "product_type" not in out and shape.type_family in tags:
        out["product_type"] = tags[str(shape.type_family)]
    return out


def _levels(folded: dict[str, str], base: str) -> list[str]:
    out: list[str] = []
    for n in range(1, 10):
        value = folded.get(f"{base}_{n}")
        if not value:
            break
        out.append(value)
    return out


def choose_families(all_families: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    """The families to export: every one, or those named (matched without regard to case)."""
    if not wanted:
        return list(all_families)
    by_fold = {f.casefold(): f for f in all_families}
    missing = [w for w in wanted if w.casefold() not in by_fold]
    if missing:
        raise BadInput(
            f"no tag family {', '.join(map(repr, missing))} in the catalogue; it has: "
            f"{', '.join(all_families)}"
        )
    return [by_fold[w.casefold()] for w in wanted]
