"""Inverse-distance-weighted KNN tag transfer (Sharma & Karnick 2016).

For each tag family: score(value) = sum_i w_i [neighbour i has value] / sum_i w_i,
with w_i = 1 / (d_i + eps) ** power over the k neighbours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from shelfsight.tagging.neighbour_tags.defaults import DEFAULT_ALPHA, DEFAULT_EPS, DEFAULT_POWER
from shelfsight.tagging.results import TagScore
from shelfsight.tagging.search.visual import Neighbour

__all__ = ["DEFAULT_ALPHA", "DEFAULT_EPS", "DEFAULT_POWER", "Neighbour", "TagScore"]


def idw_weights(
    distances: Sequence[float] | np.ndarray,
    power: float = DEFAULT_POWER,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    d = np.asarray(distances, dtype=np.float64)
    if np.any(d < 0):
        raise ValueError("distances must be non-negative")
    return 1.0 / np.power(d + eps, power)


def vote(
    neighbours: Sequence[Neighbour],
    families: Sequence[str] | None = None,
    power: float = DEFAULT_POWER,
    eps: float = DEFAULT_EPS,
) -> dict[str, list[tuple[str, float]]]:
    """Per family, every value any neighbour carries with its score, best first.

    Neighbours without a value for a family still count in the denominator: missing
    labels lower confidence instead of silently inflating it.
    """
    if not neighbours:
        return {}
    weights = idw_weights([n.distance for n in neighbours], power, eps)
    for n, w in zip(neighbours, weights, strict=True):
        n.weight = float(w)
    total = float(weights.sum())
    fams = families if families is not None else sorted({f for n in neighbours for f in n.tags})
    out: dict[str, list[tuple[str, float]]] = {}
    for family in fams:
        acc: dict[str, float] = defaultdict(float)
        for n, w in zip(neighbours, weights, strict=True):
            value = n.tags.get(family)
            if value:
                acc[value] += float(w)
        if acc:
            # Ties break by value name so results are reproducible.
            ranked = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))
            out[family] = [(v, s / total) for v, s in ranked]
    return out


def best_tags(
    scores: dict[str, list[tuple[str, float]]], alternatives: int = 3, min_score: float = 0.0
) -> dict[str, TagScore]:
    result: dict[str, TagScore] = {}
    for family, ranked in scores.items():
        value, score = ranked[0]
        if score < min_score:
            continue
        result[family] = TagScore(family, value, score, "knn", ranked[1 : 1 + alternatives])
    return result


def blend_scores(
    knn: dict[str, list[tuple[str, float]]],
    heads: dict[str, list[tuple[str, float]]] | None,
    alpha: float,
) -> dict[str, list[tuple[str, float]]]:
    """alpha * head probability + (1 - alpha) * KNN score, per family and value.

    Families or values only one side knows get zero from the other side, so a rare value
    that the heads never learned can still win through its neighbours.
    """
    if not heads or alpha <= 0:
        return knn
    out: dict[str, list[tuple[str, float]]] = {}
    for family in dict.fromkeys([*knn, *heads]):
        acc: dict[str, float] = defaultdict(float)
        for value, s in knn.get(family, []):
            acc[value] += (1 - alpha) * s
        for value, p in heads.get(family, []):
            acc[value] += alpha * p
        out[family] = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))
    return out
