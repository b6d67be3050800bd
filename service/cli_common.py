"""What every `shelfsight` command shares: the Typer app, the common options, and the
edge where library errors become a message and an exit code (``service.errors``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shelfsight.core.errors import ShelfsightError
from shelfsight.service import errors, logs

if TYPE_CHECKING:
    from shelfsight.library import Shelfsight

app = typer.Typer(
    help="Tag, find and describe e-commerce products from their photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Quality evaluations.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

NoveltyOpt = Annotated[
    float,
    typer.Option(
        "--novelty-prior",
        min=0.0,
        max=0.9,
        help="Share of new products assumed to be of types the catalogue lacks; scores and "
        "review flags are calibrated for it (0: a closed catalogue).",
    ),
]
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Workspace folder (env SHELFSIGHT_HOME, default ./shelfsight-data)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PixelWeightOpt = Annotated[
    float | None,
    typer.Option(
        "--pixel-weight",
        min=0.0,
        max=1.0,
        help="Weight of the photo's own colour against the neighbours' vote in the colour "
        "tag (default: the weight `index` fitted with the catalogue's colour model).",
    ),
]
ColourColOpt = Annotated[
    str | None,
    typer.Option(
        "--colour-column",
        help="Colour tag family (default: the one ingest recorded: baseColour, colour...).",
    ),
]
AlphaOpt = Annotated[
    float,
    typer.Option("--alpha", min=0.0, max=1.0, help="Weight of the hybrid's heads vs the KNN vote."),
]
PowerOpt = Annotated[float, typer.Option("--power", help="IDW exponent p in w=1/(d+eps)^p.")]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        help="Tag filter family=value, any case; repeat (OR within a family, AND across).",
    ),
]
AttributesOpt = Annotated[
    str,
    typer.Option(
        "--attributes", help="Pixel attributes to add: any of colour,shape,ocr; '' for none."
    ),
]
KOpt = Annotated[int, typer.Option("-k", "--k", min=1, max=1000, help="Number of neighbours.")]


@app.callback()
def _main(
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            metavar="",  # a counted flag (-v, -vv), not an option taking a number
            help="-v: what happens (an access line per request, model loads, skipped items); "
            "-vv: debug, the libraries' included.",
        ),
    ] = 0,
) -> None:
    logs.configure(verbose)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def command(
    group: typer.Typer | None = None, name: str | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command whose library errors (``ShelfsightError``) end it with their
    message and the exit code of their family, without a traceback."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                fn(*args, **kwargs)
            except ShelfsightError as exc:
                raise _fail(errors.message(exc), errors.exit_code(exc)) from None

        return (group or app).command(name)(run)

    return register


def open_workspace(home: Path | None, create: bool = False, **options: Any) -> Shelfsight:
    from shelfsight.library import open as open_shelf

    return open_shelf(home, create=create, **options)


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def _split_list(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return out


def _column_options(
    id_column: str,
    title_column: str | None,
    tag_columns: list[str] | None,
    image_pattern: str,
    image_column: str | None,
):
    from shelfsight.indexer.ingest import ColumnOptions

    return ColumnOptions(
        id_column, title_column, _split_list(tag_columns), image_pattern, image_column
    )


IdCol = Annotated[str, typer.Option("--id-column", help="Column holding the product id.")]
TitleCol = Annotated[
    str | None,
    typer.Option("--title-column", help="Title column (default: productDisplayName/title/name)."),
]
TagCols = Annotated[
    list[str] | None,
    typer.Option(
        "--tag-columns",
        help="Tag columns, comma-separated or repeated (default: every other text column).",
    ),
]
ImgPattern = Annotated[
    str,
    typer.Option("--image-pattern", help="Image file name from row fields, relative to --images."),
]
ImgCol = Annotated[
    str | None, typer.Option("--image-column", help="Column holding each image's path.")
]

# What an evaluation reads: a labelled catalogue, its photos, and optionally new products.
CatalogOpt = Annotated[Path, typer.Option("--catalog", help="Catalogue CSV/JSONL with labels.")]
ImagesOpt = Annotated[Path, typer.Option("--images", help="Catalogue image folder.")]
QueriesOpt = Annotated[
    Path | None, typer.Option("--queries", help="Query CSV (else a holdout split).")
]
QueryImagesOpt = Annotated[Path | None, typer.Option("--query-images")]
HoldoutOpt = Annotated[float, typer.Option("--holdout-fraction")]
SeedOpt = Annotated[int, typer.Option("--seed")]
JsonOutOpt = Annotated[Path | None, typer.Option("--json", help="Write the result JSON here.")]
