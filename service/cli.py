"""The `shelfsight` command: each command parses its options, calls one method of the
library (``shelfsight.library.Shelfsight``) and renders what it returns."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from shelfsight.indexer.model_specs import HYBRID_TRUNK, LITE_ARCHS, SPECS
from shelfsight.service.cli_common import (
    AlphaOpt,
    AttributesOpt,
    CatalogOpt,
    ColourColOpt,
    HoldoutOpt,
    HomeOpt,
    IdCol,
    ImagesOpt,
    ImgCol,
    ImgPattern,
    JsonOpt,
    JsonOutOpt,
    KOpt,
    NoveltyOpt,
    PixelWeightOpt,
    PowerOpt,
    QueriesOpt,
    QueryImagesOpt,
    SeedOpt,
    TagCols,
    TitleCol,
    WhereOpt,
    _column_options,
    _fail,
    _print_json,
    app,
    command,
    eval_app,
    open_workspace,
)
from shelfsight.tagging.neighbour_tags.defaults import (
    DEFAULT_ALPHA,
    DEFAULT_POWER,
    NOVELTY_PRIOR,
)


@command()
def ingest(
    catalog: Annotated[
        Path,
        typer.Argument(
            help="Catalogue file: CSV, JSON Lines, a Shopify or WooCommerce product export, "
            "a Google product feed (TSV or XML)."
        ),
    ],
    images: Annotated[
        Path | None, typer.Option("--images", help="Folder the image paths are relative to.")
    ] = None,
    id_column: IdCol = "id",
    title_column: TitleCol = None,
    tag_columns: TagCols = None,
    image_pattern: ImgPattern = "{id}.jpg",
    image_column: ImgCol = None,
    brand_column: Annotated[
        str | None,
        typer.Option("--brand-column", help="Brand column (default: brand/Product_Brand)."),
    ] = None,
    colour_column: ColourColOpt = None,
    description_column: Annotated[
        str | None,
        typer.Option(
            "--description-column", help="Listing descriptions (default: description...)."
        ),
    ] = None,
    photos_column: Annotated[
        str | None,
        typer.Option(
            "--photos-column",
            help="Each product's other photos (a list, or comma-separated URLs or paths; "
            "default: a photos column).",
        ),
    ] = None,
    file_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto (from the header or root element), csv, jsonl, shopify, woocommerce "
            "or google-feed.",
        ),
    ] = "auto",
    allow_private_urls: Annotated[
        bool,
        typer.Option(
            "--allow-private-urls",
            help="Fetch photo URLs on private, loopback and link-local addresses too "
            "(refused by default: a catalogue must not make this host probe its network).",
        ),
    ] = False,
    fetch_workers: Annotated[
        int, typer.Option("--fetch-workers", min=1, max=64, help="Photos fetched at once.")
    ] = 8,
    per_host: Annotated[
        int,
        typer.Option("--per-host", min=1, max=16, help="Of which at most this many per host."),
    ] = 4,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load listings into the workspace (upsert; every skipped row is reported); photos
    named by URL are fetched into it (re-runs ask the server what changed)."""
    from shelfsight.indexer.remote_photos.fetch import FetchOptions

    shelf = open_workspace(home, create=True)
    opts = _column_options(id_column, title_column, tag_columns, image_pattern, image_column)
    opts.brand_column, opts.colour_column = brand_column, colour_column
    opts.description_column, opts.photos_column = description_column, photos_column
    fetch = FetchOptions(workers=fetch_workers, per_host=per_host, allow_private=allow_private_urls)
    report = shelf.ingest(
        catalog, images, opts, progress=sys.stderr.isatty(), format=file_format, fetch=fetch
    )
    ws, catalogue = shelf.workspace, shelf.catalogue
    if as_json:
        _print_json({"workspace": str(ws.home), **report.as_dict()})
        return
    if report.photos is not None:
        p = report.photos
        typer.echo(
            f"photos by URL: {p.downloaded} downloaded ({p.bytes / 1e6:.1f} MB), "
            f"{p.not_modified} unchanged (304), {sum(p.failed.values())} failed, "
            f"{p.seconds:.1f} s"
        )
    typer.echo(
        f"workspace {ws.home} ({report.format}): {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped "
        f"(catalogue now {catalogue.count()} products)"
    )
    if report.other_photos or report.photo_skips:
        typer.echo(
            f"other photos: {report.other_photos} stored behind their products' first, "
            f"{len(report.photo_skips)} left out"
        )
        for s in report.photo_skips[:10]:
            typer.echo(f"    row {s.row} id={s.id}: {s.reason} ({s.detail})")
    typer.echo(f"tag families: {', '.join(report.tag_columns) or '(none)'}")
    for column, family in report.renamed.items():
        typer.echo(f"renamed: {column} -> {family} (the catalogue's spelling of that family)")
    for column, why in report.not_tags.items():
        typer.echo(f"not tag columns: {column} ({why}; kept as a field)")
    typer.echo("columns: " + ", ".join(f"{r}={c or '-'}" for r, c in report.columns.items()))
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


@command()
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
    shelf = open_workspace(home)
    report = shelf.index(
        model,
        batch_size=batch_size,
        index_type=index_type,
        engine=engine,
        address=address,
        shards=shards,
        novelty_prior=novelty_prior,
        progress=sys.stderr.isatty(),
    )
    calibration = report.calibration
    if as_json:
        _print_json(report.as_dict())
        return
    typer.echo(
        f"index {report.version}: {report.indexed} products ({report.model}, "
        f"{report.index_type}); "
        f"embedded {report.embedded} new, {report.already_embedded} reused, "
        f"{len(report.skipped)} unreadable, {report.seconds}s"
    )
    for s in report.skipped[:20]:
        typer.echo(f"    not embedded: {s.path}: {s.reason}")
    _echo_calibration(calibration)


def _echo_calibration(cal) -> None:
    accept = ", ".join(f"{f} {c.accept_threshold:.2f}" for f, c in cal.families.items())
    typer.echo(
        f"calibrated on {cal.n_samples} products ({cal.seconds}s): out of domain beyond "
        f"distance {cal.ood_distance:.3f}, duplicates within {cal.duplicate_distance:.3f}; "
        f"auto-accept at {accept}"
    )


@command()
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
    shelf = open_workspace(home)
    report = shelf.train(
        epochs=epochs, seed=seed, cnn=cnn, novelty_prior=novelty_prior, progress=sys.stderr.isatty()
    )
    calibration = report.calibration
    if as_json:
        _print_json(report.as_dict())
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


@command()
def tag(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Image file, or a product id (leave out to tag from --title); several image "
            "files are one product seen in several photos.",
            show_default=False,
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="The listing's title: fused with the photo.")
    ] = None,
    text: Annotated[
        list[str] | None,
        typer.Option("--text", help="More of the listing's words (description, brand); repeat."),
    ] = None,
    k: KOpt = 10,
    power: PowerOpt = DEFAULT_POWER,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop tags scoring below this.")
    ] = 0.0,
    alpha: AlphaOpt = DEFAULT_ALPHA,
    attributes: AttributesOpt = "colour,shape",
    pixel_weight: PixelWeightOpt = None,
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
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the photo and its suggestions in the review inbox."),
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tag a product: IDW-KNN tag transfer (+ hybrid heads) with colour, shape and OCR,
    fused with the listing's words (--title, --text); or from the words alone."""
    shelf = open_workspace(home)
    paths = targets or []
    target = paths[0] if paths else None
    if len(paths) > 1:
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise _fail(f"several targets are photos of one product; not a file: {missing[0]}")
    if keep and target is not None and not Path(target).is_file():
        raise _fail("--keep needs a photo file (a catalogue product is already kept)")
    result = shelf.tag(
        list(paths) if len(paths) > 1 else target,
        title=title,
        text=text or (),
        k=k,
        power=power,
        alpha=alpha,
        pixel_weight=pixel_weight,
        attributes=attributes,
        colour_column=colour_column,
        ocr_timeout=ocr_timeout,
        min_score=min_score,
        review_threshold=review_threshold,
    )
    if keep:
        (result.review_item,) = shelf.review.keep(
            [result], [target], [title or ""], [" ".join(text or [])]
        )
    if as_json:
        _print_json(result.as_dict())
        return
    if result.review_item is not None:
        kept = result.review_item
        typer.echo(f"kept as review item {kept} (shelfsight review show {kept})")
    m = result.match
    if m is not None and m.duplicate_of:
        typer.echo(f"already in the catalogue as {m.duplicate_of}")
    if m is not None and m.out_of_domain:
        typer.echo(
            f"not like anything in the catalogue (nearest {m.nearest_distance:.3f} > "
            f"{m.ood_threshold:.3f}): every tag needs review"
        )
    for family, t in result.tags.items():
        alts = ", ".join(f"{a.value} {a.score:.2f}" for a in t.alternatives)
        flag = "  REVIEW" if t.review else ""
        said = f"   words: {', '.join(t.evidence['text'])}" if t.evidence else ""
        typer.echo(
            f"{family:<16} {t.value:<24} {t.score:.2f}  [{t.source}]{flag}"
            + (f"   ({alts})" if alts else "")
            + said
        )
    if result.colour:
        sw = ", ".join(f"{s.name} {s.hex} {s.share:.0%}" for s in result.colour.palette)
        typer.echo(f"palette: {sw}  (foreground: {result.colour.foreground})")
    if result.ocr:
        printed = " | ".join(ln.text for ln in result.ocr.lines) or "(none)"
        late = ", timed out" if result.ocr.timed_out else ""
        typer.echo(f"text: {printed}  ({result.ocr.seconds:.1f}s{late})")
    typer.echo("neighbours:" if result.neighbours else "(from the words alone)")
    for n in result.neighbours:
        typer.echo(f"  {n.id:<12} d={n.distance:.3f} w={n.weight:.2f}  {n.title}")


@command()
def similar(
    target: Annotated[str, typer.Argument(help="Product id from the catalogue, or an image file.")],
    k: KOpt = 10,
    where: WhereOpt = None,
    refine: Annotated[
        str | None,
        typer.Option(
            "--refine",
            help='Words that narrow it ("but in red, for women"): the tag values they name '
            "join --where.",
        ),
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the catalogue products that look most like a product or a photo."""
    result = open_workspace(home).similar(target, k, where, text=refine)
    if as_json:
        _print_json(result.as_dict())
        return
    if result.ignored:
        typer.echo(f"not understood, ignored: {', '.join(result.ignored)}", err=True)
    if refine:
        typer.echo("filters: " + "; ".join(f"{f}={'|'.join(v)}" for f, v in result.where.items()))
    if not result.results:
        typer.echo("no matching products")
    for n in result.results:
        typer.echo(f"{n.id:<12} d={n.distance:.3f}  {n.title}")


@command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find, e.g. 'red dress for women'.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=1000, help="Results.")] = 20,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="hybrid (default: keyword and semantic fused by rank), keyword (BM25, any "
            "word, prefixes) or semantic (titles nearest in meaning).",
        ),
    ] = "hybrid",
    where: WhereOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find catalogue products by text: words in titles and tags, and meaning."""
    result = open_workspace(home).search(query, k, where, mode)
    if as_json:
        _print_json(result.as_dict())
        return
    if not result.results:
        typer.echo("no matching products")
    elif not result.total and result.mode != "semantic":
        typer.echo(f"nothing matched {query!r}; the closest in meaning:", err=True)
    else:
        typer.echo(f"{result.total} products match", err=True)
    for p in result.results:
        typer.echo(f"{p.id:<12} {p.title}")


@command(eval_app, "tagging")
def eval_tagging(
    catalog: CatalogOpt,
    images: ImagesOpt,
    queries: QueriesOpt = None,
    query_images: QueryImagesOpt = None,
    holdout_fraction: HoldoutOpt = 0.2,
    seed: SeedOpt = 0,
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
    pixel_weight: PixelWeightOpt = None,
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
            "balanced[:F[:v=w,...]], unseen:F:N, rare[:F[:M]], after:C:V (README).",
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
    text_columns: Annotated[
        str | None,
        typer.Option(
            "--text-columns",
            help="Columns of each query's words, comma-separated (e.g. productDisplayName): "
            "also tag from the words alone and from photo + words, side by side.",
        ),
    ] = None,
    text_transform: Annotated[
        list[str] | None,
        typer.Option(
            "--text-transform",
            help="With --text-columns: also score the query words as another house would "
            "write them; repeat for several: drop-colour, brand-only, shuffle, typos, empty.",
        ),
    ] = None,
    json_out: JsonOutOpt = None,
) -> None:
    """Tag held-out products as new ones and compare with their own labels."""
    from shelfsight.evaluation import evaluate_tagging
    from shelfsight.tagging.evaluation.query_transforms import parse_query_transform
    from shelfsight.tagging.evaluation.report import format_table
    from shelfsight.tagging.evaluation.shift import parse_shift
    from shelfsight.tagging.evaluation.tagging import TaggingEvalOptions
    from shelfsight.tagging.text_tags.perturb import TEXT_TRANSFORMS

    opts = _column_options(id_column, title_column, tag_columns, image_pattern, image_column)
    try:
        shifts = [parse_shift(s) for s in shift or ["random"]]
        transforms: list[Any] = [parse_query_transform(t) for t in query_transform or []]
        transforms = transforms or [None]  # None: the photos as they are
        for words in text_transform or []:
            if words not in TEXT_TRANSFORMS:
                raise ValueError(f"unknown --text-transform {words!r}; choose {TEXT_TRANSFORMS}")
    except ValueError as exc:
        raise _fail(str(exc)) from None
    options = TaggingEvalOptions(
        queries=queries,
        query_images=query_images,
        holdout_fraction=holdout_fraction,
        seed=seed,
        columns=opts,
        ks=[k],
        model=model,
        powers=[power],
        alphas=[alpha],
        pixel_colour=not no_pixel_colour,
        pixel_weights=None if pixel_weight is None else [pixel_weight],
        colour_column=colour_column,
        feature_cache=feature_cache,
        min_score=min_score,
        novelty_prior=novelty_prior,
        progress=sys.stderr.isatty(),
        text_columns=[c.strip() for c in (text_columns or "").split(",") if c.strip()],
        text_transforms=text_transform or [],
    )
    blocks = []
    for one_shift in shifts:
        for transform in transforms:
            each = dataclasses.replace(options, shift=one_shift, query_transform=transform)
            (result,) = evaluate_tagging(catalog, images, each)
            typer.echo(format_table(result))
            blocks.append(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"settings": blocks}, indent=2))


# The describe and serve commands live in their own modules; importing them registers them.
from shelfsight.service import (  # noqa: E402, F401
    cli_batch,
    cli_describe,
    cli_export,
    cli_review,
    cli_serve,
)


def main() -> None:
    app()
