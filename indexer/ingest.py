"""Load a catalogue (CSV or JSON Lines) into the workspace, reporting every skipped row.

Column problems (a named column that does not exist) stop the run before anything is
written; row problems (bad id, bad image) skip that row only.
"""

from __future__ import annotations

import logging
import os
import string
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from shelfsight.core.errors import Skip
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.columns import guess_column
from shelfsight.indexer.formats import read_catalogue
from shelfsight.indexer.formats.table import CatalogueError, Preset, Row
from shelfsight.indexer.formats.table import as_text as _as_text
from shelfsight.indexer.formats.table import read_table as read_table  # its old home
from shelfsight.indexer.images import DecodedImage, ImageError, decode_file
from shelfsight.indexer.other_photos import as_photos, other_sources, probe
from shelfsight.indexer.photo_rows import Photo
from shelfsight.indexer.product_ids import ID_RULE, is_valid_id
from shelfsight.indexer.remote_photos.fetch import FetchReport, PhotoFetcher
from shelfsight.indexer.tag_names import BadTag, canonical_families, value_problem

log = logging.getLogger(__name__)

# A column this unique or this wordy is free text (a description), not a tag family.
_MAX_TAG_UNIQUE_RATIO = 0.5
_MAX_TAG_MEAN_LENGTH = 60


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
    photos_column: str | None = None  # other photos (default: a ``photos`` column)


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
    photos_column: str | None = None


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
    format: str = "csv"
    photos: FetchReport | None = None  # photos fetched by URL, when the file names any
    other_photos: int = 0  # second and later views stored with the products written
    photo_skips: list[Skip] = field(default_factory=list)  # other photos left out, and why

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
            "format": self.format,
            "photos": self.photos.as_dict() if self.photos else None,
            "other_photos": self.other_photos,
            "photo_skips": [s.as_dict() for s in self.photo_skips],
        }


# -- columns ----------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    if isinstance(v, int | float):
        return True
    try:
        float(str(v))
    except ValueError:
        return False
    return True


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

    photos = opts.photos_column
    if photos is not None:
        need(photos, "--photos-column")
    elif "photos" in have:
        photos = "photos"
    reserved = {opts.id_column, title, opts.image_column, photos}
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
        opts.id_column, title, tags, image_pattern, opts.image_column, roles, not_tags, photos
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


def is_url(raw: str) -> bool:
    return "://" in raw[:16]


def image_source(row: dict[str, Any], cols: ResolvedColumns, images_dir: Path | None) -> Path | str:
    """A row's photo: a file (its image column or the pattern, kept inside
    ``images_dir``) or a URL to fetch."""
    if cols.image_column:
        raw = _as_text(row.get(cols.image_column))
        if not raw:
            raise ImageError("missing image", f"column {cols.image_column!r} is empty")
    else:
        assert cols.image_pattern is not None
        raw = cols.image_pattern.format(**{k: _as_text(v) for k, v in row.items()})
    return resolve_source(raw, images_dir)


def resolve_source(raw: str, images_dir: Path | None) -> Path | str:
    """A photo as the catalogue names it: a URL as it is, a path kept inside
    ``images_dir``."""
    if is_url(raw):
        return raw
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


def image_path(row: dict[str, Any], cols: ResolvedColumns, images_dir: Path | None) -> Path:
    """A row's photo file; a URL is ``ImageError`` here (only ``ingest`` fetches)."""
    source = image_source(row, cols, images_dir)
    if isinstance(source, str):
        raise ImageError("photo is a URL", f"{source[:200]}: ingest the file to fetch it")
    return source


def _decode(path: Path) -> DecodedImage | ImageError:
    try:
        return decode_file(path)
    except ImageError as exc:
        return exc


def _fetched(
    candidates: list[tuple[Row, str, Path | str]],
    extra_urls: list[str],
    fetcher: PhotoFetcher | None,
    report: IngestReport,
    progress: bool,
) -> tuple[list[tuple[Row, str, Path]], dict[str, Path | ImageError]]:
    """The candidates with every URL replaced by its fetched file (a photo that could not
    be fetched skips its row with the fetcher's reason), and what each URL became; the
    other photos' ``extra_urls`` are fetched in the same pool."""
    urls = [s for _, _, s in candidates if isinstance(s, str)] + extra_urls
    got: dict[str, Path | ImageError] = {}
    if urls and fetcher is not None:
        got, report.photos = fetcher.fetch_all(urls, progress=progress)
    out: list[tuple[Row, str, Path]] = []
    for row, pid, source in candidates:
        if isinstance(source, Path):
            out.append((row, pid, source))
            continue
        result = _as_file(source, got)
        if isinstance(result, ImageError):
            report.skipped.append(Skip(result.reason, result.detail, id=pid, row=row.number))
        else:
            out.append((row, pid, result))
    return out, got


def _as_file(source: Path | str, fetched: dict[str, Path | ImageError]) -> Path | ImageError:
    """A photo's file: itself, or what its URL was fetched into (or why it was not)."""
    if isinstance(source, Path):
        return source
    return fetched.get(source) or ImageError("photo is a URL", "no fetcher was given")


def _probe_others(
    pool: ThreadPoolExecutor,
    others: dict[str, list[tuple[str, Path | str]]],
    fetched: dict[str, Path | ImageError],
) -> dict[str, list[tuple[str, Path, Future[tuple[str, int, int] | ImageError]] | ImageError]]:
    """Each product's other photos: a file being probed (hash and size), or why not."""
    out: dict[str, list[Any]] = {}
    for pid, found in others.items():
        for raw, source in found:
            path = _as_file(source, fetched)
            if isinstance(path, ImageError):
                out.setdefault(pid, []).append(path)
            else:
                out.setdefault(pid, []).append((raw, path, pool.submit(probe, path)))
    return out


def _other_photos(probed: list[Any], report: IngestReport, pid: str, row: int) -> list[Photo]:
    usable = []
    for item in probed:
        result = item if isinstance(item, ImageError) else item[2].result()
        if isinstance(result, ImageError):
            report.photo_skips.append(Skip(result.reason, result.detail, id=pid, row=row))
        else:
            usable.append((item[0], item[1], result))
    return as_photos(usable)


def ingest_rows(
    catalogue: Catalogue,
    rows: Sequence[Row],
    cols: ResolvedColumns,
    images_dir: Path | None,
    progress: bool = True,
    fetcher: PhotoFetcher | None = None,
) -> IngestReport:
    """Upsert ``rows``; photos named by URL are fetched first by ``fetcher`` (without one,
    each such row is skipped)."""
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
    sources: list[tuple[Row, str, Path | str]] = []
    others: dict[str, list[tuple[str, Path | str]]] = {}
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
            source = image_source(row.values, cols, images_dir)
        except ImageError as exc:
            report.skipped.append(Skip(exc.reason, exc.detail, id=pid, row=row.number))
            continue
        sources.append((row, pid, source))
        if cols.photos_column:
            others[pid], problems = other_sources(
                row.values.get(cols.photos_column),
                source,
                lambda raw: resolve_source(raw, images_dir),
            )
            report.photo_skips += [
                Skip(e.reason, e.detail, id=pid, row=row.number) for e in problems
            ]
    extra_urls = [s for found in others.values() for _, s in found if isinstance(s, str)]
    candidates, fetched = _fetched(sources, extra_urls, fetcher, report, progress)

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
        probes = _probe_others(pool, others, fetched)
        old_photos = catalogue.photos(existing.values())
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
            photos = _other_photos(probes.get(pid, []), report, pid, row.number)
            record["photos"] = photos
            if pid in existing:
                old = current.get(existing[pid])
                if (
                    old is not None
                    and (old.title, old.image_sha256, old.image_path, old.tags, old.fields)
                    == (title, result.sha256, record["image_path"], tags, fields)
                    and tag_rows.get(old.key, {}) == tags
                    and old_photos.get(old.key, []) == photos
                ):
                    report.unchanged += 1
                    continue
                report.updated += 1
            else:
                report.added += 1
            report.other_photos += len(photos)
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


def with_preset(opts: ColumnOptions, preset: Preset | None) -> ColumnOptions:
    """The roles a platform's format fixes, under whatever the caller named himself."""
    if preset is None:
        return opts
    return ColumnOptions(
        id_column=opts.id_column,
        title_column=opts.title_column or preset.title_column,
        tag_columns=opts.tag_columns if opts.tag_columns is not None else preset.tag_columns,
        image_column=opts.image_column or preset.image_column,
        brand_column=opts.brand_column or preset.brand_column,
        colour_column=opts.colour_column or preset.colour_column,
        description_column=opts.description_column or preset.description_column,
        photos_column=opts.photos_column,
    )


def ingest_file(
    catalogue: Catalogue,
    path: Path,
    images_dir: Path | None,
    opts: ColumnOptions,
    progress: bool = True,
    fmt: str = "auto",
    fetcher: PhotoFetcher | None = None,
) -> IngestReport:
    table = read_catalogue(path, fmt)
    cols = resolve_columns(table.header, table.rows, with_preset(opts, table.preset))
    report = ingest_rows(catalogue, table.rows, cols, images_dir, progress, fetcher)
    report.format = table.format
    return report
