"""`shelfsight review ...`: the inbox of kept suggestions, and `eval stream`: how much of
the merchant's work it takes away, batch after batch. Each command calls one library
method (``shelfsight.review``, ``shelfsight.stream_eval``)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from shelfsight.service.cli_common import (
    CatalogOpt,
    HoldoutOpt,
    HomeOpt,
    IdCol,
    ImagesOpt,
    ImgCol,
    ImgPattern,
    JsonOpt,
    JsonOutOpt,
    QueriesOpt,
    QueryImagesOpt,
    SeedOpt,
    TagCols,
    TitleCol,
    _column_options,
    _fail,
    _print_json,
    app,
    command,
    eval_app,
    open_workspace,
)

review_app = typer.Typer(
    help="The review inbox: suggestions kept by `tag --keep` / `tag-batch --keep`.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")
ByOpt = Annotated[str, typer.Option("--by", help="Who decides (recorded with each decision).")]
ItemArg = Annotated[int, typer.Argument(help="The review item's number.")]


def _item_line(item: Any) -> str:
    flagged = item.flagged
    tags = ", ".join(
        f"{f}={s.value}{'?' if s.review else ''}" for f, s in list(item.suggested.items())[:6]
    )
    mark = f"{len(flagged)} to check" if flagged else "nothing flagged"
    return f"{item.id:>6}  {item.status:<9} {mark:<16} {item.title[:40]:<40}  {tags}"


@command(review_app, "list")
def review_list(
    status: Annotated[str, typer.Option("--status", help="pending, accepted or rejected.")] = (
        "pending"
    ),
    needs_review: Annotated[
        bool | None,
        typer.Option("--needs-review/--no-review", help="Only items with (without) a flag."),
    ] = None,
    family: Annotated[str | None, typer.Option("--family", help="Filter on this family.")] = None,
    value: Annotated[
        str | None, typer.Option("--value", help="With --family: its suggested value.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Items of the inbox, oldest first; a ? marks a tag flagged for review."""
    items = open_workspace(home).review.items(
        status=status, needs_review=needs_review, family=family, value=value, limit=limit
    )
    if as_json:
        _print_json([_as_dict(i) for i in items])
        return
    if not items:
        typer.echo(f"no {status} items")
    for item in items:
        typer.echo(_item_line(item))


def _as_dict(item: Any) -> dict[str, Any]:
    return asdict(item) | {"flagged": item.flagged}


@command(review_app, "show")
def review_show(item_id: ItemArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """One item: each family's suggestion, score, flag and runner-ups."""
    item = open_workspace(home).review.get(item_id)
    if as_json:
        _print_json(_as_dict(item))
        return
    typer.echo(f"item {item.id} ({item.status}) {item.title}  photo: {item.image_path or '-'}")
    for family, s in item.suggested.items():
        alts = ", ".join(f"{v} {sc:.2f}" for v, sc in s.alternatives)
        flag = "  REVIEW" if s.review else ""
        typer.echo(f"  {family:<16} {s.value:<24} {s.score:.2f}{flag}   ({alts})")
    if item.product_id:
        typer.echo(f"product: {item.product_id}")


def _corrections(values: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in values or []:
        family, sep, value = pair.partition("=")
        if not sep or not family.strip() or not value.strip():
            raise _fail(f"bad correction {pair!r}: write family=value", 2)
        out[family.strip()] = value.strip()
    return out


@command(review_app, "accept")
def review_accept(
    item_ids: Annotated[list[int], typer.Argument(help="Item numbers (one or many).")],
    product_id: Annotated[
        str | None, typer.Option("--product-id", help="The new product's id (one item).")
    ] = None,
    by: ByOpt = "",
    home: HomeOpt = None,
) -> None:
    """Accept items as suggested: each becomes a catalogue product, indexed at once."""
    if product_id and len(item_ids) > 1:
        raise _fail("--product-id names one product: accept one item with it", 2)
    done = open_workspace(home).review.accept_many([(i, {}, product_id) for i in item_ids], by=by)
    for item in done:
        typer.echo(f"accepted {item.id} -> product {item.product_id or '(words only)'}")


@command(review_app, "correct")
def review_correct(
    item_id: ItemArg,
    values: Annotated[
        list[str], typer.Argument(help="family=value pairs, e.g. articleType=Kurtis.")
    ],
    product_id: Annotated[str | None, typer.Option("--product-id")] = None,
    by: ByOpt = "",
    home: HomeOpt = None,
) -> None:
    """Accept an item with corrected tags (a new value joins its family)."""
    item = open_workspace(home).review.accept(item_id, _corrections(values), product_id, by)
    typer.echo(f"accepted {item.id} with corrections -> product {item.product_id}")


@command(review_app, "reject")
def review_reject(item_id: ItemArg, by: ByOpt = "", home: HomeOpt = None) -> None:
    """Reject an item: nothing joins the catalogue."""
    open_workspace(home).review.reject(item_id, by)
    typer.echo(f"rejected {item_id}")


@command(review_app, "undo")
def review_undo(item_id: ItemArg, home: HomeOpt = None) -> None:
    """Take a decision back: an accepted item's product leaves the catalogue and index."""
    open_workspace(home).review.undo(item_id)
    typer.echo(f"item {item_id} is pending again")


@command(review_app, "stats")
def review_stats(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """How often suggestions were kept unchanged, per family and week, flagged and
    unflagged apart; and the thresholds learnt from the decisions."""
    stats = open_workspace(home).review.stats()
    if as_json:
        _print_json(stats)
        return
    typer.echo("items: " + ", ".join(f"{n} {s}" for s, n in stats["items"].items()))
    for family, periods in stats["families"].items():
        for period, c in sorted(periods.items()):
            kept = [f"{side} {c[f'{side}_kept']}/{c[side]}" for side in ("unflagged", "flagged")]
            typer.echo(f"{family:<16} {period:<9} kept unchanged: {', '.join(kept)}")
    for route, t in stats["thresholds"].items():
        typer.echo(
            f"threshold {route:<24} {t['threshold']:.3f} (weight {t['weight']:.2f}, "
            f"{t['decisions']} decisions, {t['looked']} looked at)"
        )


@command(review_app, "export")
def review_export(
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Default: stdout.")] = None,
    home: HomeOpt = None,
) -> None:
    """Every decision: suggested value and score, final value, changed, by whom, when."""
    text = open_workspace(home).review.export(fmt)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"{max(text.count(chr(10)) - (fmt == 'csv'), 0)} decisions -> {out}", err=True)


@command(eval_app, "stream")
def eval_stream(
    catalog: CatalogOpt,
    images: ImagesOpt,
    queries: QueriesOpt = None,
    query_images: QueryImagesOpt = None,
    shift: Annotated[
        str | None,
        typer.Option(
            "--shift",
            help="How the new products differ: unseen:F:N, after:year:2015, rare, balanced.",
        ),
    ] = None,
    order: Annotated[
        str, typer.Option("--order", help="random, or a column to replay in (e.g. year).")
    ] = "random",
    batch: Annotated[int, typer.Option("--batch", min=1, help="Products per batch.")] = 100,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many new products.")
    ] = None,
    text_columns: Annotated[
        str | None,
        typer.Option("--text-columns", help="The listings' word columns, comma-separated."),
    ] = None,
    holdout_fraction: HoldoutOpt = 0.2,
    seed: SeedOpt = 0,
    model: Annotated[str, typer.Option("--model", help="cnn or another index model.")] = "cnn",
    id_column: IdCol = "id",
    title_column: TitleCol = None,
    tag_columns: TagCols = None,
    image_pattern: ImgPattern = "{id}.jpg",
    image_column: ImgCol = None,
    json_out: JsonOutOpt = None,
) -> None:
    """Replay new products in batches through a learning tagger (the review inbox:
    corrections accepted, thresholds refitted) and a frozen one; the merchant's looks
    and the errors let through, per batch."""
    from shelfsight.stream_eval import StreamOptions, evaluate_stream
    from shelfsight.tagging.evaluation.shift import parse_shift

    try:
        parsed = parse_shift(shift) if shift else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    options = StreamOptions(
        queries=queries,
        query_images=query_images,
        holdout_fraction=holdout_fraction,
        seed=seed,
        columns=_column_options(id_column, title_column, tag_columns, image_pattern, image_column),
        shift=parsed,
        order=order,
        batch=batch,
        limit=limit,
        text_columns=[c.strip() for c in (text_columns or "").split(",") if c.strip()],
        model=model,
        progress=sys.stderr.isatty(),
    )
    try:
        result = evaluate_stream(catalog, images, options)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    for name in ("learning", "frozen"):
        half = result[name]["second_half"]
        typer.echo(
            f"{name:<9} second half: {half['looks_per_product']:.2f} looks/product, "
            f"{half['errors_let_through']['count']} errors let through "
            f"({half['errors_let_through']['rate']:.1%} of accepted tags)"
        )
    typer.echo(f"looks, learning against frozen: {result['second_half_looks_change']:+.1%}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2))
