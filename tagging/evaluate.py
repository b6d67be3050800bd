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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from indexer.build import iter_embedded, run_index
from indexer.catalogue import Catalogue
from indexer.embedders import Embedder, load_embedder
from indexer.images import decode_file
from indexer.ingest import (
    ColumnOptions,
    ResolvedColumns,
    Row,
    _as_text,
    ingest_rows,
    read_table,
    resolve_columns,
)
from indexer.train import TrainOptions, train_workspace
from indexer.workspace import Workspace
from tagging.colour import colour_family, palette
from tagging.defaults import DEFAULT_PIXEL_WEIGHT
from tagging.knn import DEFAULT_ALPHA, DEFAULT_POWER, best_tags
from tagging.neighbours import NeighbourSearch, Query
from tagging.pipeline import combined_scores

log = logging.getLogger(__name__)

# A family with more distinct values than this share of rows is id-like: no use to stratify.
_MAX_STRATIFY_CARDINALITY = 0.2


@dataclass
class EvalSetup:
    catalog_rows: list[Row]
    query_rows: list[Row]
    cols: ResolvedColumns
    query_images: Path
    stratified_by: str | None


def choose_stratify_family(rows: Sequence[Row], families: Sequence[str]) -> str | None:
    """The family with the most values (rarest classes) that still splits sensibly."""
    best: tuple[int, str] | None = None
    for fam in families:
        values = [_as_text(r.values.get(fam)) for r in rows]
        distinct = len(set(values))
        if 2 <= distinct <= max(2, _MAX_STRATIFY_CARDINALITY * len(rows)) and (
            best is None or distinct > best[0]
        ):
            best = (distinct, fam)
    return best[1] if best else None


def stratified_split(
    rows: Sequence[Row], family: str | None, fraction: float, seed: int
) -> tuple[list[Row], list[Row]]:
    if not 0.0 < fraction < 1.0:
        raise ValueError("--holdout-fraction must be between 0 and 1")
    labels = None
    if family is not None:
        raw = [_as_text(r.values.get(family)) or "<none>" for r in rows]
        counts = Counter(raw)
        # Classes with one member cannot be on both sides: pool them.
        labels = [v if counts[v] >= 2 else "<rare>" for v in raw]
        if Counter(labels)["<rare>"] == 1:
            top = counts.most_common(1)[0][0]
            labels = [top if v == "<rare>" else v for v in labels]
    idx = np.arange(len(rows))
    cat_idx, q_idx = train_test_split(idx, test_size=fraction, random_state=seed, stratify=labels)
    return [rows[i] for i in sorted(cat_idx)], [rows[i] for i in sorted(q_idx)]


def prepare_setup(
    catalog: Path,
    images: Path,
    queries: Path | None,
    query_images: Path | None,
    holdout_fraction: float,
    seed: int,
    opts: ColumnOptions,
) -> EvalSetup:
    header, rows = read_table(catalog)
    cols = resolve_columns(header, rows, opts)
    if queries is not None:
        q_header, q_rows = read_table(queries)
        resolve_columns(q_header, q_rows, _with_tags(opts, cols.tag_columns))
        return EvalSetup(rows, q_rows, cols, query_images or images, None)
    good = [r for r in rows if r.error is None]
    family = choose_stratify_family(good, cols.tag_columns)
    cat_rows, q_rows = stratified_split(good, family, holdout_fraction, seed)
    return EvalSetup(cat_rows, q_rows, cols, images, family)


def _with_tags(opts: ColumnOptions, tags: list[str]) -> ColumnOptions:
    return ColumnOptions(
        opts.id_column, opts.title_column, list(tags), opts.image_pattern, opts.image_column
    )


def score_predictions(
    truth: list[dict[str, str]], preds: list[dict[str, tuple[str, float]]], families: list[str]
) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    tp = n_pred = n_true = 0
    for fam in families:
        y_true, y_pred = [], []
        for t, p in zip(truth, preds, strict=True):
            if not t.get(fam):
                continue
            y_true.append(t[fam])
            y_pred.append(p[fam][0] if fam in p else "<none>")
        if not y_true:
            continue
        correct = sum(a == b for a, b in zip(y_true, y_pred, strict=True))
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
) -> list[dict[str, Any]]:
    """One result dict per (k, power, alpha), all from one workspace and one query pass.

    ``model="hybrid"`` trains the ViT stage on the catalogue rows (never the queries) first;
    ``alpha`` weighs its head predictions against the KNN vote (ignored for models
    without heads). With ``pixel_colour`` the colour family is fused with each query's own
    palette, as the default pipeline does; ``pixel_weights`` lists the fusion weights to
    score (0 is the neighbour vote alone, 1 the pixels alone).
    """
    t0 = time.perf_counter()
    setup = prepare_setup(
        catalog, images, queries, query_images, holdout_fraction, seed, opts or ColumnOptions()
    )
    train_info: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="shelfsight-eval-", dir=workdir) as tmp:
        ws = Workspace.open(tmp)
        catalogue = Catalogue(ws.db_path)
        report = ingest_rows(catalogue, setup.catalog_rows, setup.cols, images, progress=progress)
        if model.partition(":")[0] == "hybrid" and embedder is None:
            tr = train_workspace(
                ws, catalogue, opts=train_options, feature_cache=feature_cache, progress=progress
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
        colour_fam = colour_family(families, colour_column) if pixel_colour else None
        colour_vocab = set(catalogue.value_counts(colour_fam)) if colour_fam else None

        q_report_cat = Catalogue(Path(tmp) / "queries.db")
        q_report = ingest_rows(
            q_report_cat, setup.query_rows, setup.cols, setup.query_images, progress=False
        )
        q_products = {p.key: p for p in q_report_cat.iter_products()}
        kmax = max(ks)
        truth: list[dict[str, str]] = []
        neighbour_lists = []
        head_lists: list[dict[str, list[tuple[str, float]]] | None] = []
        pixel_lists: list[list[tuple[str, float]] | None] = []
        for keys, vectors, _failed in iter_embedded(
            emb,
            [(p.key, p.image_path or "") for p in q_products.values()],
            progress=progress,
            desc="queries",
        ):
            for key, vec in zip(keys, vectors, strict=True):
                truth.append(q_products[key].tags)
                neighbour_lists.append(search.neighbours(Query(vec), kmax))
                head_lists.append(search.head_probs(vec))
                pixel_lists.append(
                    palette(decode_file(Path(q_products[key].image_path or "")).image).name_scores()
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
        preds = []
        for nbrs, heads, pixel in zip(neighbour_lists, head_lists, pixel_lists, strict=True):
            scores = combined_scores(
                nbrs[:k], families, heads, pixel, colour_fam, colour_vocab, power, alpha, beta
            )
            preds.append(
                {f: (t.value, t.score) for f, t in best_tags(scores, min_score=min_score).items()}
            )
        scored = score_predictions(truth, preds, families)
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
                **({"train": train_info} if train_info else {}),
                **scored,
            }
        )
    return results


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"model={result['model']} k={result['k']} p={result['power']} "
        f"alpha={result.get('alpha', 0)} pixel={result.get('pixel_weight', 0)} "
        f"catalogue={result['n_catalog']} "
        f"queries={result['n_queries']} seconds={result['seconds']}",
        f"{'family':<16} {'accuracy':>9} {'macro_f1':>9} {'majority':>9} {'support':>8}",
    ]
    for fam, m in result["attributes"].items():
        lines.append(
            f"{fam:<16} {m['accuracy']:>9.4f} {m['macro_f1']:>9.4f} "
            f"{m['majority_accuracy']:>9.4f} {m['support']:>8d}"
        )
    mi = result["micro"]
    lines.append(f"micro: precision={mi['precision']} recall={mi['recall']} f1={mi['f1']}")
    return "\n".join(lines)
