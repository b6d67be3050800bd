"""`shelfsight eval tagging`: tag held-out products as new ones and score against their labels.

The catalogue workspace is built from the catalogue rows only; queries never enter it.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from shelfsight.indexer.build import run_index
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.embedders import Embedder, load_embedder
from shelfsight.indexer.embedders.batches import iter_embedded
from shelfsight.indexer.embedders.hybrid import HybridConfig
from shelfsight.indexer.images import ImageError, decode_file
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
from shelfsight.tagging.calibration import fit_calibration
from shelfsight.tagging.colour import colour_family, palette
from shelfsight.tagging.confidence import confidence_report, expected_calibration_error
from shelfsight.tagging.defaults import DEFAULT_PIXEL_WEIGHT, NOVELTY_PRIOR
from shelfsight.tagging.knn import DEFAULT_ALPHA, DEFAULT_POWER, best_tags
from shelfsight.tagging.neighbours import NeighbourSearch, Query
from shelfsight.tagging.query_transforms import QueryTransform
from shelfsight.tagging.scoring import combined_scores
from shelfsight.tagging.shift import Shift, apply_shift, choose_stratify_family
from sklearn.metrics import f1_score

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


def evaluate_tagging(
    catalog: Path,
    images: Path,
    queries: Path | None = None,
    query_images: Path | None = None,
    holdout_fraction: float = 0.2,
    seed: int = 0,
    opts: ColumnOptions | None = None,
    ks: Sequence[int] = (10,),
    model: str = "cnn",
    powers: Sequence[float] = (DEFAULT_POWER,),
    alphas: Sequence[float] | None = None,
    min_score: float = 0.0,
    workdir: Path | None = None,
    progress: bool = True,
    embedder: Embedder | None = None,
    feature_cache: Path | None = None,
    train_options: TrainOptions | None = None,
    pixel_colour: bool = True,
    pixel_weights: Sequence[float] | None = None,
    colour_column: str | None = None,
    shift: Shift | None = None,
    query_transform: QueryTransform | None = None,
    novelty_prior: float = NOVELTY_PRIOR,
) -> list[dict[str, Any]]:
    """One result dict per (k, power, alpha), all from one workspace and one query pass.

    ``model="hybrid"`` trains the ViT stage on the catalogue rows (never the queries) first
    (``hybrid:efficientnet_lite2`` on another frozen CNN);
    ``alpha`` weighs its head predictions against the KNN vote (ignored for models
    without heads). With ``pixel_colour`` the colour family is fused with each query's own
    palette, as the default pipeline does; ``pixel_weights`` lists the fusion weights to
    score (0 is the neighbour vote alone, 1 the pixels alone). ``shift`` builds a query
    set unlike the catalogue (``tagging.shift``) and ``query_transform`` re-renders each
    query photo (``tagging.query_transforms``); groups of queries (seen / unseen, common /
    rare) are scored apart as well.
    """
    t0 = time.perf_counter()
    setup = prepare_setup(
        catalog,
        images,
        queries,
        query_images,
        holdout_fraction,
        seed,
        opts or ColumnOptions(),
        shift,
    )
    train_info: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="shelfsight-eval-", dir=workdir) as tmp:
        ws = Workspace.open(tmp, create=True)
        catalogue = Catalogue(ws.db_path)
        report = ingest_rows(catalogue, setup.catalog_rows, setup.cols, images, progress=progress)
        kind, _, arch = model.partition(":")
        if kind == "hybrid" and embedder is None:
            tr = train_workspace(
                ws,
                catalogue,
                cfg=HybridConfig(arch=arch) if arch else None,
                opts=train_options,
                feature_cache=feature_cache,
                progress=progress,
            )
            train_info = {
                k: tr.as_dict()[k]
                for k in (
                    "train_seconds",
                    "feature_seconds",
                    "best_epoch",
                    "epochs_run",
                    "model_bytes",
                    "val_accuracy",
                )
            }
            emb = load_embedder("hybrid", ws.home)
        else:
            emb = embedder or load_embedder(model, ws.home)
            run_index(ws, catalogue, emb, progress=progress)
        search = NeighbourSearch(ws, catalogue=catalogue, embedder=emb)
        families = list(setup.cols.tag_columns)
        colour_column = colour_column or catalogue.column("colour")
        colour_fam = colour_family(families, colour_column) if pixel_colour else None
        # What `shelfsight index` fits on a merchant's catalogue, fitted on this one.
        calibration = fit_calibration(
            search,
            k=max(ks),
            power=powers[0],
            alpha=(alphas or [DEFAULT_ALPHA])[0],
            pixel_weight=(pixel_weights or [DEFAULT_PIXEL_WEIGHT])[0] if colour_fam else 0.0,
            novelty_prior=novelty_prior,
        )
        colour_vocab = set(catalogue.value_counts(colour_fam)) if colour_fam else None

        q_report_cat = Catalogue(Path(tmp) / "queries.db")
        q_report = ingest_rows(
            q_report_cat, setup.query_rows, setup.cols, setup.query_images, progress=False
        )
        q_products = {p.key: p for p in q_report_cat.iter_products()}
        q_paths = {k: p.image_path or "" for k, p in q_products.items()}
        if query_transform is not None:
            q_paths = _transformed(q_paths, query_transform, Path(tmp) / "transformed")
        kmax = max(ks)
        truth: list[dict[str, str]] = []
        query_ids: list[str] = []
        neighbour_lists = []
        head_lists: list[dict[str, list[tuple[str, float]]] | None] = []
        pixel_lists: list[list[tuple[str, float]] | None] = []
        for keys, vectors, _failed in iter_embedded(
            emb,
            list(q_paths.items()),
            progress=progress,
            desc="queries",
        ):
            for key, vec in zip(keys, vectors, strict=True):
                truth.append(q_products[key].tags)
                query_ids.append(q_products[key].id)
                neighbour_lists.append(search.neighbours(Query(vec), kmax))
                head_lists.append(search.head_probs(vec))
                pixel_lists.append(
                    palette(decode_file(Path(q_paths[key])).image).name_scores()
                    if colour_fam
                    else None
                )
        catalogue.close()
        q_report_cat.close()

    has_heads = any(h is not None for h in head_lists)
    if alphas is None or not has_heads:
        alphas = [DEFAULT_ALPHA if has_heads else 0.0]
    if not colour_fam:
        pixel_weights = [0.0]
    elif pixel_weights is None:
        pixel_weights = [DEFAULT_PIXEL_WEIGHT]
    seconds = time.perf_counter() - t0
    results = []
    for k, power, alpha, beta in itertools.product(ks, powers, alphas, pixel_weights):
        preds, ood = [], []
        for nbrs, heads, pixel in zip(neighbour_lists, head_lists, pixel_lists, strict=True):
            scores = combined_scores(
                nbrs[:k], families, heads, pixel, colour_fam, colour_vocab, power, alpha, beta
            )
            tags = best_tags(scores, min_score=min_score)
            nearest = nbrs[0].distance if nbrs else None
            ood.append(calibration.is_out_of_domain(nearest))
            calibration.apply(tags, scores, nbrs[:k], ood[-1])
            preds.append({f: (t.value, t.score, t.review, t.raw_score) for f, t in tags.items()})
        scored = score_predictions(truth, preds, families)
        group_scores = _score_groups(setup, query_ids, truth, preds, ood, families)
        results.append(
            {
                "n_catalog": report.loaded,
                "n_queries": len(truth),
                "model": emb.name,
                "k": k,
                "power": power,
                "alpha": alpha,
                "pixel_weight": beta,
                "colour_family": colour_fam,
                "seconds": round(seconds, 1),
                "stratified_by": setup.stratified_by,
                "skipped_catalog_rows": len(report.skipped),
                "skipped_query_rows": len(q_report.skipped),
                "out_of_domain_rate": round(float(np.mean(ood)) if ood else 0.0, 4),
                "calibration": calibration.summary(),
                "shift": setup.shift.label,
                "query_transform": query_transform.spec if query_transform else None,
                **({"held_out_values": setup.held_out_values} if setup.held_out_values else {}),
                **({"groups": group_scores} if group_scores else {}),
                **({"train": train_info} if train_info else {}),
                **scored,
            }
        )
    return results


def _transformed(paths: dict[int, str], transform: QueryTransform, folder: Path) -> dict[int, str]:
    """Each query photo re-rendered by ``transform``, written losslessly (PNG) so that only
    the transform changes the pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, path in paths.items():
        try:
            image = decode_file(Path(path)).image
        except ImageError:
            out[key] = path  # reported as a skipped query by the embedding loop
            continue
        target = folder / f"{key}.png"
        transform(image).save(target, format="PNG")
        out[key] = str(target)
    return out


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


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"model={result['model']} k={result['k']} p={result['power']} "
        f"alpha={result.get('alpha', 0)} pixel={result.get('pixel_weight', 0)} "
        f"shift={result.get('shift', 'random')} "
        f"transform={result.get('query_transform') or 'none'} "
        f"catalogue={result['n_catalog']} "
        f"queries={result['n_queries']} seconds={result['seconds']}",
        f"{'family':<16} {'accuracy':>9} {'macro_f1':>9} {'majority':>9} {'ece':>7} "
        f"{'raw_ece':>8} {'acc@80%':>8} {'review':>7} {'support':>8}",
    ]
    for fam, m in result["attributes"].items():
        lines.append(
            f"{fam:<16} {m['accuracy']:>9.4f} {m['macro_f1']:>9.4f} "
            f"{m['majority_accuracy']:>9.4f} {m['ece']:>7.4f} {m.get('raw_ece', 0):>8.4f} "
            f"{m['accuracy_at_coverage']['0.8']:>8.4f} {m.get('review_rate', 0):>7.3f} "
            f"{m['support']:>8d}"
        )
    for name, g in result.get("groups", {}).items():
        accs = ", ".join(
            f"{f} {m['accuracy']:.3f} (review {m.get('review_rate', 0):.2f})"
            for f, m in g["attributes"].items()
        )
        lines.append(
            f"  {name} ({g['n_queries']} queries, out of domain "
            f"{g.get('out_of_domain_rate', 0):.2f}): {accs}"
        )
    if "out_of_domain_rate" in result:
        lines.append(f"out of domain: {result['out_of_domain_rate']:.3f} of queries")
    mi = result["micro"]
    lines.append(f"micro: precision={mi['precision']} recall={mi['recall']} f1={mi['f1']}")
    return "\n".join(lines)
