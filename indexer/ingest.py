"""Load a catalogue (CSV or JSON Lines) into the workspace, reporting every skipped row.

Column problems (a named column that does not exist) stop the run before anything is
written; row problems (bad id, bad image) skip that row only.
"""

from __future__ import annotations

import csv
import logging
import os
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from shelfsight.core.errors import BadInput, Skip
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.columns import guess_column
from shelfsight.indexer.images import DecodedImage, ImageError, decode_file
from shelfsight.indexer.product_ids import ID_RULE, is_valid_id, loads_json
from shelfsight.indexer.tag_names import BadTag, canonical_families, value_problem

log = logging.getLogger(__name__)

# A column this unique or this wordy is free text (a description), not a tag family.
_MAX_TAG_UNIQUE_RATIO = 0.5
_MAX_TAG_MEAN_LENGTH = 60


class CatalogueError(BadInput):
    """The catalogue file or its column options are unusable as a whole."""

    error = "bad catalogue"


@dataclass
class ColumnOptions:
    id_column: str = "id"
    title_column: str | None = None
    tag_columns: list[str] | None = None
    image_pattern: str = "{id}.jpg"
    image_column: str | None = None
    brand_column: str | None = None
    colour_column: str | None = None  # a tag family: the one pixel colour is fused into
    description_column: str | None = None


@dataclass
class ResolvedColumns:
    id_column: str
    title_column: str | None
    tag_columns: list[str]
    image_pattern: str | None
    image_column: str | None
    # role -> column: brand, colour, description (and title), recorded with the catalogue
    roles: dict[str, str | None] = field(default_factory=dict)
    # text columns that look like tags but cannot name a family -> why (kept as fields)
    not_tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    """One input row; ``error`` is set when the line itself could not be parsed."""

    number: int
    values: dict[str, Any]
    error: str | None = None


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skip] = field(default_factory=list)
    converted: Counter[str] = field(default_factory=Counter)
    tag_columns: list[str] = field(default_factory=list)
    columns: dict[str, str | None] = field(default_factory=dict)  # role -> column, recorded
    # a column stored under the catalogue's spelling of its family: Gender -> gender
    renamed: dict[str, str] = field(default_factory=dict)
    not_tags: dict[str, str] = field(default_factory=dict)  # column -> why it is no family

    @property
    def loaded(self) -> int:
        return self.added + self.updated + self.unchanged

    def skip_reasons(self) -> Counter[str]:
        return Counter(s.reason for s in self.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [s.as_dict() for s in self.skipped],
            "skip_reasons": dict(self.skip_reasons()),
            "converted_modes": dict(self.converted),
            "tag_columns": self.tag_columns,
            "columns": self.columns,
            "renamed_families": self.renamed,
            "not_tag_columns": self.not_tags,
        }


# -- reading ----------------------------------------------------------------------------
def read_table(path: Path) -> tuple[list[str], list[Row]]:
    """Header and rows of a CSV or JSON Lines file (by extension: .jsonl/.ndjson/.json)."""
    if not path.is_file():
        raise CatalogueError(f"catalogue file not found: {path}")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    return _read_csv(path)


def _clean_header(names: Iterable[str | None]) -> list[str]:
    # A trailing comma in a CSV header yields an unnamed column: it carries nothing.
    return [n.strip() for n in names if n is not None and n.strip()]


def _read_csv(path: Path) -> tuple[list[str], list[Row]]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.DictReader(fh)
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


def _read_jsonl(path: Path) -> tuple[list[str], list[Row]]:
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


# -- columns ----------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    if isinstance(v, int | float):
        return True
    try:
        float(str(v))
    except ValueError:
        return False
    return True


def _as_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def resolve_columns(
    header: Sequence[str], rows: Sequence[Row], opts: ColumnOptions
) -> ResolvedColumns:
    have = set(header)

    def need(col: str, what: str) -> None:
        if col not in have:
            raise CatalogueError(
                f"missing column {col!r} ({what}); the file has: {', '.join(header)}"
            )

    need(opts.id_column, "--id-column")
    title = opts.title_column
    if title is not None:
        need(title, "--title-column")
    else:
        title = guess_column("title", header)
    roles: dict[str, str | None] = {"title": title}
    for role, named in (
        ("brand", opts.brand_column),
        ("colour", opts.colour_column),
        ("description", opts.description_column),
    ):
        if named is not None:
            need(named, f"--{role}-column")
        roles[role] = named or guess_column(role, header)

    image_pattern: str | None = None
    if opts.image_column:
        need(opts.image_column, "--image-column")
    else:
        image_pattern = opts.image_pattern
        for fname in pattern_fields(image_pattern):
            need(fname, f"placeholder in --image-pattern {image_pattern!r}")

    reserved = {opts.id_column, title, opts.image_column}
    not_tags: dict[str, str] = {}
    if opts.tag_columns is not None:
        for col in opts.tag_columns:
            need(col, "--tag-columns")
        tags = [c for c in opts.tag_columns if c not in reserved]
        try:
            canonical_families(tags, [])
        except BadTag as exc:
            raise CatalogueError(f"--tag-columns: {exc}") from None
    else:
        tags = []
        for c in header:
            if c in reserved or not _looks_like_tag_column(c, rows):
                continue
            try:
                canonical_families([*tags, c], [])
                tags.append(c)
            except BadTag as exc:
                not_tags[c] = str(exc)
    if roles["colour"] not in tags:  # only a tag family can take the photo's colour
        roles["colour"] = None
    return ResolvedColumns(
        opts.id_column, title, tags, image_pattern, opts.image_column, roles, not_tags
    )


def _looks_like_tag_column(col: str, rows: Sequence[Row]) -> bool:
    values = [_as_text(r.values.get(col)) for r in rows if r.error is None]
    values = [v for v in values if v]
    if not values:
        return False
    if all(_is_number(v) for v in values):  # years, prices, counts: not text tags
        return False
    if sum(len(v) for v in values) / len(values) > _MAX_TAG_MEAN_LENGTH:
        return False
    return not (len(values) >= 20 and len(set(values)) / len(values) > _MAX_TAG_UNIQUE_RATIO)


# -- ingest -----------------------------------------------------------------------------
def pattern_fields(pattern: str) -> list[str]:
    """The row fields an --image-pattern names ("{id}.jpg" -> ["id"])."""
    return [f for _, f, _, _ in string.Formatter().parse(pattern) if f]


def image_path(row: dict[str, Any], cols: ResolvedColumns, images_dir: Path | None) -> Path:
    """A row's photo: its image column or the pattern, kept inside ``images_dir``."""
    if cols.image_column:
        raw = _as_text(row.get(cols.image_column))
        if not raw:
            raise ImageError("missing image", f"column {cols.image_column!r} is empty")
    else:
        assert cols.image_pattern is not None
        raw = cols.image_pattern.format(**{k: _as_text(v) for k, v in row.items()})
    path = Path(raw)
    if images_dir is None:
        return path if path.is_absolute() else Path.cwd() / path
    # Lexically inside --images: `../x` or an absolute path elsewhere is refused, while
    # a symlinked image folder (common for shared data sets) still works.
    root = Path(os.path.normpath(images_dir.absolute()))
    full = Path(os.path.normpath(root / path))
    if not full.is_relative_to(root):
        raise ImageError("image outside --images", f"{raw!r} resolves outside {root}")
    return full


def _decode(path: Path) -> DecodedImage | ImageError:
    try:
        return decode_file(path)
    except ImageError as exc:
        return exc


def ingest_rows(
    catalogue: Catalogue,
    rows: Sequence[Row],
    cols: ResolvedColumns,
    images_dir: Path | None,
    progress: bool = True,
) -> IngestReport:
    # A column spelled otherwise than a family the catalogue has is stored as that family.
    family_of = catalogue.family_names(cols.tag_columns)
    report = IngestReport(
        tag_columns=[family_of[c] for c in cols.tag_columns],
        # The colour role names a family: the catalogue's spelling of it.
        columns={
            r: family_of.get(c, c) if r == "colour" and c else c for r, c in cols.roles.items()
        },
        renamed={c: f for c, f in family_of.items() if c != f},
        not_tags=dict(cols.not_tags),
    )
    seen: dict[str, int] = {}
    candidates: list[tuple[Row, str, Path]] = []
    for row in rows:
        if row.error:
            report.skipped.append(Skip("malformed row", row.error, id="", row=row.number))
            continue
        pid = _as_text(row.values.get(cols.id_column))
        if not pid:
            report.skipped.append(Skip("empty id", id="", row=row.number))
            continue
        if not is_valid_id(pid):
            report.skipped.append(
                Skip("bad id", f"an id must be {ID_RULE}", id=pid, row=row.number)
            )
            continue
        if pid in seen:
            report.skipped.append(
                Skip("duplicate id", f"first seen on row {seen[pid]}", id=pid, row=row.number)
            )
            continue
        seen[pid] = row.number
        try:
            path = image_path(row.values, cols, images_dir)
        except ImageError as exc:
            report.skipped.append(Skip(exc.reason, exc.detail, id=pid, row=row.number))
            continue
        candidates.append((row, pid, path))

    keys, new = catalogue.allocate_keys(pid for _, pid, _ in candidates)
    existing = {pid: key for pid, key in keys.items() if pid not in new}
    current = catalogue.by_keys(existing.values())
    # A product whose tag rows disagree with its record (left by a write that older
    # versions did not make atomic) is rewritten even when its row did not change.
    tag_rows = catalogue.tag_rows(existing.values())
    batch: list[dict[str, Any]] = []
    # Decoding releases the GIL, so threads keep every core busy on large catalogues.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        decoded = pool.map(_decode, [p for _, _, p in candidates])
        for (row, pid, path), result in tqdm(
            zip(candidates, decoded, strict=True),
            total=len(candidates),
            desc="ingest",
            unit="row",
            disable=not progress,
        ):
            if isinstance(result, ImageError):
                report.skipped.append(Skip(result.reason, result.detail, id=pid, row=row.number))
                continue
            if result.original_mode != "RGB":
                report.converted[result.original_mode] += 1
            tags = {family_of[c]: _as_text(row.values.get(c)) for c in cols.tag_columns}
            tags = {c: v for c, v in tags.items() if v}
            bad = next(((f, p) for f, v in tags.items() if (p := value_problem(v))), None)
            if bad is not None:
                report.skipped.append(
                    Skip("bad tag value", f"{bad[0]}: {bad[1]}", id=pid, row=row.number)
                )
                continue
            title = _as_text(row.values.get(cols.title_column)) if cols.title_column else ""
            fields = {k: v for k, v in row.values.items() if v not in (None, "")}
            record = {
                "id": pid,
                "title": title,
                "image_path": str(path.resolve()),
                "image_sha256": result.sha256,
                "width": result.width,
                "height": result.height,
                "tags": tags,
                "fields": fields,
            }
            record["key"] = keys[pid]
            if pid in existing:
                old = current.get(existing[pid])
                if (
                    old is not None
                    and (old.title, old.image_sha256, old.image_path, old.tags, old.fields)
                    == (title, result.sha256, record["image_path"], tags, fields)
                    and tag_rows.get(old.key, {}) == tags
                ):
                    report.unchanged += 1
                    continue
                report.updated += 1
            else:
                report.added += 1
            batch.append(record)
            if len(batch) >= 500:
                catalogue.upsert_products(batch)
                batch = []
    if batch:
        catalogue.upsert_products(batch)
    catalogue.add_tag_families(report.tag_columns)
    catalogue.set_meta("title_column", cols.title_column)
    # A later ingest from a file without, say, a brand column keeps the one recorded.
    roles = dict(catalogue.get_meta("columns") or {})
    roles.update({r: c for r, c in report.columns.items() if c or r not in roles})
    catalogue.set_meta("columns", roles)
    for s in report.skipped:
        log.info("skipped", extra={"fields": s.as_dict()})
    return report


def ingest_file(
    catalogue: Catalogue,
    path: Path,
    images_dir: Path | None,
    opts: ColumnOptions,
    progress: bool = True,
) -> IngestReport:
    header, rows = read_table(path)
    cols = resolve_columns(header, rows, opts)
    return ingest_rows(catalogue, rows, cols, images_dir, progress=progress)
