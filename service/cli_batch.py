"""`shelfsight tag-batch`: tag every photo in a folder or a CSV, one row per photo."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from shelfsight.service.cli_common import (
    AttributesOpt,
    HomeOpt,
    IdCol,
    ImgCol,
    ImgPattern,
    KOpt,
    _fail,
    command,
    open_workspace,
)

FORMATS = ("csv", "jsonl")
SHOW_SKIPS = 20


@command(name="tag-batch")
def tag_batch(
    source: Annotated[
        Path, typer.Argument(help="A folder of photos, or a CSV/JSONL file naming them.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write here (.csv or .jsonl); default: CSV on stdout."),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option("--images", help="Folder a table's image paths are relative to."),
    ] = None,
    id_column: IdCol = "id",
    image_pattern: ImgPattern = "{id}.jpg",
    image_column: ImgCol = None,
    title_column: Annotated[
        str | None,
        typer.Option("--title-column", help="A table's title column: fused with each photo."),
    ] = None,
    text_columns: Annotated[
        str | None,
        typer.Option("--text-columns", help="More word columns (description, brand), commas."),
    ] = None,
    attributes: AttributesOpt = "colour,shape",
    k: KOpt = 10,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from --out's suffix).")
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Keep each tagged photo and its suggestions in the review inbox, as it goes.",
        ),
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Tag many photos: each family's value, score, source and review flag, out-of-domain
    and duplicate information, palette and shape; unreadable files are skipped with the
    reason (the rest go ahead)."""
    fmt = fmt or (out.suffix.lstrip(".").lower() if out is not None else "csv")
    if fmt not in FORMATS:
        raise _fail(f"--format must be csv or jsonl (got {fmt!r})", 2)
    from shelfsight.indexer.batch_sources import BatchSource
    from shelfsight.tagging.neighbour_tags.batch import csv_header, csv_row

    shelf = open_workspace(home)
    items = shelf.tag_batch(
        source,
        progress=True,
        source=BatchSource(
            images,
            id_column,
            image_column,
            image_pattern,
            title_column,
            tuple(c.strip() for c in (text_columns or "").split(",") if c.strip()),
        ),
        k=k,
        attributes=attributes,
    )
    reasons: Counter[str] = Counter()
    skipped: list[Any] = []
    tagged = kept = 0
    with _OutputFile(out) as fh:
        writer: Any = None
        if fmt == "csv":
            columns = shelf.batch_columns(attributes)
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writerow(csv_header(columns))
        for item in items:
            if item.skipped is not None:
                reasons[item.skipped.reason] += 1
                skipped.append(item)
            else:
                tagged += 1
                if keep and item.result is not None:
                    # One item a transaction: a run killed halfway leaves whole items.
                    shelf.review.keep([item.result], [item.path], [item.words or ""])
                    kept += 1
            if writer is not None:
                writer.writerow(csv_row(item))
            else:
                fh.write(json.dumps(item.as_dict(), ensure_ascii=False) + "\n")
            fh.flush()
    # After the progress bar, not through it: each photo left out and why.
    for item in skipped[:SHOW_SKIPS]:
        assert item.skipped is not None
        detail = f": {item.skipped.detail}" if item.skipped.detail else ""
        typer.echo(f"skipped {item.path or item.name}: {item.skipped.reason}{detail}", err=True)
    if len(skipped) > SHOW_SKIPS:
        typer.echo(f"... and {len(skipped) - SHOW_SKIPS} more (status=skipped rows)", err=True)
    why = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
    where = f" -> {out}" if out is not None else ""
    where += f"; {kept} kept for review (shelfsight review list)" if keep else ""
    typer.echo(
        f"tagged {tagged}, skipped {sum(reasons.values())}{f' ({why})' if why else ''}{where}",
        err=True,
    )
    if not tagged and reasons:
        raise _fail("no photo could be tagged", 2)


class _OutputFile:
    """The --out file (written next to it, then moved into place), else stdout."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.partial") if path is not None else None
        self.fh: TextIO = sys.stdout

    def __enter__(self) -> TextIO:
        if self.tmp is not None:
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.tmp, "w", newline="", encoding="utf-8")
        return self.fh

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if self.tmp is None or self.path is None:
            return
        self.fh.close()
        # A run stopped halfway leaves what it wrote in the .partial file, and an older
        # complete file in place; a finished run replaces it.
        if exc_type is None:
            self.tmp.replace(self.path)
