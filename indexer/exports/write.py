"""An export as a stream of text: the same lines to a file (``shelfsight export``) or to an
HTTP response (``GET /export``), a product at a time, so its memory does not grow with the
catalogue."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from shelfsight.core.errors import BadInput
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.exports.cells import safe_cell
from shelfsight.indexer.exports.shapes import SHAPES, Shape, choose_families, header, rows
from shelfsight.indexer.review_inbox import ReviewInbox

MEDIA_TYPES = {
    "csv": "text/csv",
    "shopify": "text/csv",
    "woocommerce": "text/csv",
    "google-feed": "text/tab-separated-values",
    "jsonl": "application/x-ndjson",
}
SUFFIXES = {"google-feed": ".tsv", "jsonl": ".jsonl"}


@dataclass
class ExportOptions:
    format: str = "csv"
    only_reviewed: bool = False  # only products a person accepted in the review inbox
    families: Sequence[str] | None = None  # default: every family
    type_family: str | None = None  # the kind's family (a feed's product_type fallback)


def check_format(fmt: str) -> str:
    if fmt not in SHAPES:
        raise BadInput(f"unknown export format {fmt!r}: one of {', '.join(SHAPES)}")
    return fmt


def export_lines(catalogue: Catalogue, opts: ExportOptions) -> Iterator[str]:
    """The export, line by line (header first). Options are checked before the first line,
    so a bad request fails whole, not halfway through a download."""
    fmt = check_format(opts.format)
    families = choose_families(catalogue.tag_families(), opts.families)
    shape = Shape(families, catalogue.column("colour"), opts.type_family)
    reviewed = ReviewInbox(catalogue).reviewed_products()
    return _lines(catalogue, fmt, shape, opts.only_reviewed, reviewed)


def _lines(
    catalogue: Catalogue, fmt: str, shape: Shape, only_reviewed: bool, reviewed: set[str]
) -> Iterator[str]:
    names = header(fmt, shape)
    if fmt != "jsonl":
        yield _csv_line(names, fmt)
    for product in catalogue.iter_products():
        was_reviewed = product.id in reviewed
        if only_reviewed and not was_reviewed:
            continue
        for row in rows(fmt, product, shape, was_reviewed):
            if fmt == "jsonl":
                record = dict(zip(names, row, strict=True))
                tags = {f: v for f in shape.families if (v := record.pop(f))}
                yield json.dumps({**record, "tags": tags}, ensure_ascii=False) + "\n"
            else:
                yield _csv_line(row, fmt)


def _csv_line(values: Sequence[object], fmt: str) -> str:
    buffer = io.StringIO()
    delimiter = "\t" if fmt == "google-feed" else ","
    cells = [v if isinstance(v, int | bool) else safe_cell(v) for v in values]
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerow(cells)
    return buffer.getvalue()
