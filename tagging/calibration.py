"""Honest confidence: calibrated tag scores, review flags, and "not like anything here".

A raw IDW vote (or a head's softmax) is not a probability of being right: on products
unlike the catalogue the tagger answers with the same confident score as on familiar
ones. This module fits, on the catalogue itself, what those numbers mean:

- **Scores.** Per family, a logistic regression from what the tagger sees (the top score,
  its margin over the runner-up, the nearest neighbour's distance) to the chance that
  the top value is right, fitted leave-one-out: each sampled catalogue product is tagged
  from its neighbours with itself (and exact copies of its photo) left out, through the
  same ``combined_scores`` the pipeline serves, pixel colour included. For the hybrid,
  only products its heads never trained on (the training's validation split) are used,
  or the heads' confidence on memorised products would be learnt as normal.
- **Review.** Per family, the lowest calibrated score at which the accepted answers of
  the calibration set are still 95 % precise; below it a tag carries ``review: true``.
- **Out of domain.** The 99th percentile of the catalogue's own leave-one-out nearest
  distances: a query farther from everything than that is flagged, still tagged, and
  every tag sent to review.
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

import io
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression

from indexer.catalogue import Catalogue
from indexer.embedders import embed_images
from indexer.images import ImageError, decode_file
from tagging.colour import colour_family, palette
from tagging.defaults import DEFAULT_PIXEL_WEIGHT
from tagging.knn import DEFAULT_ALPHA, DEFAULT_POWER, TagScore
from tagging.neighbours import NeighbourSearch, Query
from tagging.scoring import combined_scores

log = logging.getLogger(__name__)

ACCEPT_PRECISION = 0.95
OOD_QUANTILE = 0.99
# Used only when no calibration exists: a q85 re-save of a 224-px sample photo lands
# within 0.12 of it with the CNN (see the module docstring).
DUPLICATE_DISTANCE = 0.15
DUPLICATE_SAMPLE = 40
DUPLICATE_QUALITY = 85
SAMPLE = 600
META_PREFIX = "calibration:"


@dataclass
class FamilyCalibration:
    coef: list[float]  # on (logit(top), margin, nearest distance)
    intercept: float
    accept_threshold: float  # calibrated score at which answers are ACCEPT_PRECISION precise
    n: int
    accuracy: float  # of the raw top value on the calibration set

    def probability(self, top: float, margin: float, nearest: float) -> float:
        z = self.intercept + float(np.dot(self.coef, _features(top, margin, nearest)))
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def is_out_of_domain(self, nearest: float | None) -> bool:
        """Farther from every catalogue product than 99 % of its own photos are from
        their nearest neighbour (no neighbour at all counts as far)."""
        return nearest is None or nearest > self.ood_distance

    def summary(self) -> dict[str, Any]:
        """What the CLI and the evaluation report of a fit."""
        return {
            "samples": self.n_samples,
            "seconds": self.seconds,
            "ood_distance": round(self.ood_distance, 4),
            "duplicate_distance": round(self.duplicate_distance, 4),
            "accept_threshold": {f: round(c.accept_threshold, 4) for f, c in self.families.items()},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Calibration:
        fams = {f: FamilyCalibration(**v) for f, v in raw["families"].items()}
        return cls(**{**raw, "families": fams})

    def apply(
        self,
        tags: dict[str, TagScore],
        scores: dict[str, list[tuple[str, float]]],
        nearest: float,
        out_of_domain: bool,
        review_threshold: float | None = None,
    ) -> None:
        """Replace each tag's score by its calibrated probability, keep the raw score, and
        set ``review`` (always, for an out-of-domain query)."""
        for family, tag in tags.items():
            cal = self.families.get(family)
            ranked = scores.get(family, [])
            if cal is None or not ranked:
                tag.review = True  # a family nothing was fitted for: a person decides
                continue
            second = ranked[1][1] if len(ranked) > 1 else 0.0
            tag.raw_score = tag.score
            tag.score = cal.probability(ranked[0][1], ranked[0][1] - second, nearest)
            threshold = cal.accept_threshold if review_threshold is None else review_threshold
            tag.review = out_of_domain or tag.score < threshold


def _features(top: float, margin: float, nearest: float) -> np.ndarray:
    p = min(max(top, 1e-4), 1 - 1e-4)
    return np.array([math.log(p / (1 - p)), margin, nearest], dtype=np.float64)


def load_calibration(catalogue: Catalogue, model: str) -> Calibration | None:
    raw = catalogue.get_meta(META_PREFIX + model)
    return Calibration.from_json(raw) if raw else None


def _accept_threshold(probs: np.ndarray, correct: np.ndarray, precision: float) -> float:
    """The lowest score t whose accepted set {p >= t} is at least ``precision`` precise;
    above every score (nothing auto-accepted) when no such t exists."""
    order = np.argsort(-probs, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(running >= precision)[0]
    if len(ok) == 0:
        return 1.01
    return float(probs[order][ok[-1]])


def fit_family(
    tops: list[float], margins: list[float], nearests: list[float], correct: list[bool]
) -> FamilyCalibration:
    x = np.stack([_features(t, m, d) for t, m, d in zip(tops, margins, nearests, strict=True)])
    y = np.asarray(correct, dtype=int)
    if y.min() == y.max():  # all right or all wrong: a constant is the honest answer
        rate = float(y.mean())
        const = math.log(max(rate, 1e-3) / max(1 - rate, 1e-3))
        cal = FamilyCalibration([0.0, 0.0, 0.0], const, 0.0, len(y), rate)
    else:
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
        cal = FamilyCalibration(
            [float(c) for c in lr.coef_[0]], float(lr.intercept_[0]), 0.0, len(y), float(y.mean())
        )
    probs = np.array(
        [cal.probability(t, m, d) for t, m, d in zip(tops, margins, nearests, strict=True)]
    )
    cal.accept_threshold = _accept_threshold(probs, y.astype(float), ACCEPT_PRECISION)
    return cal


Rows = dict[str, tuple[list[float], list[float], list[float], list[bool]]]


@dataclass
class _Embedded:
    """The catalogue's embedded products, with which keys share a photo."""

    keys: np.ndarray
    vectors: np.ndarray
    position: dict[int, int]
    products: dict[int, Any]
    by_sha: dict[str, list[int]]

    @classmethod
    def read(cls, search: NeighbourSearch) -> _Embedded:
        keys, vectors = search.catalogue.load_embeddings(search.index.model)
        if len(keys) < 3:
            raise ValueError("need at least 3 embedded products to calibrate")
        products = search.catalogue.by_keys(keys.tolist())
        by_sha: dict[str, list[int]] = {}
        for p in products.values():
            if p.image_sha256:
                by_sha.setdefault(p.image_sha256, []).append(p.key)
        return cls(keys, vectors, {int(k): i for i, k in enumerate(keys)}, products, by_sha)

    def copies(self, key: int) -> list[int]:
        """The product and every product with the very same image bytes."""
        sha = self.products[key].image_sha256
        return self.by_sha.get(sha, [key]) if sha else [key]


def leave_one_out(
    search: NeighbourSearch,
    keys: list[int],
    k: int = 10,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    pixel_weight: float | None = None,
    embedded: _Embedded | None = None,
) -> Rows:
    """Tag each of ``keys`` from its neighbours with itself (and copies of its photo)
    left out, through the served scoring; per family (top, margin, nearest, correct)."""
    embedded = embedded or _Embedded.read(search)
    pixel_weight = DEFAULT_PIXEL_WEIGHT if pixel_weight is None else pixel_weight
    families = search.catalogue.tag_families()
    colour_fam = colour_family(families) if pixel_weight > 0 else None
    colour_vocab = set(search.catalogue.value_counts(colour_fam)) if colour_fam else None
    rows: Rows = {f: ([], [], [], []) for f in families}
    for key in keys:
        vec = embedded.vectors[embedded.position[key]]
        neighbours = search.neighbours(Query(vec, exclude=embedded.copies(key)), k)
        if not neighbours:
            continue
        heads = search.head_probs(vec) if alpha > 0 else None
        product = embedded.products[key]
        pixel = None
        if colour_fam and product.image_path:
            try:
                pixel = palette(decode_file(Path(product.image_path)).image).name_scores()
            except ImageError:
                pixel = None
        scores = combined_scores(
            neighbours,
            families,
            heads,
            pixel,
            colour_fam,
            colour_vocab,
            power,
            alpha,
            pixel_weight,
        )
        for family, ranked in scores.items():
            if not product.tags.get(family) or not ranked:
                continue
            second = ranked[1][1] if len(ranked) > 1 else 0.0
            tops, margins, nearests, correct = rows[family]
            tops.append(ranked[0][1])
            margins.append(ranked[0][1] - second)
            nearests.append(neighbours[0].distance)
            correct.append(ranked[0][0] == product.tags[family])
    return rows


def fit_calibration(
    search: NeighbourSearch,
    k: int = 10,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    pixel_weight: float | None = None,
    sample: int = SAMPLE,
    seed: int = 0,
) -> Calibration:
    """Leave-one-out over (a sample of) the catalogue; see the module docstring."""
    t0 = time.perf_counter()
    pixel_weight = DEFAULT_PIXEL_WEIGHT if pixel_weight is None else pixel_weight
    model = search.index.model
    embedded = _Embedded.read(search)
    # Out of domain: every product's nearest *other* photo.
    widest = max((len(v) for v in embedded.by_sha.values()), default=1)
    hits = search.index.search(embedded.vectors, 1 + widest)
    nearest_all = []
    for row, key in enumerate(embedded.keys.tolist()):
        same = embedded.copies(key)
        others = [
            float(d)
            for kk, d in zip(hits.keys[row], hits.distances[row], strict=True)
            if kk >= 0 and int(kk) not in same
        ]
        if others:
            nearest_all.append(others[0])
    ood = float(np.quantile(nearest_all, OOD_QUANTILE)) if nearest_all else 2.0
    duplicate = _duplicate_distance(search, embedded, nearest_all, seed)

    held = search.catalogue.get_meta(f"validation_keys:{model}")
    pool = [k for k in (held or embedded.keys.tolist()) if k in embedded.position]
    chosen = sorted(random.Random(seed).sample(pool, min(sample, len(pool))))
    rows = leave_one_out(search, chosen, k, power, alpha, pixel_weight, embedded)
    fitted = {f: fit_family(*r) for f, r in rows.items() if len(r[0]) >= 10}
    cal = Calibration(
        model,
        fitted,
        ood,
        duplicate,
        n_samples=len(chosen),
        seconds=round(time.perf_counter() - t0, 1),
        settings={"k": k, "power": power, "alpha": alpha, "pixel_weight": pixel_weight},
    )
    log.info("calibrated model=%s samples=%d ood=%.3f", model, len(chosen), ood)
    return cal


def _duplicate_distance(
    search: NeighbourSearch, embedded: _Embedded, nearest_all: list[float], seed: int
) -> float:
    """How far a re-saved copy of a catalogue photo lands from it (see the docstring)."""
    rng = random.Random(seed)
    products = embedded.products
    keys = [k for k, p in products.items() if p.image_path]
    distances = []
    for key in rng.sample(keys, min(DUPLICATE_SAMPLE, len(keys))):
        try:
            image = decode_file(Path(products[key].image_path)).image
        except ImageError:
            continue
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=DUPLICATE_QUALITY)
        copy = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        vec = embed_images(search.embedder, [copy])[0]
        stored = embedded.vectors[embedded.position[key]]
        distances.append(float(np.linalg.norm(vec - stored)))
    if not distances:
        return DUPLICATE_DISTANCE
    fitted = 1.25 * max(distances)
    if nearest_all:
        fitted = min(fitted, 0.5 * float(np.quantile(nearest_all, 0.01)))
    return fitted


def calibrate_workspace(search: NeighbourSearch, **options: Any) -> Calibration:
    """Fit and store the calibration of the live index's model."""
    cal = fit_calibration(search, **options)
    search.catalogue.set_meta(META_PREFIX + cal.model, cal.to_json())
    return cal
