"""The `shelfsight` command: ingest, train, index, tag, similar, describe, eval."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from indexer.model_specs import HYBRID_TRUNK, LITE_ARCHS, SPECS
from service import logs
from tagging.defaults import DEFAULT_ALPHA, DEFAULT_PIXEL_WEIGHT, DEFAULT_POWER, NOVELTY_PRIOR

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
    float,
    typer.Option(
        "--pixel-weight", min=0.0, max=1.0, help="Weight of the pixel palette in the colour tag."
    ),
]
ColourColOpt = Annotated[
    str | None,
    typer.Option(
        "--colour-column", help="Colour tag family (default: baseColour or colour if present)."
    ),
]
AlphaOpt = Annotated[
    float,
    typer.Option("--alpha", min=0.0, max=1.0, help="Weight of the hybrid's heads vs the KNN vote."),
]
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
    from indexer.online import writer_lock
    from indexer.workspace import Workspace

    if images is not None and not images.is_dir():
        raise _fail(f"--images {images} is not a folder")
    ws = Workspace.open(home)
    catalogue = Catalogue(ws.db_path)
    opts = _column_options(id_column, title_column, tag_columns, image_pattern, image_column)
    try:
        with writer_lock(ws):  # a running service's writes wait, and the reverse
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
    model: Annotated[str, typer.Option("--model", help=f"Embedding model: {SPECS}.")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=1024)] = 8,
    index_type: Annotated[
        str | None,
        typer.Option(
            "--index-type",
            help="auto (by size), flat (exact), hnsw, ivf or ivfpq; see README 'Scaling'. "
            "Default: the live index's choice, auto for a first index.",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="local, or ray (embed on a Ray cluster).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster address (ray engine); default: start one."),
    ] = None,
    shards: Annotated[
        str | None,
        typer.Option("--shards", help="Ray engine: shard folder or s3:// URL every node reaches."),
    ] = None,
    novelty_prior: NoveltyOpt = NOVELTY_PRIOR,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed every product not embedded yet and rebuild the FAISS index (atomic swap)."""
    from indexer.build import EngineOptions, run_index
    from indexer.catalogue import Catalogue
    from indexer.index_types import INDEX_TYPES
    from indexer.online import writer_lock
    from indexer.workspace import Workspace

    if index_type is not None and index_type not in INDEX_TYPES:
        raise _fail(f"unknown --index-type {index_type!r}; choose one of {', '.join(INDEX_TYPES)}")
    try:
        engine_options = EngineOptions(engine, address=address, shards=shards)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise _fail("--engine ray needs Ray: pip install 'ray[data]'")
    ws = Workspace.open(home, create=False)
    catalogue = Catalogue(ws.db_path)
    if catalogue.count() == 0:
        raise _fail("the catalogue is empty; run `shelfsight ingest` first")
    embedder = _load_model(model, ws.home)
    with writer_lock(ws):
        report = run_index(
            ws,
            catalogue,
            embedder,
            batch_size=batch_size,
            progress=sys.stderr.isatty(),
            index_type=index_type,
            engine=engine_options,
        )
        calibration = _calibrate(ws, catalogue, embedder, novelty_prior)
    if as_json:
        _print_json({**report.as_dict(), "calibration": calibration.summary()})
        return
    typer.echo(
        f"index {report.version}: {report.indexed} products ({report.model}, "
        f"{report.index_type}); "
        f"embedded {report.embedded} new, {report.already_embedded} reused, "
        f"{len(report.skipped)} unreadable, {report.seconds}s"
    )
    for s in report.skipped[:20]:
        typer.echo(f"    not embedded: {s['path']}: {s['reason']}")
    _echo_calibration(calibration)


def _calibrate(ws, catalogue, embedder=None, novelty_prior=NOVELTY_PRIOR):
    """Fit what the live index's scores mean (tagging.calibration) and store it."""
    from tagging.calibration import calibrate_workspace
    from tagging.neighbours import NeighbourSearch

    search = NeighbourSearch(ws, catalogue, embedder=embedder)
    return calibrate_workspace(search, novelty_prior=novelty_prior)


def _echo_calibration(cal) -> None:
    accept = ", ".join(f"{f} {c.accept_threshold:.2f}" for f, c in cal.families.items())
    typer.echo(
        f"calibrated on {cal.n_samples} products ({cal.seconds}s): out of domain beyond "
        f"distance {cal.ood_distance:.3f}, duplicates within {cal.duplicate_distance:.3f}; "
        f"auto-accept at {accept}"
    )


def _load_model(spec: str, home: Path):
    from indexer.embedders import ModelNotTrained, load_embedder
    from indexer.embedders.hybrid import ModelFileError

    try:
        return load_embedder(spec, home)
    except (ValueError, ModelNotTrained, ModelFileError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def train(
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=500)] = 18,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    cnn: Annotated[
        str, typer.Option("--cnn", help=f"Frozen CNN under the ViT: {', '.join(LITE_ARCHS)}.")
    ] = HYBRID_TRUNK,
    novelty_prior: NoveltyOpt = NOVELTY_PRIOR,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit the hybrid CNN-ViT to the catalogue's tags, then re-embed and re-index with it."""
    from indexer.catalogue import Catalogue
    from indexer.embedders.hybrid import HybridConfig
    from indexer.online import writer_lock
    from indexer.train import TrainOptions, train_workspace
    from indexer.workspace import Workspace

    ws = Workspace.open(home, create=False)
    catalogue = Catalogue(ws.db_path)
    try:
        with writer_lock(ws):
            report = train_workspace(
                ws,
                catalogue,
                cfg=HybridConfig(arch=cnn),
                opts=TrainOptions(epochs=epochs, seed=seed),
                progress=sys.stderr.isatty(),
            )
            calibration = _calibrate(ws, catalogue, novelty_prior=novelty_prior)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json({**report.as_dict(), "calibration": calibration.summary()})
        return
    typer.echo(
        f"model {report.model_name} ({report.model_bytes / 1e6:.1f} MB) -> {report.model_path}\n"
        f"trained on {report.n_train}, validated on {report.n_val}: best epoch "
        f"{report.best_epoch}/{report.epochs_run}; features {report.feature_seconds}s, "
        f"training {report.train_seconds}s, re-index {report.index_seconds}s "
        f"({report.indexed} products)"
    )
    for fam, acc in report.val_accuracy.items():
        before = report.untrained_val_accuracy.get(fam, 0.0)
        typer.echo(f"  {fam:<16} head accuracy {acc:.3f} (untrained {before:.3f})")
    _echo_calibration(calibration)


def _open_search(home: Path | None):
    from indexer.vector_index import IndexMissing
    from indexer.workspace import Workspace
    from tagging.neighbours import NeighbourSearch

    try:
        search = NeighbourSearch(Workspace.open(home, create=False))
    except (IndexMissing, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    return search


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
    alpha: AlphaOpt = DEFAULT_ALPHA,
    attributes: Annotated[
        str,
        typer.Option(
            "--attributes", help="Pixel attributes to add: any of colour,shape,ocr; '' for none."
        ),
    ] = "colour,shape",
    pixel_weight: PixelWeightOpt = DEFAULT_PIXEL_WEIGHT,
    colour_column: ColourColOpt = None,
    ocr_timeout: Annotated[
        float, typer.Option("--ocr-timeout", help="Seconds OCR may take.")
    ] = 20.0,
    review_threshold: Annotated[
        float | None,
        typer.Option(
            "--review-threshold",
            min=0.0,
            max=1.0,
            help="Flag tags scoring below this for review, in every family (default: each "
            "family's fitted 95%-precision threshold).",
        ),
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tag a product: IDW-KNN tag transfer (+ hybrid heads) with colour, shape and OCR."""
    from indexer.embedders.hybrid import ModelFileError
    from tagging.pipeline import Pipeline, PipelineOptions

    search = _open_search(home)
    opts = PipelineOptions(
        k=k,
        power=power,
        alpha=alpha,
        pixel_weight=pixel_weight,
        attributes=tuple(a.strip() for a in attributes.split(",") if a.strip()),
        colour_column=colour_column,
        ocr_timeout=ocr_timeout,
        min_score=min_score,
        review_threshold=review_threshold,
    )
    try:
        query = _query(search, target)
        result = Pipeline(search).run(query, query.image, opts)
    except (ModelFileError, FileNotFoundError) as exc:  # the index's model file is damaged
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(result.as_dict())
        return
    m = result.match
    if m is not None and m.duplicate_of:
        typer.echo(f"already in the catalogue as {m.duplicate_of}")
    if m is not None and m.out_of_domain:
        typer.echo(
            f"not like anything in the catalogue (nearest {m.nearest_distance:.3f} > "
            f"{m.ood_threshold:.3f}): every tag needs review"
        )
    for family, t in {**result.tags, **result.attribute_tags}.items():
        alts = ", ".join(f"{v} {s:.2f}" for v, s in t.alternatives)
        flag = "  REVIEW" if t.review else ""
        typer.echo(
            f"{family:<16} {t.value:<24} {t.score:.2f}  [{t.source}]{flag}"
            + (f"   ({alts})" if alts else "")
        )
    if result.palette:
        sw = ", ".join(f"{s.name} {s.hex} {s.share:.0%}" for s in result.palette.swatches)
        typer.echo(f"palette: {sw}  (foreground: {result.palette.foreground})")
    if result.ocr:
        text = " | ".join(ln.text for ln in result.ocr.lines) or "(none)"
        late = ", timed out" if result.ocr.timed_out else ""
        typer.echo(f"text: {text}  ({result.ocr.seconds:.1f}s{late})")
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

    search = _open_search(home)
    try:
        filters = parse_where(where)
        search.catalogue.check_where(filters)
    except ValueError as exc:  # malformed, or a family / value the catalogue lacks
        raise _fail(str(exc)) from None
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
    model: Annotated[
        str,
        typer.Option("--model", help="cnn, hybrid (trained on the catalogue rows), openclip:..."),
    ] = "cnn",
    power: PowerOpt = DEFAULT_POWER,
    alpha: AlphaOpt = DEFAULT_ALPHA,
    pixel_weight: PixelWeightOpt = DEFAULT_PIXEL_WEIGHT,
    no_pixel_colour: Annotated[
        bool, typer.Option("--no-pixel-colour", help="Colour from the neighbours (and heads) only.")
    ] = False,
    colour_column: ColourColOpt = None,
    feature_cache: Annotated[
        Path | None,
        typer.Option("--feature-cache", help="Reuse CNN feature maps across runs (SQLite file)."),
    ] = None,
    min_score: Annotated[float, typer.Option("--min-score")] = 0.0,
    shift: Annotated[
        list[str] | None,
        typer.Option(
            "--shift",
            help="Query set unlike the catalogue; repeat for several: random, "
            "balanced[:F[:v=w,...]], unseen:F:N, rare[:F[:M]] (README).",
        ),
    ] = None,
    query_transform: Annotated[
        list[str] | None,
        typer.Option(
            "--query-transform",
            help="Re-render query photos, e.g. crop:0.8,backdrop:grey; repeat for several: "
            "aspect:WxH, crop:F, pad, backdrop:COLOUR, jpeg:Q, rotate:DEG, downscale:F.",
        ),
    ] = None,
    novelty_prior: NoveltyOpt = NOVELTY_PRIOR,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result JSON here.")
    ] = None,
) -> None:
    """Tag held-out products as new ones and compare with their own labels."""
    from indexer.ingest import CatalogueError
    from tagging.evaluate import evaluate_tagging, format_table
    from tagging.query_transforms import parse_query_transform
    from tagging.shift import parse_shift

    opts = _column_options(id_column, title_column, tag_columns, image_pattern, image_column)
    try:
        shifts = [parse_shift(s) for s in shift or ["random"]]
        transforms = [parse_query_transform(t) for t in query_transform or []] or [None]
    except ValueError as exc:
        raise _fail(str(exc)) from None
    run = functools.partial(
        evaluate_tagging,
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
        alphas=[alpha],
        pixel_colour=not no_pixel_colour,
        pixel_weights=[pixel_weight],
        colour_column=colour_column,
        feature_cache=feature_cache,
        min_score=min_score,
        novelty_prior=novelty_prior,
        progress=sys.stderr.isatty(),
    )
    blocks = []
    for one_shift in shifts:
        for transform in transforms:
            try:
                (result,) = run(shift=one_shift, query_transform=transform)
            except (CatalogueError, ValueError) as exc:
                raise _fail(str(exc)) from None
            typer.echo(format_table(result))
            blocks.append(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"settings": blocks}, indent=2))


# The describe commands live in their own module; importing it registers them.
from service import cli_describe, cli_serve  # noqa: E402, F401


def main() -> None:
    from indexer.disk_full import DiskFull

    try:
        app()
    except DiskFull as exc:
        # Every write rolled back before this surfaced: say so, without a traceback.
        typer.secho(f"error: {exc.strerror}; nothing was changed", fg=typer.colors.RED, err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
