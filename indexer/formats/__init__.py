"""Catalogue files in: plain CSV / JSON Lines, and the exports merchants already have
(Shopify, WooCommerce, a Google Merchant Center feed), each read into one ``Table`` of
one row per product. ``read_catalogue(path, "auto")`` tells them apart from the header
or the root element."""

from __future__ import annotations

import csv
from pathlib import Path

from shelfsight.indexer.formats import google_feed, shopify, woocommerce
from shelfsight.indexer.formats.table import (
    JSONL_SUFFIXES,
    CatalogueError,
    Table,
    read_csv,
    read_jsonl,
    require_file,
)

FORMATS = ("auto", "csv", "jsonl", "shopify", "woocommerce", "google-feed")
_READERS = {
    "shopify": shopify.read,
    "woocommerce": woocommerce.read,
    "google-feed": google_feed.read,
}


def detect(path: Path) -> str:
    """Which format ``path`` is: by its root element (XML), its suffix (JSON Lines) or the
    header's columns (a platform's export), else plain CSV."""
    require_file(path)
    if google_feed.is_xml(path):
        root = google_feed.xml_root(path)
        if root in ("rss", "feed"):
            return "google-feed"
        raise CatalogueError(f"{path}: an XML document whose root <{root}> is no product feed")
    if path.suffix.lower() in JSONL_SUFFIXES:
        return "jsonl"
    header = _header(path)
    if shopify.looks_like(header):
        return "shopify"
    if woocommerce.looks_like(header):
        return "woocommerce"
    if google_feed.looks_like(header):
        return "google-feed"
    return "csv"


def _header(path: Path) -> list[str]:
    """The first row's names, tab- or comma-separated (a feed's TSV or any CSV)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    try:
        names = next(csv.reader([first], delimiter="\t" if "\t" in first else ","), [])
    except csv.Error:
        return []
    return [n.strip() for n in names]


def read_catalogue(path: Path, fmt: str = "auto") -> Table:
    """The catalogue at ``path`` as rows, one per product, in format ``fmt``."""
    if fmt not in FORMATS:
        raise CatalogueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    require_file(path)
    chosen = detect(path) if fmt == "auto" else fmt
    if chosen in _READERS:
        return _READERS[chosen](path)
    header, rows = read_jsonl(path) if chosen == "jsonl" else read_csv(path)
    return Table(chosen, header, rows)
