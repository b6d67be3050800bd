"""Which catalogue column plays which role: the title, the brand, the colour family, the
listing description.

Ingest decides once, from ``--title-column`` / ``--brand-column`` / ... or else from the
conventional names below, and records the answer with the catalogue (``Catalogue.column``);
tagging and descriptions read that record instead of guessing again.
"""

from __future__ import annotations

from collections.abc import Iterable

ROLES = ("title", "brand", "colour", "description")
# Tried in order: the fashion sample's names, Myntra's, and the common ones.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "title": ("productDisplayName", "title", "name", "Product_Name"),
    "brand": ("brand", "Brand", "Product_Brand"),
    "colour": ("baseColour", "colour", "color", "Primary_Color", "Colour", "Color"),
    "description": ("description", "Description", "productDescription", "Product_Description"),
}


def guess_column(role: str, names: Iterable[str]) -> str | None:
    """The first conventional name for ``role`` among ``names``."""
    have = set(names)
    return next((c for c in CANDIDATES[role] if c in have), None)
