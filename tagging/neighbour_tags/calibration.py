"""Honest confidence: calibrated tag scores, review flags, and "not like anything here".

A raw IDW vote (or a head's softmax) is not a probability of being right: on products
unlike the catalogue the tagger answers with the same confident score as on familiar
ones. This module fits, on the catalogue itself, what those numbers mean:

- **Scores.** Per family, a logistic regression from what the tagger sees (the top score,
  its margin over the runner-up, the nearest neighbour's distance, and how typical that
  distance is for the answer: see ``tag_features``) to the chance that the top value is
  right, fitted leave-one-out: each sampled catalogue product is tagged from its
  neighbours with itself (and exact copies of its photo) left out, through the same
  ``combined_scores`` the pipeline serves, pixel colour included. For the hybrid, only
  products its heads never trained on (the training's validation split) are used, or the
  heads' confidence on memorised products would be learnt as normal.
- **Novel types.** Calibrated only on the catalogue, a score learns in-distribution
  confidence: a T-shirt in a catalogue without T-shirts comes back a confident "Shirts".
  So half the sampled products are tagged once more with every product of their type
  (the family with the most values, colour aside) left out and the heads' vote for it
  removed: what a product of a new type looks like to the tagger. Those answers are
  weighted to make up ``NOVELTY_PRIOR`` (10 %) of the fit.
- **Review.** Per family, the lowest calibrated score at which the accepted answers of
  the calibration set are still 95 % precise; below it a tag carries ``review: true``.
  A query farther from the catalogue than 90 % of its own photos are from theirs (the
  ``far_distance``, as the colour weight's) is held to its own threshold, judged on the
  calibration's far answers alone (never lower). 73 % of later years' products lie out
  there, 10 % of the catalogue's own photos; judged on all answers, the threshold let
  their wrong tags through (the default hybrid, later years: wrong tags accepted unseen
  0.73 -> 0.49 per product for 12 % more looks; BENCHMARKS.md, issue 28).
  The type family's tag also goes to review when its answer is less typical than 90 %
  of the calibration's right answers are: the signature of a type the catalogue lacks.
- **Out of domain.** The 99th percentile of the catalogue's own leave-one-out nearest
  distances: a query farther from everything than that is flagged, still tagged, and
  every tag sent to review. For a trained model (the hybrid) only the products it never
  trained on count, and the typicality references are scaled by how much farther those
  sit. Measured with the hybrid: their median is the same (scale 1.00) but their tail is
  longer, and held-out photos flagged fell from 2.5 % (all products) to 1.5 %.
- **Duplicate.** A query with the same image bytes as a catalogue product, or within
  the duplicate distance of one, is reported as that product. The distance is fitted per
  model: sampled catalogue photos are re-saved as JPEG at quality 85 (what a merchant's
  re-upload does to them) and embedded; the largest distance, with a 25 % margin, capped
  at half the distance of the closest 1 % of distinct catalogue pairs. Measured with the
  CNN on 224-px sample photos: a q95 re-save lands within 0.07, q85 within 0.12, q70
  within 0.16, while the closest distinct products of a 300-product slice sit at 0.32.

Fitted by ``shelfsight index`` and ``train`` (and the evaluation), stored in the
catalogue's meta table under ``calibration:<model>``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.tagging.results import TagScore, on_score_scale
from shelfsight.tagging.search.visual import Neighbour

log = logging.getLogger(__name__)

ACCEPT_PRECISION = 0.95
# Used only when no calibration exists: a q85 re-save of a 224-px sample photo lands
# within 0.12 of it with the CNN (see the module docstring).
DUPLICATE_DISTANCE = 0.15
# A type tag less typical than this share of the calibration's right answers goes to
# review whatever its score. Measured with the hybrid, unseen:articleType:10 (seen /
# unseen types sent to review): score alone 0.15 / 0.66; with this rule at 0.95
# 0.17 / 0.75, at 0.9 0.20 / 0.78, at 0.85 0.26 / 0.82.
ATYPICAL_QUANTILE = 0.9
META_PREFIX = "calibration:"


@dataclass
class FamilyCalibration:
    coef: list[float]  # on FEATURES
    intercept: float
    accept_threshold: float  # calibrated score at which answers are ACCEPT_PRECISION precise
    n: int
    accuracy: float  # of the raw top value on the calibration set (novel types included)
    # Type family only: the typicality above which an answer is sent to review whatever
    # its score (ATYPICAL_QUANTILE of the right answers' typicality); None elsewhere.
    max_typicality: float | None = None
    # For a query beyond ``Calibration.far_distance``: judged on the far answers alone
    # (never below ``accept_threshold``); None when too few were far, or stored before.
    far_threshold: float | None = None

    def threshold(self, far: bool) -> float:
        if far and self.far_threshold is not None:
            return self.far_threshold
        return self.accept_threshold

    def probability(self, features: np.ndarray) -> float:
        # A calibration stored before the typicality feature has three coefficients.
        z = self.intercept + float(np.dot(self.coef, features[: len(self.coef)]))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass
class Calibration:
    model: str
    families: dict[str, FamilyCalibration]
    ood_distance: float
    duplicate_distance: float = DUPLICATE_DISTANCE
    n_samples: int = 0
    seconds: float = 0.0
    settings: dict[str, float] = field(default_factory=dict)  # k, power, alpha, pixel weight
    # family -> value -> the median distance from a product of that value to its nearest
    # other product of the same value: how tight that value's cluster is.
    typical: dict[str, dict[str, float]] = field(default_factory=dict)
    typical_default: float = 0.0  # for values too rare to measure: the catalogue's median
    novel_family: str | None = None  # the family whose values were held out to simulate novelty
    n_novel: int = 0
    # Beyond this nearest distance a query is "far" (FAR_QUANTILE of the catalogue's own).
    far_distance: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def is_out_of_domain(self, nearest: float | None) -> bool:
        """Farther from every catalogue product than 99 % of its own photos are from
        their nearest neighbour (no neighbour at all counts as far)."""
        return nearest is None or nearest > self.ood_distance

    def is_far(self, nearest: float | None) -> bool:
        if self.far_distance is None:
            return False
        return nearest is None or nearest > self.far_distance

    def summary(self) -> dict[str, Any]:
        """What the CLI and the evaluation report of a fit."""
        return {
            "samples": self.n_samples,
            "novel_samples": self.n_novel,
            "novelty_prior": self.settings.get("novelty_prior"),
            "seconds": self.seconds,
            "ood_distance": round(self.ood_distance, 4),
            "duplicate_distance": round(self.duplicate_distance, 4),
            "accept_threshold": {f: round(c.accept_threshold, 4) for f, c in self.families.items()},
            "far_distance": None if self.far_distance is None else round(self.far_distance, 4),
            "far_threshold": {
                f: round(c.far_threshold, 4)
                for f, c in self.families.items()
                if c.far_threshold is not None
            },
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Calibration:
        fams = {f: FamilyCalibration(**v) for f, v in raw["families"].items()}
        return cls(**{**raw, "families": fams})

    def features(
        self, family: str, ranked: list[tuple[str, float]], neighbours: list[Neighbour]
    ) -> np.ndarray:
        return tag_features(
            family, ranked, neighbours, self.typical.get(family, {}), self.typical_default
        )

    def apply(
        self,
        tags: dict[str, TagScore],
        scores: dict[str, list[tuple[str, float]]],
        neighbours: list[Neighbour],
        out_of_domain: bool,
        review_threshold: float | None = None,
    ) -> None:
        """Replace each tag's score by its calibrated probability, keep the raw score, and
        set ``review`` (always, for an out-of-domain query)."""
        far = self.is_far(neighbours[0].distance if neighbours else None)
        for family, tag in tags.items():
            cal = self.families.get(family)
            ranked = scores.get(family, [])
            if cal is None or not ranked:
                tag.review = tag.held = True  # a family nothing was fitted for: a person decides
                continue
            features = self.features(family, ranked, neighbours)
            tag.raw_score = tag.score
            tag.score = cal.probability(features)
            tag.alternatives = on_score_scale(tag.alternatives, tag.raw_score, tag.score)
            if review_threshold is not None:  # the merchant's own threshold replaces both
                tag.threshold, tag.held = review_threshold, out_of_domain
                tag.review = out_of_domain or tag.score < review_threshold
                continue
            limit = cal.max_typicality
            atypical = limit is not None and float(features[TYPICALITY]) > limit
            tag.threshold, tag.held = cal.threshold(far), bool(out_of_domain or atypical)
            tag.review = bool(tag.held or tag.score < tag.threshold)


FEATURES = ("logit_top", "margin", "nearest", "log_typicality")
TYPICALITY = FEATURES.index("log_typicality")


def tag_features(
    family: str,
    ranked: list[tuple[str, float]],
    neighbours: list[Neighbour],
    typical: dict[str, float],
    typical_default: float,
) -> np.ndarray:
    """What the calibration sees of one family's answer.

    Typicality: how far the nearest neighbour carrying the answer is, against how close
    products of that value usually sit to each other. A product of a type the catalogue
    lacks is usually tagged with the nearest type it has (a T-shirt as a shirt), but it
    sits farther from the shirts than shirts sit from each other.
    """
    top = ranked[0][1]
    margin = top - (ranked[1][1] if len(ranked) > 1 else 0.0)
    p = min(max(top, 1e-4), 1 - 1e-4)
    nearest = neighbours[0].distance if neighbours else 2.0
    value = ranked[0][0]
    d_value = min(
        (n.distance for n in neighbours if n.tags.get(family) == value),
        # no neighbour carries it (the heads or the pixels chose it): at least this far
        default=neighbours[-1].distance if neighbours else 2.0,
    )
    ref = typical.get(value) or typical_default
    typicality = math.log(max(d_value, 1e-3) / max(ref, 1e-3)) if ref > 0 else 0.0
    return np.array([math.log(p / (1 - p)), margin, nearest, typicality], dtype=np.float64)


def load_calibration(catalogue: Catalogue, model: str) -> Calibration | None:
    raw = catalogue.get_meta(META_PREFIX + model)
    return Calibration.from_json(raw) if raw else None
