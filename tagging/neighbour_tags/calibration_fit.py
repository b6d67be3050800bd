"""Fitting what the tagger's scores mean, on the catalogue itself (``calibration``
says what is fitted and why): each sampled product tagged leave-one-out, half of them
again as if their type were new, the typical distances of each value, the out-of-domain
and duplicate distances.
"""

from __future__ import annotations

import io
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression

from shelfsight.indexer.embedders import embed_images
from shelfsight.indexer.images import ImageError, decode_file
from shelfsight.tagging.neighbour_tags.calibration import (
    ACCEPT_PRECISION,
    ATYPICAL_QUANTILE,
    DUPLICATE_DISTANCE,
    FEATURES,
    META_PREFIX,
    TYPICALITY,
    Calibration,
    FamilyCalibration,
)
from shelfsight.tagging.neighbour_tags.colour_fit import (
    FAR_QUANTILE,
    PixelVotes,
    fit_colour,
    pixel_votes_for,
)
from shelfsight.tagging.neighbour_tags.defaults import DEFAULT_PIXEL_WEIGHT, NOVELTY_PRIOR
from shelfsight.tagging.neighbour_tags.kinds import novelty_family
from shelfsight.tagging.neighbour_tags.knn import DEFAULT_ALPHA, DEFAULT_POWER
from shelfsight.tagging.neighbour_tags.scoring import combined_scores
from shelfsight.tagging.pixels.colour import colour_family
from shelfsight.tagging.pixels.colour_model import (
    PixelVote,
    Weight,
    weight_on,
    weight_settings,
)
from shelfsight.tagging.search.visual import NeighbourSearch, Query

log = logging.getLogger(__name__)

OOD_QUANTILE = 0.99
DUPLICATE_SAMPLE = 40
DUPLICATE_QUALITY = 85
SAMPLE = 600
# Of the sampled products, how many are tagged a second time as if their type were new.
NOVEL_SAMPLE = 300
# Members of a value measured for its typical distance (a sample beyond this).
TYPICAL_PROBES = 1000
# Products kept out of training needed to read distances off them (else all are used).
MIN_FRESH = 50
# Fewer far calibration answers than this and far queries keep the family's threshold.
MIN_FAR_ROWS = 30
NEAREST = FEATURES.index("nearest")


def _accept_threshold(
    probs: np.ndarray, correct: np.ndarray, precision: float, weights: np.ndarray | None = None
) -> float:
    """The lowest score t whose accepted set {p >= t} is at least ``precision`` precise
    (weighted); above every score (nothing auto-accepted) when no such t exists."""
    weights = np.ones(len(probs)) if weights is None else weights
    order = np.argsort(-probs, kind="stable")
    running = np.cumsum((correct * weights)[order]) / np.cumsum(weights[order])
    ok = np.nonzero(running >= precision)[0]
    if len(ok) == 0:
        return 1.01
    return float(probs[order][ok[-1]])


def fit_family(
    features: np.ndarray, correct: np.ndarray, weights: np.ndarray | None = None
) -> FamilyCalibration:
    """Logistic calibration of one family on rows of FEATURES (see tag_features)."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(correct, dtype=int)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    rate = float(np.average(y, weights=w))
    if y.min() == y.max():  # all right or all wrong: a constant is the honest answer
        const = math.log(max(rate, 1e-3) / max(1 - rate, 1e-3))
        cal = FamilyCalibration([0.0] * x.shape[1], const, 0.0, len(y), rate)
    else:
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y, sample_weight=w)
        cal = FamilyCalibration(
            [float(c) for c in lr.coef_[0]], float(lr.intercept_[0]), 0.0, len(y), rate
        )
    probs = np.array([cal.probability(row) for row in x])
    cal.accept_threshold = _accept_threshold(probs, y.astype(float), ACCEPT_PRECISION, w)
    return cal


@dataclass
class Rows:
    """Per family: one feature row per calibration answer, whether it was right, and
    whether it came from a simulated novel type."""

    x: dict[str, list[np.ndarray]] = field(default_factory=dict)
    y: dict[str, list[bool]] = field(default_factory=dict)
    novel: dict[str, list[bool]] = field(default_factory=dict)

    def add(self, family: str, features: np.ndarray, correct: bool, novel: bool) -> None:
        self.x.setdefault(family, []).append(features)
        self.y.setdefault(family, []).append(correct)
        self.novel.setdefault(family, []).append(novel)

    def fit(
        self,
        family: str,
        prior: float,
        type_family: bool = False,
        far_distance: float | None = None,
    ) -> FamilyCalibration:
        """Fit one family, the novel rows weighted to make up ``prior`` of it; for the type
        family, also the typicality beyond which an answer goes to review; with
        ``far_distance``, the threshold of the answers beyond it."""
        novel = np.asarray(self.novel[family], dtype=bool)
        x, y = np.stack(self.x[family]), np.asarray(self.y[family], dtype=bool)
        w = np.ones(len(novel))
        if novel.any():
            odds = prior / (1 - prior)
            w[novel] = odds * max(int((~novel).sum()), 1) / int(novel.sum())
        cal = fit_family(x, y, w)
        right = x[~novel & y, TYPICALITY]
        if type_family and len(right) >= 10:
            cal.max_typicality = float(np.quantile(right, ATYPICAL_QUANTILE))
        if far_distance is not None:
            far = x[:, NEAREST] > far_distance
            if far.sum() >= MIN_FAR_ROWS:
                probs = np.array([cal.probability(row) for row in x[far]])
                t = _accept_threshold(probs, y[far].astype(float), ACCEPT_PRECISION, w[far])
                cal.far_threshold = max(t, cal.accept_threshold)
        return cal


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

    def photo_codes(self) -> np.ndarray:
        """One integer per position, equal for products sharing image bytes."""
        codes: dict[str, int] = {}
        out = np.empty(len(self.keys), dtype=np.int64)
        for pos, key in enumerate(self.keys.tolist()):
            sha = self.products[key].image_sha256 or f"key:{key}"
            out[pos] = codes.setdefault(sha, len(codes))
        return out

    def members(self, family: str) -> dict[str, list[int]]:
        """value -> keys of the products carrying it."""
        out: dict[str, list[int]] = {}
        for key in self.keys.tolist():
            value = self.products[key].tags.get(family)
            if value:
                out.setdefault(value, []).append(key)
        return out


def typical_distances(
    embedded: _Embedded, families: list[str], seed: int = 0
) -> dict[str, dict[str, float]]:
    """family -> value -> median distance from a product of that value to its nearest
    other photo of the same value (values with fewer than 3 products are left out)."""
    rng = np.random.default_rng(seed)
    codes = embedded.photo_codes()
    out: dict[str, dict[str, float]] = {}
    for family in families:
        out[family] = {}
        for value, keys in embedded.members(family).items():
            if len(keys) < 3:
                continue
            members = np.array([embedded.position[k] for k in keys])
            probes = members
            if len(members) > TYPICAL_PROBES:
                probes = rng.choice(members, TYPICAL_PROBES, replace=False)
            nearest = _nearest_other(embedded.vectors, codes, probes, members)
            nearest = nearest[np.isfinite(nearest)]
            if len(nearest):
                out[family][value] = float(np.median(nearest))
    return out


def _nearest_other(
    vectors: np.ndarray, codes: np.ndarray, probes: np.ndarray, members: np.ndarray
) -> np.ndarray:
    """Each probe's distance to its nearest member with other image bytes (exact)."""
    out = np.empty(len(probes), dtype=np.float64)
    pool = vectors[members]
    for start in range(0, len(probes), 512):
        chunk = probes[start : start + 512]
        sims = vectors[chunk] @ pool.T
        sims[codes[chunk][:, None] == codes[members][None, :]] = -np.inf
        best = sims.max(axis=1)
        out[start : start + len(chunk)] = np.where(
            np.isfinite(best), np.sqrt(np.clip(2.0 - 2.0 * best, 0.0, None)), np.inf
        )
    return out


def leave_one_out(
    search: NeighbourSearch,
    keys: list[int],
    k: int = 10,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    pixel_weight: Weight | None = None,
    embedded: _Embedded | None = None,
    calibration: Calibration | None = None,
    novel_keys: list[int] | None = None,
    pixel_votes: PixelVotes | None = None,
) -> Rows:
    """Tag each of ``keys`` from its neighbours with itself (and copies of its photo)
    left out, through the served scoring; per family, the features the calibration sees
    (typicality from ``calibration.typical``) and whether the top value was right.

    Each of ``novel_keys`` is tagged once more as a product of a type the catalogue
    lacks: every product of its ``calibration.novel_family`` value is left out, and the
    heads' probability of that value is taken away (heads never learn a type that is
    not in the catalogue)."""
    embedded = embedded or _Embedded.read(search)
    cal = calibration or Calibration(search.index.model, {}, 2.0)
    pixel_weight = DEFAULT_PIXEL_WEIGHT if pixel_weight is None else pixel_weight
    votes = pixel_votes or pixel_votes_for(search.catalogue)
    families = search.catalogue.tag_families()
    colour = search.catalogue.column("colour")
    colour_fam = colour_family(families, colour) if weight_on(pixel_weight) else None
    colour_vocab = set(search.catalogue.value_counts(colour_fam)) if colour_fam else None
    novel_fam = cal.novel_family
    members = embedded.members(novel_fam) if novel_fam else {}
    pixels: dict[int, PixelVote] = {}
    rows = Rows()

    def tag(key: int, exclude: list[int], drop: str | None) -> None:
        vec = embedded.vectors[embedded.position[key]]
        neighbours = search.neighbours(Query(vec, exclude=exclude), k)
        if not neighbours:
            return
        heads = search.head_probs(vec) if alpha > 0 else None
        if heads and drop is not None and novel_fam in heads:
            heads = {**heads, novel_fam: _without(heads[novel_fam], drop)}
        product = embedded.products[key]
        if key not in pixels:
            pixels[key] = votes(product) if colour_fam else None
        scores = combined_scores(
            neighbours,
            families,
            heads,
            pixels[key],
            colour_fam,
            colour_vocab,
            power,
            alpha,
            pixel_weight,
        )
        for family, ranked in scores.items():
            truth = product.tags.get(family)
            if truth and ranked:
                features = cal.features(family, ranked, neighbours)
                rows.add(family, features, ranked[0][0] == truth, drop is not None)

    for key in keys:
        tag(key, embedded.copies(key), None)
    for key in novel_keys or []:
        value = embedded.products[key].tags.get(novel_fam or "")
        if value:
            tag(key, members[value], value)
    return rows


def _without(ranked: list[tuple[str, float]], value: str) -> list[tuple[str, float]]:
    kept = [(v, p) for v, p in ranked if v != value]
    total = sum(p for _, p in kept)
    return [(v, p / total) for v, p in kept] if total > 0 else kept


def fit_calibration(
    search: NeighbourSearch,
    k: int = 10,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    pixel_weight: float | None = None,
    sample: int = SAMPLE,
    seed: int = 0,
    novelty_prior: float = NOVELTY_PRIOR,
) -> Calibration:
    """Leave-one-out over (a sample of) the catalogue; see the module docstring."""
    t0 = time.perf_counter()
    model = search.index.model
    embedded = _Embedded.read(search)
    # The colour model first: the calibration learns how far its served vote is trusted.
    votes = PixelVotes(None)
    if pixel_weight != 0.0:
        votes = fit_colour(
            search,
            lambda key: embedded.vectors[embedded.position[key]],
            embedded.copies,
            embedded.products,
            k,
            power,
            alpha,
            seed,
        )
    weight: Weight = DEFAULT_PIXEL_WEIGHT if pixel_weight is None else pixel_weight
    if pixel_weight is None and votes.model:
        weight = votes.model.pixel_weight
    # Out of domain: every product's nearest *other* photo.
    widest = max((len(v) for v in embedded.by_sha.values()), default=1)
    hits = search.index.search(embedded.vectors, 1 + widest)
    nearest: dict[int, float] = {}
    for row, key in enumerate(embedded.keys.tolist()):
        same = embedded.copies(key)
        others = [
            float(d)
            for kk, d in zip(hits.keys[row], hits.distances[row], strict=True)
            if kk >= 0 and int(kk) not in same
        ]
        if others:
            nearest[key] = others[0]
    nearest_all = list(nearest.values())
    # A trained model may pull the products it trained on together, so a new product
    # would sit farther out than they sit from each other. Where the training kept
    # products aside (the hybrid's validation split), distances are read off those.
    held = search.catalogue.get_meta(f"validation_keys:{model}")
    fresh = [nearest[k] for k in held or [] if k in nearest]
    reference = fresh if len(fresh) >= MIN_FRESH else nearest_all
    ood = float(np.quantile(reference, OOD_QUANTILE)) if reference else 2.0
    scale = float(np.median(reference) / np.median(nearest_all)) if nearest_all else 1.0
    duplicate = _duplicate_distance(search, embedded, nearest_all, seed)
    families = search.catalogue.tag_families()
    typical = {
        f: {v: d * scale for v, d in values.items()}
        for f, values in typical_distances(embedded, families, seed).items()
    }
    cal = Calibration(
        model,
        {},
        ood,
        duplicate,
        settings={
            "k": k,
            "power": power,
            "alpha": alpha,
            **weight_settings(weight),
            "novelty_prior": novelty_prior,
            "fresh_scale": round(scale, 4),
        },
        typical=typical,
        typical_default=float(np.median(reference)) if reference else 0.0,
        novel_family=novelty_family(search.catalogue, families) if novelty_prior > 0 else None,
        far_distance=float(np.quantile(reference, FAR_QUANTILE)) if reference else None,
    )

    pool = [k for k in (held or embedded.keys.tolist()) if k in embedded.position]
    rng = random.Random(seed)
    chosen = sorted(rng.sample(pool, min(sample, len(pool))))
    novel = sorted(rng.sample(chosen, min(NOVEL_SAMPLE, len(chosen)))) if cal.novel_family else []
    rows = leave_one_out(search, chosen, k, power, alpha, weight, embedded, cal, novel, votes)
    cal.families = {
        f: rows.fit(f, novelty_prior, f == cal.novel_family, cal.far_distance)
        for f in rows.x
        if len(rows.x[f]) >= 10
    }
    cal.n_samples, cal.n_novel = len(chosen), len(novel)
    cal.seconds = round(time.perf_counter() - t0, 1)
    log.info(
        "calibrated model=%s samples=%d novel=%d ood=%.3f", model, len(chosen), len(novel), ood
    )
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
