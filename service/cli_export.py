"""`shelfsight export` (registered on the main app): the catalogue's tags in a platform's
import shape, to a file (written whole or not at all) or to standard output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from shelfsight.service.cli_common import HomeOpt, _split_list, command, open_workspace


@command()
def export(
    file_format: Annotated[
        str,
        typer.Option(
            "--format", help="csv, jsonl, shopify, woocommerce or google-feed (supplemental)."
        ),
    ] = "csv",
    only_reviewed: Annotated[
        bool,
        typer.Option(
            "--only-reviewed", help="Only products a person accepted in the review inbox."
        ),
    ] = False,
    families: Annotated[
        list[str] | None,
        typer.Option("--families", help="Families to export, comma-separated (default: all)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Write the catalogue's tags back out in the shape a shop platform imports."""
    shelf = open_workspace(home)
    wanted = _split_list(families)
    if output is None:
        sys.stdout.writelines(
            shelf.export(file_format, only_reviewed=only_reviewed, families=wanted)
        )
        return
    rows = shelf.export_file(output, file_format, only_reviewed=only_reviewed, families=wanted)
    typer.echo(f"wrote {output} ({file_format}, {rows} rows)", err=True)
