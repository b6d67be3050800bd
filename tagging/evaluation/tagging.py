"""`shelfsight eval tagging`: tag held-out products as new ones and score against their labels.

The catalogue workspace is built from the catalogue rows only; queries never enter it.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from shelfsight.indexer.build import run_index
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.embedders import Embedder, load_embedder
from shelfsight.indexer.embedders.batches import iter_embedded
from shelfsight.indexer.embedders.hybrid import HybridConfig
from shelfsight.indexer.images import decode_file
from shelfsight.indexer.ingest import (
    ColumnOptions,
    ResolvedColumns,
    Row,
    _as_text,
    ingest_rows,
    read_table,
    resolve_columns,
)
from shelfsight.indexer.train import TrainOptions, train_workspace
from shelfsight.indexer.workspace import Workspace
from shelfsight.tagging.evaluation.query_transforms import QueryTransform, transformed_paths
from shelfsight.tagging.evaluation.shift import Shift, apply_shift, choose_stratify_family
from shelfsight.tagging.evaluation.words import new_values, query_text, word_predictions
from shelfsight.tagging.neighbour_tags.calibration import Calibration
from shelfsight.tagging.neighbour_tags.calibration_fit import fit_calibration
from shelfsight.tagging.neighbour_tags.colour_fit import load_colour_model
from shelfsight.tagging.neighbour_tags.confidence import (
    confidence_report,
    expected_calibration_error,
)
from shelfsight.tagging.neighbour_tags.defaults import DEFAULT_PIXEL_WEIGHT, NOVELTY_PRIOR
from shelfsight.tagging.neighbour_tags.knn import DEFAULT_ALPHA, DEFAULT_POWER, best_tags
from shelfsight.tagging.neighbour_tags.scoring import combined_scores
from shelfsight.tagging.neighbour_tags.text_fit import fit_text_tags
from shelfsight.tagging.pixels.colour import Palette, colour_family, fuse_pixel_colour, palette
from shelfsight.tagging.pixels.colour_model import (
    ColourModel,
    PixelVote,
    Ranked,
    Weight,
    as_rule,
    weight_from_settings,
    weight_settings,
)
from shelfsight.tagging.search.visual import Neighbour, NeighbourSearch, Query, nearest_distance
from shelfsight.tagging.text_tags.fusion import TextTags
from shelfsight.tagging.text_tags.perturb import transform_text

log = logging.getLogger(__name__)


@dataclass
class EvalSetup:
    catalog_rows: list[Row]
    query_rows: list[Row]
    cols: ResolvedColumns
    query_images: Path
    stratified_by: str | None
    shift: Shift = field(default_factory=Shift)
    groups: dict[str, list[int]] = field(default_factory=dict)  # name -> query row indices
    held_out_values: list[str] = field(default_factory=list)


def prepare_setup(
    catalog: Path,
    images: Path,
    queries: Path | None,
    query_images: Path | None,
    holdout_fraction: float,
    seed: int,
    opts: ColumnOptions,
    shift: Shift | None = None,
) -> EvalSetup:
    header, rows = read_table(catalog)
    cols = resolve_columns(header, rows, opts)
    shift = shift or Shift()
    if queries is not None:
        if shift.kind != "random":
            raise ValueError("--shift builds its own queries: leave out --queries")
        q_header, q_rows = read_table(queries)
        resolve_columns(q_header, q_rows, _with_tags(opts, cols.tag_columns))
        groups = {"all": list(range(len(q_rows)))}
        return EvalSetup(rows, q_rows, cols, query_images or images, None, shift, groups)
    good = [r for r in rows if r.error is None]
    family = choose_stratify_family(good, cols.tag_columns)
    split = apply_shift(good, shift, family, holdout_fraction, seed)
    return EvalSetup(
        split.catalog,
        split.queries,
        cols,
        images,
        family,
        shift,
        split.groups,
        split.held_out_values,
    )


def _with_tags(opts: ColumnOptions, tags: list[str]) -> ColumnOptions:
    return ColumnOptions(
        opts.id_column, opts.title_column, list(tags), opts.image_pattern, opts.image_column
    )


def score_predictions(
    truth: list[dict[str, str]], preds: list[dict[str, tuple[Any, ...]]], families: list[str]
) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    tp = n_pred = n_true = 0
    for fam in families:
        y_true, y_pred, y_score, y_review, y_raw = [], [], [], [], []
        for t, p in zip(truth, preds, strict=True):
            if not t.get(fam):
                continue
            # (value, score) or (value, calibrated score, review, raw score)
            value, score, review, raw = (
                (*p[fam], False, None)[:4] if fam in p else ("<none>", 0.0, True, 0.0)
            )
            y_true.append(t[fam])
            y_pred.append(value)
            y_score.append(score)
            y_review.append(bool(review))
            y_raw.append(score if raw is None else raw)
        if not y_true:
            continue
        hits = [a == b for a, b in zip(y_true, y_pred, strict=True)]
        correct = sum(hits)
        majority = Counter(y_true).most_common(1)[0][1] / len(y_true)
        attributes[fam] = {
            "accuracy": round(correct / len(y_true), 4),
            # Macro over the classes the queries actually carry.
            "macro_f1": round(
                float(
                    f1_score(
                        y_true, y_pred, labels=sorted(set(y_true)), average="macro", zero_division=0
                    )
                ),
                4,
            ),
            "support": len(y_true),
            "majority_accuracy": round(majority, 4),
            **confidence_report(y_score, hits),
            "raw_ece": round(expected_calibration_error(y_raw, hits), 4),
            "review_rate": round(float(np.mean(y_review)), 4),
            # How right the tags a merchant would not review are.
            "accepted_accuracy": round(
                float(np.mean([h for h, r in zip(hits, y_review, strict=True) if not r]))
                if not all(y_review)
                else 0.0,
                4,
            ),
        }
        tp += correct
        n_true += len(y_true)
        n_pred += sum(1 for p in y_pred if p != "<none>")
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "attributes": attributes,
        "micro": {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)},
    }


@dataclass
class TaggingEvalOptions:
    """What ``evaluate_tagging`` measures and how. Lists (``ks``, ``powers``, ``alphas``,
    ``pixel_weights``) are a grid: one result per combination, from one query pass."""

    queries: Path | None = None  # a labelled query file instead of a held-out split
    query_images: Path | None = None
    holdout_fraction: float = 0.2
    seed: int = 0
    columns: ColumnOptions | None = None
    ks: Sequence[int] = (10,)
    # ``hybrid`` trains the ViT stage on the catalogue rows (never the queries) first;
    # ``hybrid:efficientnet_lite2`` on another frozen CNN.
    model: str = "cnn"
    powers: Sequence[float] = (DEFAULT_POWER,)
    # The weight of the hybrid's heads against the KNN vote (ignored without heads).
    alphas: Sequence[float] | None = None
    min_score: float = 0.0
    workdir: Path | None = None
    progress: bool = True
    embedder: Embedder | None = None
    feature_cache: Path | None = None
    train_options: TrainOptions | None = None
    # The colour family fused with each query's own palette, as the default pipeline does;
    # ``pixel_weights``: the fusion weights to score (0 the vote alone, 1 the pixels alone).
    pixel_colour: bool = True
    pixel_weights: Sequence[float] | None = None
    colour_column: str | None = None
    # A query set unlike the catalogue (``tagging.evaluation.shift``); each query photo
    # re-rendered (``tagging.evaluation.query_transforms``).
    shift: Shift | None = None
    query_transform: QueryTransform | None = None
    novelty_prior: float = NOVELTY_PRIOR
    # Columns holding each query listing's words (its title column, a description...):
    # when given, every query is also tagged from its words alone and from both
    # (``blocks``: photo, text, listing).
    text_columns: Sequence[str] = ()
    # The query words also as other houses would write them (``text_tags.perturb``),
    # each scored beside the words as written, from the same query pass.
    text_transforms: Sequence[str] = ()


@dataclass
class _Workspace:
    """The evaluation's scratch catalogue, indexed and calibrated as ``index`` would."""

    search: NeighbourSearch
    embedder: Embedder
    families: list[str]
    colour_family: str | None
    colour_vocab: set[str] | None
    calibration: Calibration
    loaded: int
    skipped: int
    train: dict[str, Any] | None
    text_tags: TextTags | None = None


@dataclass
class _Queries:
    """Each query's labels and what the catalogue says of it (neighbours, heads, pixels)."""

    truth: list[dict[str, str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    neighbours: list[list[Neighbour]] = field(default_factory=list)
    heads: list[dict[str, list[tuple[str, float]]] | None] = field(default_factory=list)
    pixels: list[PixelVote] = field(default_factory=list)
    # the palette's colour names (the pixel vote before issue 28), for the colour report
    palettes: list[list[tuple[str, float]] | None] = field(default_factory=list)
    # the palette as `tag` serves it, its swatches named by the colour model once the
    # neighbours' scores are known: what its first swatch says, for the colour report
    named_palettes: list[Callable[[dict[str, Ranked]], str] | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    skipped: int = 0


TRAIN_FIELDS = (
    "train_seconds",
    "feature_seconds",
    "best_epoch",
    "epochs_run",
    "model_bytes",
    "val_accuracy",
)


def evaluate_tagging(
    catalog: Path, images: Path, options: TaggingEvalOptions | None = None
) -> list[dict[str, Any]]:
    """Tag held-out products of a labelled catalogue as new ones and score them: one
    result dict per (k, power, alpha, pixel weight), all from one workspace and one query
    pass; groups of queries (seen / unseen, common / rare) are scored apart as well."""
    o = options or TaggingEvalOptions()
    t0 = time.perf_counter()
    setup = prepare_setup(
        catalog,
        images,
        o.queries,
        o.query_images,
        o.holdout_fraction,
        o.seed,
        o.columns or ColumnOptions(),
        o.shift,
    )
    with tempfile.TemporaryDirectory(prefix="shelfsight-eval-", dir=o.workdir) as tmp:
        ws = _build_workspace(Path(tmp), setup, images, o)
        queries = _query_pass(Path(tmp), setup, ws, o)
        ws.search.catalogue.close()
    has_heads = any(h is not None for h in queries.heads)
    alphas = o.alphas
    if alphas is None or not has_heads:
        alphas = [DEFAULT_ALPHA if has_heads else 0.0]
    pixel_weights: Sequence[Weight] | None = o.pixel_weights
    if not ws.colour_family:
        pixel_weights = [0.0]
    elif pixel_weights is None:  # the weight the fit chose, as `tag` serves it
        pixel_weights = [weight_from_settings(ws.calibration.settings, DEFAULT_PIXEL_WEIGHT)]
    seconds = time.perf_counter() - t0
    results = []
    for k, power, alpha, beta in itertools.product(o.ks, o.powers, alphas, pixel_weights):
        preds, ood, tags, scores = _predict(ws, queries, k, power, alpha, beta, o.min_score)
        scored = score_predictions(queries.truth, preds, ws.families)
        blocks: dict[str, Any] = {}
        if ws.text_tags is not None:
            blocks = {"photo": scored, "text_columns": list(o.text_columns)}
            colours = list(ws.colour_vocab or ())
            for wording in [None, *o.text_transforms]:
                texts = [
                    transform_text(wording, t, colours, o.seed) if wording else t
                    for t in queries.texts
                ]
                text, listing, fused = word_predictions(ws.text_tags, tags, scores, ood, texts)
                block = {
                    "text": score_predictions(queries.truth, text, ws.families),
                    "listing": score_predictions(queries.truth, listing, ws.families),
                }
                found = new_values(ws.text_tags, fused, queries.truth, _unseen(setup, queries))
                if found:
                    block["new_values"] = found
                if wording is None:
                    blocks.update(block)
                else:
                    blocks.setdefault("transformed", {})[wording] = block
            blocks["fusion"] = ws.text_tags.summary
        group_scores = _score_groups(setup, queries.ids, queries.truth, preds, ood, ws.families)
        results.append(
            {
                "n_catalog": ws.loaded,
                "n_queries": len(queries.truth),
                "model": ws.embedder.name,
                "k": k,
                "power": power,
                "alpha": alpha,
                **weight_settings(beta),
                "colour_family": ws.colour_family,
                "seconds": round(seconds, 1),
                "stratified_by": setup.stratified_by,
                "skipped_catalog_rows": ws.skipped,
                "skipped_query_rows": queries.skipped,
                "out_of_domain_rate": round(float(np.mean(ood)) if ood else 0.0, 4),
                "calibration": ws.calibration.summary(),
                "shift": setup.shift.label,
                "query_transform": o.query_transform.spec if o.query_transform else None,
                **({"held_out_values": setup.held_out_values} if setup.held_out_values else {}),
                **({"groups": group_scores} if group_scores else {}),
                **({"train": ws.train} if ws.train else {}),
                **({"blocks": blocks} if blocks else {}),
                **(
                    {"colour": colour_report(ws, queries, k, power, alpha, beta)}
                    if ws.colour_family
                    else {}
                ),
                **scored,
            }
        )
    return results


# The colour tag before issue 28: the palette's colour names at this weight.
BEFORE_PIXEL_WEIGHT = 0.2


def colour_report(
    ws: _Workspace, queries: _Queries, k: int, power: float, alpha: float, beta: Weight
) -> dict[str, Any]:
    """The colour family's accuracy, overall and per colour, from each vote on the same
    queries: the neighbours alone, the palette's top colour by the reference shades and
    as `tag` names it (``palette_named``: the colour model's name for each swatch), the
    colour model alone, the tag before issue 28 (palette names fused at 0.2), the tag at
    the near weight for every photo (``one_weight``: before far photos had their own) and
    the tag served now; and the served tag's confusion (true colour -> what it said)."""
    fam = ws.colour_family
    assert fam is not None
    rule = as_rule(beta)
    votes: dict[str, list[str]] = {
        "neighbours": [],
        "palette": [],
        "palette_named": [],
        "model": [],
        "before": [],
        "one_weight": [],
        "served": [],
    }
    truth, far = [], []
    for q, nbrs, heads, pixel, names, named in zip(
        queries.truth,
        queries.neighbours,
        queries.heads,
        queries.pixels,
        queries.palettes,
        queries.named_palettes,
        strict=True,
    ):
        if not q.get(fam):
            continue
        truth.append(q[fam])
        vocab = ws.colour_vocab
        # every family: the colour model reads the neighbours' vote on the kind
        plain = combined_scores(nbrs[:k], ws.families, heads, None, fam, vocab, power, alpha, 0.0)
        if callable(pixel):
            pixel = pixel(plain)
        names_in = [(n, v) for n, v in names or [] if not vocab or n in vocab]
        before = fuse_pixel_colour(plain, fam, names or [], BEFORE_PIXEL_WEIGHT, vocab)
        nearest = nearest_distance(nbrs[:k])
        served = fuse_pixel_colour(plain, fam, pixel or [], rule.at(nearest), vocab)
        far.append(rule.is_far(nearest))
        one_weight = fuse_pixel_colour(plain, fam, pixel or [], rule.near, vocab)
        top_named = named(plain) if named is not None else ""
        for name, ranked in (
            ("neighbours", plain.get(fam)),
            ("palette", names_in),
            ("palette_named", [(top_named, 1.0)] if top_named else names_in),
            ("model", pixel),
            ("before", before.get(fam)),
            ("one_weight", one_weight.get(fam)),
            ("served", served.get(fam)),
        ):
            votes[name].append(ranked[0][0] if ranked else "")
    n = max(len(truth), 1)
    counts = Counter(truth)
    per_colour = {
        c: {
            "n": m,
            **{
                name: round(sum(t == c and p == c for t, p in zip(truth, said, strict=True)) / m, 4)
                for name, said in votes.items()
            },
        }
        for c, m in counts.most_common()
    }
    confusion: dict[str, Counter[str]] = {}
    for t, p in zip(truth, votes["served"], strict=True):
        confusion.setdefault(t, Counter())[p or "-"] += 1
    return {
        "n": len(truth),
        # the share of queries given the far photos' weight (``PixelWeight``)
        "far_share": round(sum(far) / n, 4),
        "accuracy": {
            name: round(sum(t == p for t, p in zip(truth, said, strict=True)) / n, 4)
            for name, said in votes.items()
        },
        "per_colour": per_colour,
        "confusion": {t: dict(Counter(c).most_common(6)) for t, c in confusion.items()},
    }


def _build_workspace(
    tmp: Path, setup: EvalSetup, images: Path, o: TaggingEvalOptions
) -> _Workspace:
    ws = Workspace.open(tmp, create=True)
    catalogue = Catalogue(ws.db_path)
    report = ingest_rows(catalogue, setup.catalog_rows, setup.cols, images, progress=o.progress)
    kind, _, arch = o.model.partition(":")
    train_info: dict[str, Any] | None = None
    if kind == "hybrid" and o.embedder is None:
        tr = train_workspace(
            ws,
            catalogue,
            cfg=HybridConfig(arch=arch) if arch else None,
            opts=o.train_options,
            feature_cache=o.feature_cache,
            progress=o.progress,
        )
        train_info = {k: tr.as_dict()[k] for k in TRAIN_FIELDS}
        emb = load_embedder("hybrid", ws.home)
    else:
        emb = o.embedder or load_embedder(o.model, ws.home)
        run_index(ws, catalogue, emb, progress=o.progress)
    search = NeighbourSearch(ws, catalogue=catalogue, embedder=emb)
    families = list(setup.cols.tag_columns)
    colour_column = o.colour_column or catalogue.column("colour")
    colour_fam = colour_family(families, colour_column) if o.pixel_colour else None
    # What `shelfsight index` fits on a merchant's catalogue, fitted on this one.
    calibration = fit_calibration(
        search,
        k=max(o.ks),
        power=o.powers[0],
        alpha=(o.alphas or [DEFAULT_ALPHA])[0],
        pixel_weight=(o.pixel_weights[0] if o.pixel_weights else None) if colour_fam else 0.0,
        novelty_prior=o.novelty_prior,
    )
    colour_vocab = set(catalogue.value_counts(colour_fam)) if colour_fam else None
    text_tags = None
    if o.text_columns:  # what `index` fits from the titles, fitted on this catalogue
        beta: Weight = 0.0
        if colour_fam:
            beta = weight_from_settings(calibration.settings, DEFAULT_PIXEL_WEIGHT)
        alpha = (o.alphas or [DEFAULT_ALPHA])[0]
        text_tags = fit_text_tags(search, max(o.ks), o.powers[0], alpha, beta)
    return _Workspace(
        search,
        emb,
        families,
        colour_fam,
        colour_vocab,
        calibration,
        report.loaded,
        len(report.skipped),
        train_info,
        text_tags,
    )


def _query_pass(tmp: Path, setup: EvalSetup, ws: _Workspace, o: TaggingEvalOptions) -> _Queries:
    """Embed every query once and keep what any grid point needs (the k-max neighbours)."""
    q_catalogue = Catalogue(tmp / "queries.db")
    q_report = ingest_rows(
        q_catalogue, setup.query_rows, setup.cols, setup.query_images, progress=False
    )
    q_products = {p.key: p for p in q_catalogue.iter_products()}
    q_paths = {k: p.image_path or "" for k, p in q_products.items()}
    if o.query_transform is not None:
        q_paths = transformed_paths(q_paths, o.query_transform, tmp / "transformed")
    out = _Queries(skipped=len(q_report.skipped))
    kmax = max(o.ks)
    model = load_colour_model(ws.search.catalogue)
    if model is not None and model.family != ws.colour_family:
        model = None
    batches = iter_embedded(ws.embedder, list(q_paths.items()), progress=o.progress, desc="queries")
    for keys, vectors, _failed in batches:
        for key, vec in zip(keys, vectors, strict=True):
            out.truth.append(q_products[key].tags)
            out.ids.append(q_products[key].id)
            if o.text_columns:
                out.texts.append(query_text(q_products[key], setup.cols, o.text_columns))
            out.neighbours.append(ws.search.neighbours(Query(vec), kmax))
            out.heads.append(ws.search.head_probs(vec))
            pal = palette(decode_file(Path(q_paths[key])).image) if ws.colour_family else None
            out.palettes.append(pal.name_scores() if pal else None)
            if pal is not None and model is not None and pal.features is not None:
                out.pixels.append(model.given(pal.features))
                out.named_palettes.append(_named_top(pal, model))
            else:
                out.pixels.append(out.palettes[-1])
                out.named_palettes.append(None)
    q_catalogue.close()
    return out


def _named_top(pal: Palette, model: ColourModel) -> Callable[[dict[str, Ranked]], str]:
    def top(scores: dict[str, Ranked]) -> str:
        swatches = pal.named_by(model, model.kind_vote(scores)).swatches
        return swatches[0].name if swatches else ""

    return top


def _predict(
    ws: _Workspace,
    queries: _Queries,
    k: int,
    power: float,
    alpha: float,
    beta: Weight,
    min_score: float,
) -> tuple[list[dict[str, tuple[Any, ...]]], list[bool], list[Any], list[Any]]:
    """Each query's tags at one grid point, calibrated and flagged as ``tag`` serves them
    (and the tags and scores themselves, for the words to fuse with)."""
    preds, ood, all_tags, all_scores = [], [], [], []
    for nbrs, heads, pixel in zip(queries.neighbours, queries.heads, queries.pixels, strict=True):
        scores = combined_scores(
            nbrs[:k],
            ws.families,
            heads,
            pixel,
            ws.colour_family,
            ws.colour_vocab,
            power,
            alpha,
            beta,
        )
        tags = best_tags(scores, min_score=min_score)
        nearest = nearest_distance(nbrs)
        ood.append(ws.calibration.is_out_of_domain(nearest))
        ws.calibration.apply(tags, scores, nbrs[:k], ood[-1])
        preds.append({f: (t.value, t.score, t.review, t.raw_score) for f, t in tags.items()})
        all_tags.append(tags)
        all_scores.append(scores)
    return preds, ood, all_tags, all_scores


def _unseen(setup: EvalSetup, queries: _Queries) -> list[int]:
    rows = setup.query_rows  # the queries of a kind the catalogue lacks (`--shift unseen`)
    held = {
        _as_text(rows[i].values.get(setup.cols.id_column)) for i in setup.groups.get("unseen", [])
    }
    return [n for n, pid in enumerate(queries.ids) if pid in held]


def _score_groups(
    setup: EvalSetup,
    query_ids: list[str],
    truth: list[dict[str, str]],
    preds: list[dict[str, tuple[Any, ...]]],
    ood: list[bool],
    families: list[str],
) -> dict[str, Any]:
    """Scores per query group, when the shift made more than the one group ``all``."""
    if set(setup.groups) <= {"all"}:
        return {}
    id_col = setup.cols.id_column
    row_ids = [_as_text(r.values.get(id_col)) for r in setup.query_rows]
    out = {}
    for name, indices in setup.groups.items():
        members = {row_ids[i] for i in indices}
        pick = [i for i, q in enumerate(query_ids) if q in members]
        scored = score_predictions([truth[i] for i in pick], [preds[i] for i in pick], families)
        rate = float(np.mean([ood[i] for i in pick])) if pick else 0.0
        out[name] = {"n_queries": len(pick), "out_of_domain_rate": round(rate, 4), **scored}
    return out
