"""The `shelfsight` command: ingest, index, tag, similar, eval."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from service import logs
from tagging.knn import DEFAULT_POWER

app = typer.Typer(
    help="Tag, find and describe e-commerce products from their photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Quality evaluations.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Workspace folder (env SHELFSIGHT_HOME, default ./shelfsight-data)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PowerOpt = Annotated[float, typer.Option("--power", help="IDW exponent p in w=1/(d+eps)^p.")]
KOpt = Annotated[int, typer.Option("-k", "--k", min=1, max=1000, help="Number of neighbours.")]


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="-v info, -vv debug.")
    ] = 0,
) -> None:
    logs.configure(verbose)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


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
    from indexer.ingest import ColumnOptions

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


@app.command()
def ingest(
    catalog: Annotated[Path, typer.Argument(help="Catalogue CSV or JSON Lines file.")],
    images: Annotated[
        Path | None, typer.Option("--images", help="Folder the image paths are relative to.")
    ] = None,
    id_column: IdCol = "id",
    title_column: TitleCol = None,
    tag_columns: TagCols = None,
    image_pattern: ImgPattern = "{id}.jpg",
    image_column: ImgCol = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load listings into the workspace (upsert; every skipped row is reported)."""
    from indexer.catalogue import Catalogue
    from indexer.ingest import CatalogueError, ingest_file
    from indexer.workspace import Workspace

    if images is not None and not images.is_dir():
        raise _fail(f"--images {images} is not a folder")
    ws = Workspace.open(home)
    catalogue = Catalogue(ws.db_path)
    opts = _column_options(id_column, title_column, tag_columns, image_pattern, image_column)
    try:
        report = ingest_file(catalogue, catalog, images, opts, progress=sys.stderr.isatty())
    except CatalogueError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json({"workspace": str(ws.home), **report.as_dict()})
        return
    typer.echo(
        f"workspace {ws.home}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped "
        f"(catalogue now {catalogue.count()} products)"
    )
    typer.echo(f"tag families: {', '.join(report.tag_columns) or '(none)'}")
    if report.converted:
        modes = ", ".join(f"{m} x{n}" for m, n in report.converted.items())
        typer.echo(f"converted to RGB: {modes}")
    for reason, n in report.skip_reasons().most_common():
        typer.echo(f"  skipped {n:>5}  {reason}")
    for s in report.skipped[:20]:
        detail = f" ({s.detail})" if s.detail else ""
        typer.echo(f"    row {s.row} id={s.id or '-'}: {s.reason}{detail}")
    if len(report.skipped) > 20:
        typer.echo(f"    ... {len(report.skipped) - 20} more (use --json for all)")


@app.command()
def index(
    model: Annotated[
        str, typer.Option("--model", help="Embedding model: cnn or cnn:ARCH.")
    ] = "cnn",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=1024)] = 8,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed every product not embedded yet and rebuild the FAISS index (atomic swap)."""
    from indexer.build import run_index
    from indexer.catalogue import Catalogue
    from indexer.embedders import load_embedder
    from indexer.workspace import Workspace

    ws = Workspace.open(home, create=False)
    catalogue = Catalogue(ws.db_path)
    if catalogue.count() == 0:
        raise _fail("the catalogue is empty; run `shelfsight ingest` first")
    try:
        embedder = load_embedder(model)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    report = run_index(ws, catalogue, embedder, batch_size=batch_size, progress=sys.stderr.isatty())
    if as_json:
        _print_json(report.as_dict())
        return
    typer.echo(
        f"index {report.version}: {report.indexed} products ({report.model}); "
        f"embedded {report.embedded} new, {report.already_embedded} reused, "
        f"{len(report.skipped)} unreadable, {report.seconds}s"
    )
    for s in report.skipped[:20]:
        typer.echo(f"    not embedded: {s['path']}: {s['reason']}")


def _open_search(home: Path | None):
    from indexer.vector_index import IndexMissing
    from indexer.workspace import Workspace
    from tagging.neighbours import NeighbourSearch

    try:
        return NeighbourSearch(Workspace.open(home, create=False))
    except (IndexMissing, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None


def _query(search, target: str):
    from indexer.images import ImageError
    from tagging.neighbours import UnknownProduct

    try:
        return search.query_for(target)
    except UnknownProduct as exc:
        raise _fail(f"{target!r} is neither a product id nor an image file ({exc})") from None
    except ImageError as exc:
        raise _fail(f"{target}: {exc}") from None


@app.command()
def tag(
    target: Annotated[str, typer.Argument(help="Image file, or a product id from the catalogue.")],
    k: KOpt = 10,
    power: PowerOpt = DEFAULT_POWER,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop tags scoring below this.")
    ] = 0.0,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tag a product by inverse-distance-weighted KNN tag transfer."""
    search = _open_search(home)
    result = search.tag(_query(search, target), k=k, power=power, min_score=min_score)
    if as_json:
        _print_json(result.as_dict())
        return
    for family, t in result.tags.items():
        alts = ", ".join(f"{v} {s:.2f}" for v, s in t.alternatives)
        typer.echo(f"{family:<16} {t.value:<24} {t.score:.2f}" + (f"   ({alts})" if alts else ""))
    typer.echo("neighbours:")
    for n in result.neighbours:
        typer.echo(f"  {n.id:<12} d={n.distance:.3f} w={n.weight:.2f}  {n.title}")


@app.command()
def similar(
    target: Annotated[str, typer.Argument(help="Product id from the catalogue, or an image file.")],
    k: KOpt = 10,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where", help="Tag filter family=value; repeat (OR within a family, AND across)."
        ),
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the catalogue products that look most like a product or a photo."""
    from tagging.neighbours import parse_where

    try:
        filters = parse_where(where)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    search = _open_search(home)
    neighbours = search.neighbours(_query(search, target), k, where=filters)
    if as_json:
        _print_json(
            {"query": target, "where": filters, "results": [n.as_dict() for n in neighbours]}
        )
        return
    if not neighbours:
        typer.echo("no matching products")
    for n in neighbours:
        typer.echo(f"{n.id:<12} d={n.distance:.3f}  {n.title}")


@eval_app.command("tagging")
def eval_tagging(
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalogue CSV/JSONL with labels.")],
    images: Annotated[Path, typer.Option("--images", help="Catalogue image folder.")],
    queries: Annotated[
        Path | None, typer.Option("--queries", help="Query CSV (else a holdout split).")
    ] = None,
    query_images: Annotated[Path | None, typer.Option("--query-images")] = None,
    holdout_fraction: Annotated[float, typer.Option("--holdout-fraction")] = 0.2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    id_column: IdCol = "id",
    title_column: TitleCol = None,
    tag_columns: TagCols = None,
    image_pattern: ImgPattern = "{id}.jpg",
    image_column: ImgCol = None,
    k: KOpt = 10,
    model: Annotated[str, typer.Option("--model")] = "cnn",
    power: PowerOpt = DEFAULT_POWER,
    min_score: Annotated[float, typer.Option("--min-score")] = 0.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result JSON here.")
    ] = None,
) -> None:
    """Tag held-out products as new ones and compare with their own labels."""
    from indexer.ingest import CatalogueError
    from tagging.evaluate import evaluate_tagging, format_table

    opts = _column_options(id_column, title_column, tag_columns, image_pattern, image_column)
    try:
        (result,) = evaluate_tagging(
            catalog,
            images,
            queries,
            query_images,
            holdout_fraction,
            seed,
            opts,
            ks=[k],
            model=model,
            powers=[power],
            min_score=min_score,
            progress=sys.stderr.isatty(),
        )
    except (CatalogueError, ValueError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(format_table(result))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
