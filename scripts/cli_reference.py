"""The README's CLI reference, written from the Typer app itself so it cannot drift.

The README holds a cog block under each command's heading; ``make lint`` runs
``cog --check README.md``, which fails when the app and the README disagree, and
``cog -r README.md`` rewrites them:

    <!-- [[[cog import cli_reference; cli_reference.emit("ingest")]]] -->
    (generated)
    <!-- [[[end]]] -->

Each block is the command's usage line, its one-line help and a table of its arguments
and options as click renders them for ``--help`` (metavar, default, range).
"""

from __future__ import annotations

import re
from typing import Any

import click
import typer


def _group() -> Any:
    from shelfsight.service.cli import app

    return typer.main.get_command(app)  # a click group (Typer's own subclass)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def reference(path: str) -> str:
    """Markdown for ``path`` ("ingest", "eval tagging"; "" for the global options)."""
    root = _group()
    ctx = click.Context(root, info_name="shelfsight")
    command = root
    for name in path.split():
        sub = command.get_command(ctx, name)
        assert sub is not None, f"no command {path!r}"
        command = sub
        ctx = click.Context(command, info_name=name, parent=ctx)
    pieces = command.collect_usage_pieces(ctx)
    # Typer writes an argument as {name} in the usage line; --help shows NAME.
    pieces = [re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), x) for x in pieces]
    usage = " ".join(["shelfsight", *path.split(), *pieces])
    lines = [f"`{usage}`", ""]
    if command.help:
        lines += [" ".join(command.help.split("\n\n")[0].split()), ""]
    rows = [p.get_help_record(ctx) for p in command.get_params(ctx)]
    rows = [r for r in rows if r is not None and not r[0].startswith("--help")]
    if rows:
        lines += ["| argument or option | meaning |", "| --- | --- |"]
        lines += [f"| `{_cell(opts)}` | {_cell(help_text)} |" for opts, help_text in rows]
    return "\n".join(lines)


def emit(path: str) -> None:
    import cog  # only inside a cog run

    cog.outl(reference(path))


if __name__ == "__main__":
    import sys

    print(reference(" ".join(sys.argv[1:])))
