"""Catalogue files as rows: the plain CSV and JSON Lines readers every format builds on,
and ``Table``, what a reader hands to ingest (the rows, and for a platform's export the
column roles its format fixes, so nothing is guessed)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shelfsight.core.errors import BadInput
from shelfsight.indexer.product_ids import loads_json

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


class CatalogueError(BadInput):
    """The catalogue file or its column options are unusable as a whole."""

    error = "bad catalogue"


@dataclass
class Row:
    """One input row; ``error`` is set when the line itself could not be parsed."""

    number: int
    values: dict[str, Any]
    error: str | None = None


def read_table(path: Path) -> tuple[list[str], list[Row]]:
    """Header and rows of a CSV or JSON Lines file (by extension: .jsonl/.ndjson/.json)."""
    require_file(path)
    if path.suffix.lower() in JSONL_SUFFIXES:
        return read_jsonl(path)
    return read_csv(path)


def require_file(path: Path) -> None:
    if not path.is_file():
        raise CatalogueError(f"catalogue file not found: {path}")


def _clean_header(names: Iterable[str | None]) -> list[str]:
    # A trailing comma in a CSV header yields an unnamed column: it carries nothing.
    return [n.strip() for n in names if n is not None and n.strip()]


def read_csv(path: Path, delimiter: str = ",") -> tuple[list[str], list[Row]]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        try:
            fieldnames = reader.fieldnames
        except csv.Error as exc:
            raise CatalogueError(f"{path}: unreadable header row ({exc})") from None
        if fieldnames is None:
            raise CatalogueError(f"{path} is empty: no header row")
        header = _clean_header(fieldnames)
        rows = []
        while True:
            start = reader.line_num + 1
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # The reader resumes on the next line: one bad row (a field over the csv
                # module's 128 KiB limit, a stray NUL) is skipped, never the whole batch.
                rows.append(Row(start, {}, error=f"malformed CSV: {exc}"))
                continue
            values = {
                k.strip(): (v.strip() if isinstance(v, str) else v)
                for k, v in rec.items()
                if k is not None and k.strip()
            }
            rows.append(Row(start, values))
    return header, rows


def read_jsonl(path: Path) -> tuple[list[str], list[Row]]:
    header: dict[str, None] = {}
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = loads_json(line)
            except ValueError as exc:
                rows.append(Row(i, {}, error=f"malformed JSON: {getattr(exc, 'msg', exc)}"))
                continue
            if not isinstance(rec, dict):
                rows.append(Row(i, {}, error="malformed JSON: line is not an object"))
                continue
            values = {str(k).strip(): v for k, v in rec.items()}
            header.update(dict.fromkeys(values))
            rows.append(Row(i, values))
    if not header and not rows:
        raise CatalogueError(f"{path} is empty")
    return _clean_header(header), rows


def as_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


@dataclass
class Preset:
    """The column roles a platform's format fixes: ingest uses them instead of guessing."""

    tag_columns: list[str]
    title_column: str = "title"
    image_column: str = "image"
    brand_column: str | None = None
    colour_column: str | None = None
    description_column: str | None = None


@dataclass
class Table:
    """A catalogue file read: its header, its rows (one per product), which format it was,
    and the preset roles when the format fixes them."""

    format: str
    header: list[str]
    rows: list[Row]
    preset: Preset | None = None
    notes: list[str] = field(default_factory=list)  # what the reader decided, for the report
