"""What ``tag-batch`` reads: every image file in a folder, or the rows of a CSV/JSONL file
that name their photos the way ``ingest`` does (``--image-column``, else ``{id}.jpg``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shelfsight.core.errors import BadInput, Skip
from shelfsight.indexer.images import ImageError
from shelfsight.indexer.ingest import ResolvedColumns, image_path, pattern_fields, read_table

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json"}


@dataclass
class BatchSource:
    """How a table names its photos (as ``ingest``'s options); a folder needs none."""

    images_dir: Path | None = (
        None  # relative paths are read inside it (default: the table's folder)
    )
    id_column: str = "id"
    image_column: str | None = None
    image_pattern: str = "{id}.jpg"
    # A table's listing words, fused with each photo: its title and other text columns.
    title_column: str | None = None
    text_columns: tuple[str, ...] = ()


def batch_words(source: Path, opts: BatchSource) -> dict[str, list[str]]:
    """Each row's words (title, then the text columns) by the name ``batch_sources`` gives
    its photo; nothing for a folder or when no word column is named."""
    wanted = [c for c in (opts.title_column, *opts.text_columns) if c]
    if not wanted or source.is_dir():
        return {}
    header, rows = read_table(source)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise BadInput(f"missing column {missing[0]!r}; the file has: {', '.join(header)}")
    out = {}
    for row in rows:
        name = str(row.values.get(opts.id_column) or "").strip() or f"row-{row.number}"
        if not row.error:
            out[name] = [str(row.values.get(c) or "") for c in wanted]
    return out


def batch_sources(
    source: Path,
    images_dir: Path | None = None,
    id_column: str = "id",
    image_column: str | None = None,
    image_pattern: str = "{id}.jpg",
    title_column: str | None = None,
    text_columns: tuple[str, ...] = (),
) -> tuple[list[tuple[str, Path]], list[Skip]]:
    """(name, path) per photo to tag, and the rows that name no usable photo.

    A folder gives every image file under it (sorted, named by file stem). A table gives
    one photo per row, named by its id; relative paths are read inside ``images_dir``
    (default: the table's own folder)."""
    if source.is_dir():
        files = sorted(
            p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise BadInput(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
        return [(p.stem, p) for p in files], []
    if not source.is_file():
        raise BadInput(f"{source} is neither a folder of images nor a CSV/JSONL file")
    if source.suffix.lower() not in TABLE_SUFFIXES:
        raise BadInput(f"{source}: give a folder of images or a .csv/.jsonl file listing them")
    header, rows = read_table(source)
    for col, what in ((id_column, "--id-column"), (image_column, "--image-column")):
        if col is not None and col not in header:
            raise BadInput(f"missing column {col!r} ({what}); the file has: {', '.join(header)}")
    if image_column is None:
        for needed in pattern_fields(image_pattern):
            if needed not in header:
                raise BadInput(
                    f"missing column {needed!r} (placeholder in --image-pattern "
                    f"{image_pattern!r}); the file has: {', '.join(header)}"
                )
    cols = ResolvedColumns(
        id_column, None, [], None if image_column else image_pattern, image_column
    )
    root = images_dir if images_dir is not None else source.parent
    found: list[tuple[str, Path]] = []
    skipped: list[Skip] = []
    for row in rows:
        name = str(row.values.get(id_column) or "").strip()
        if row.error:
            skipped.append(Skip("malformed row", row.error, id=name, row=row.number))
            continue
        try:
            found.append((name or f"row-{row.number}", image_path(row.values, cols, root)))
        except ImageError as exc:
            skipped.append(Skip(exc.reason, exc.detail, id=name, row=row.number))
    return found, skipped
