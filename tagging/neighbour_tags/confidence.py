"""How far a tagger's scores can be trusted: calibration error and the risk-coverage
trade-off (accept only the most confident answers, how accurate are they, and how many
can be accepted at a given accuracy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COVERAGES = (0.5, 0.8, 0.9)
ACCURACIES = (0.9, 0.95)
ECE_BINS = 15


def expected_calibration_error(
    scores: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by their
    share of answers (Guo et al., 2017). 0 is perfectly calibrated."""
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    c = np.asarray(correct, dtype=np.float64)
    if len(s) == 0:
        return 0.0
    edges = np.minimum((s * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = edges == b
        if inside.any():
            total += inside.mean() * abs(c[inside].mean() - s[inside].mean())
    return float(total)


def _ranked(scores: Sequence[float], correct: Sequence[bool]) -> np.ndarray:
    """Running accuracy of the top-n answers by score, n = 1..N (ties broken stably)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(correct, dtype=np.float64)[order]
    return np.cumsum(hits) / np.arange(1, len(hits) + 1)


def accuracy_at_coverage(
    scores: Sequence[float], correct: Sequence[bool], coverage: float
) -> float:
    """Accuracy of the ``coverage`` share of answers the tagger is most sure of."""
    if len(scores) == 0:
        return 0.0
    running = _ranked(scores, correct)
    n = max(1, round(coverage * len(running)))
    return float(running[n - 1])


def coverage_at_accuracy(
    scores: Sequence[float], correct: Sequence[bool], accuracy: float
) -> float:
    """The largest share of answers, most confident first, whose accuracy is at least
    ``accuracy`` (0 when even the single most confident answer misses)."""
    if len(scores) == 0:
        return 0.0
    running = _ranked(scores, correct)
    ok = np.nonzero(running >= accuracy)[0]
    return float((ok[-1] + 1) / len(running)) if len(ok) else 0.0


def confidence_report(scores: Sequence[float], correct: Sequence[bool]) -> dict[str, object]:
    return {
        "ece": round(expected_calibration_error(scores, correct), 4),
        # What the scores promise on average; against the accuracy, the direction of the gap.
        "mean_score": round(float(np.mean(scores)) if len(scores) else 0.0, 4),
        "accuracy_at_coverage": {
            f"{c:g}": round(accuracy_at_coverage(scores, correct, c), 4) for c in COVERAGES
        },
        "coverage_at_accuracy": {
            f"{a:g}": round(coverage_at_accuracy(scores, correct, a), 4) for a in ACCURACIES
        },
    }
