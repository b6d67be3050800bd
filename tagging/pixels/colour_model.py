"""The product's colour as the merchant names it, learnt from the catalogue's own photos.

Naming the palette's swatches by the nearest reference shade (``colour_names``) gets the
merchant's colour label right 0.35 of the time on the sample: the house calls a washed
denim "Blue" and a heather "Grey Melange", and its labels follow the product, not the
trim. A multinomial logistic regression from the product's pixels (a CIELAB histogram of
the foreground, and the share of its pixels nearest each named shade) to the catalogue's
colour labels, fitted on the catalogue, gets 0.62 on held-out sample photos, 0.52 on
later years' products (neighbours' vote: 0.30) and 0.64 on kinds the catalogue lacks
(0.34): a photo's colour does not depend on its year or its kind, its neighbours' does
(issue 28, scripts/bench_colour.py).

A label is also a habit of the kind: the house calls a watch's grey "Steel" and a bag's
"Grey". The model therefore also sees what the photo's neighbours say its kind is (the
catalogue's type family, the one with the most values; ``KIND_SCALE``). Numbers in
BENCHMARKS.md, issue 28.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from shelfsight.tagging.pixels.colour_names import NAMED_COLOURS

# L* in 6 bins, a* and b* in 7 each over the range product colours take.
BINS = (6, 7, 7)
RANGE = ((0.0, 100.0), (-60.0, 80.0), (-60.0, 80.0))
# C = 3 was best of 0.3-10 on the sample's held-out photos (0.623; C = 1: 0.615).
C = 3.0
FOLDS = 5
# The kind's values the model sees, the commonest first: a type family with thousands
# of values (free text) would outgrow 3,000 training photos.
MAX_KINDS = 200
# The kind's vote enters at a quarter of the pixels' scale, so the fit's L2 penalty keeps
# only the habits many photos share. At full scale the later years' White fell from 0.53
# to 0.44 (a kind's colours move with the seasons); at 0.25 to 0.47, with the gains on
# random and unseen-kind photos kept (0.627 -> 0.638, 0.626 -> 0.631; prototype on the
# sample's cached features, fused at 0.6).
KIND_SCALE = 0.25
# The model reads the whole product and its core (the middle half of its extent, both
# ways): a model's hair, shoes and trousers lie at the edges of the foreground, the
# garment at its centre. On the sample's photos (a prototype, pixels alone, 6,000
# training photos) the core's features beside the whole's took the model from 0.622 to
# 0.631 on held-out photos, 0.509 to 0.525 on later years', 0.639 to 0.656 on kinds the
# training lacked (the core alone: 0.599, 0.531, 0.622). A model stored before reads the
# whole only (``ColourModel.regions``).
REGIONS = 2
# And how the product's lightness changes from pixel to pixel: a heathered grey, a
# polished steel case and a glossy black lens have the colours of a flat grey, a white and
# a black, but not their smoothness. The share of pixels in each lightness (6) or
# chroma (3) band and gradient band (4: the L* change per pixel, Sobel) beside the colours,
# for the whole and the core, took the model from 0.631 to 0.663 on held-out sample photos
# and 0.656 to 0.678 on kinds the training lacked (Grey 0.43 -> 0.47, Navy Blue 0.44 ->
# 0.50), 0.525 -> 0.527 on later years' (prototype, pixels alone, 6,000 training photos,
# the same splits; the lightness or gradient bands alone gained less). A model stored
# before reads the colours only (``ColourModel.texture``).
GRADIENT_BANDS = (3.0, 8.0, 20.0)
LIGHTNESS_BANDS = (100 / 6, 200 / 6, 50.0, 400 / 6, 500 / 6)
CHROMA_BANDS = (6.0, 15.0)
TEXTURE_DIM = (len(LIGHTNESS_BANDS) + len(CHROMA_BANDS) + 2) * (len(GRADIENT_BANDS) + 1)

Ranked = list[tuple[str, float]]


@dataclass(frozen=True)
class PixelWeight:
    """The photo's colour weight against its neighbours' vote: ``near``, and ``far`` for a
    photo whose nearest catalogue photo lies beyond ``far_distance``.

    Neighbours far away know the product's kind and the house's habits for it less well,
    so their colour vote is worth less. New stock is far more often than the catalogue is
    from itself: 73 % of the later years' products lie beyond the distance only 10 % of
    catalogue photos reach, 9 % of a random split's (issue 28, BENCHMARKS.md)."""

    near: float
    far: float | None = None
    far_distance: float | None = None

    def is_far(self, nearest: float | None) -> bool:
        """Whether a photo whose nearest catalogue photo is ``nearest`` away is a far one."""
        if self.far_distance is None:
            return False
        return nearest is None or nearest > self.far_distance

    def at(self, nearest: float | None) -> float:
        """The weight for a photo whose nearest catalogue photo is ``nearest`` away."""
        return self.far if self.far is not None and self.is_far(nearest) else self.near


Weight = float | PixelWeight


def as_rule(weight: Weight) -> PixelWeight:
    """A plain weight as the rule that gives it to every photo."""
    return weight if isinstance(weight, PixelWeight) else PixelWeight(float(weight))


def weight_at(weight: Weight, nearest: float | None) -> float:
    return as_rule(weight).at(nearest)


def weight_settings(weight: Weight) -> dict[str, float]:
    """The weight as a calibration's settings record it (``pixel_weight``, and the far
    photos' weight and distance where there is one)."""
    rule = as_rule(weight)
    out = {"pixel_weight": rule.near}
    if rule.far is not None and rule.far_distance is not None:
        out |= {"pixel_weight_far": rule.far, "pixel_far_distance": rule.far_distance}
    return out


def weight_from_settings(settings: Mapping[str, float], default: float) -> Weight:
    """What ``weight_settings`` recorded."""
    near = float(settings.get("pixel_weight", default))
    far, at = settings.get("pixel_weight_far"), settings.get("pixel_far_distance")
    return near if far is None or at is None else PixelWeight(near, float(far), float(at))


def weight_on(weight: Weight) -> bool:
    """Whether the photo's colour counts for any photo at all."""
    rule = as_rule(weight)
    return rule.near > 0 or (rule.far or 0.0) > 0


# A pixel vote that waits for the neighbours' scores of every family (its kind's vote).
PixelVote = Ranked | Callable[[Mapping[str, Ranked]], Ranked | None] | None


@lru_cache(maxsize=1)
def _shades() -> tuple[cKDTree, np.ndarray]:
    """The named colours' shades in CIELAB, as a k-d tree, and each one's colour.

    The tree finds each pixel's nearest shade 11x faster than the distances to all 86
    (1.1 against 12.6 ms a region of 4,000 pixels, the same shade for all 435,126 pixels
    of 60 catalogue photos): half of a photo's features, and of the colour fit in `index`."""
    from skimage.color import rgb2lab

    rgb, owner = [], []
    for i, shades in enumerate(NAMED_COLOURS.values()):
        for h in shades:
            rgb.append([int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)])
            owner.append(i)
    lab = rgb2lab(np.array(rgb, dtype=np.float64)[None] / 255.0)[0]
    return cKDTree(lab), np.array(owner)


def colour_features(lab: np.ndarray) -> np.ndarray:
    """Features of the product's pixels (CIELAB, one row per pixel): the histogram and the
    share nearest each named colour, square-rooted (Hellinger: shares compared by their
    square roots separate colours better in a linear model)."""
    if len(lab) == 0:
        return np.zeros(int(np.prod(BINS)) + len(NAMED_COLOURS), dtype=np.float32)
    hist, _ = np.histogramdd(lab, bins=BINS, range=RANGE)
    shades, owner = _shades()
    _, nearest = shades.query(lab)
    names = np.bincount(owner[nearest], minlength=len(NAMED_COLOURS))
    feats = np.concatenate([hist.ravel(), names]) / len(lab)
    return np.sqrt(feats).astype(np.float32)


def pixel_dim() -> int:
    """The length of one region's ``colour_features``."""
    return int(np.prod(BINS)) + len(NAMED_COLOURS)


def texture_features(lab: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """The share of the pixels in each lightness band and gradient band, then in each
    chroma band and gradient band, square-rooted like ``colour_features``. ``gradient``:
    each pixel's L* change per pixel (one value per row of ``lab``)."""
    if len(lab) == 0:
        return np.zeros(TEXTURE_DIM, dtype=np.float32)
    bands = len(GRADIENT_BANDS) + 1
    g = np.searchsorted(GRADIENT_BANDS, gradient)
    light = np.searchsorted(LIGHTNESS_BANDS, lab[:, 0]) * bands + g
    chroma = np.searchsorted(CHROMA_BANDS, np.hypot(lab[:, 1], lab[:, 2])) * bands + g
    counts = np.concatenate(
        [
            np.bincount(light, minlength=(len(LIGHTNESS_BANDS) + 1) * bands),
            np.bincount(chroma, minlength=(len(CHROMA_BANDS) + 1) * bands),
        ]
    )
    return np.sqrt(counts / len(lab)).astype(np.float32)


@dataclass(frozen=True)
class Pixels:
    """A sample of a region's pixels: CIELAB rows and each one's lightness gradient."""

    lab: np.ndarray
    gradient: np.ndarray


def swatch_features(pixels: Pixels) -> np.ndarray:
    """One region's features (a palette swatch's own pixels): its ``colour_features``, then
    its texture, the layout ``ColourModel.inputs`` reads as one region."""
    return np.concatenate(
        [colour_features(pixels.lab), texture_features(pixels.lab, pixels.gradient)]
    )


def region_features(whole: Pixels, core: Pixels) -> np.ndarray:
    """A photo's features: the whole product's ``colour_features``, then its core's, then
    the texture of each (the colours first, as a model stored before reads them)."""
    return np.concatenate(
        [
            colour_features(whole.lab),
            colour_features(core.lab),
            texture_features(whole.lab, whole.gradient),
            texture_features(core.lab, core.gradient),
        ]
    )


def kind_features(vote: Sequence[tuple[str, float]] | None, kinds: Sequence[str]) -> np.ndarray:
    """The neighbours' vote for the product's kind over ``kinds``, square-rooted like the
    pixels' shares and scaled by ``KIND_SCALE``; zeros when there is none."""
    out = np.zeros(len(kinds), dtype=np.float32)
    if vote:
        index = {k: i for i, k in enumerate(kinds)}
        for value, share in vote:
            if value in index:
                out[index[value]] = max(float(share), 0.0)
    return KIND_SCALE * np.sqrt(out)


def with_kind(features: np.ndarray, vote: Ranked | None, kinds: Sequence[str]) -> np.ndarray:
    """A photo's pixel features followed by its neighbours' vote on the kind: what a model
    fitted with ``kinds`` reads (at `index` and when serving)."""
    return np.concatenate([features, kind_features(vote, kinds)])


@dataclass
class ColourModel:
    """Pixels -> the catalogue's colour labels; stored in the catalogue's meta table."""

    family: str
    classes: list[str]
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    weight: float  # the photo's weight against the neighbours' vote, fitted
    n: int = 0
    cv_accuracy: float = 0.0
    weights_tried: dict[str, float] = field(default_factory=dict)
    kind_family: str | None = None  # whose neighbour vote the model also sees
    kinds: list[str] = field(default_factory=list)
    weight_photos: int = 0  # the photos the weight was judged on
    weight_held_out: bool = False  # ... only those a trained model never trained on
    # The weight for photos far from the catalogue (``PixelWeight``): None, one weight.
    far_weight: float | None = None
    far_distance: float | None = None
    far_photos: int = 0
    far_weights_tried: dict[str, float] = field(default_factory=dict)
    # Pixel regions it reads (``REGIONS``): 1, the whole product (a model stored before
    # the core was added); 2, the whole and its core.
    regions: int = 1
    texture: bool = False  # whether it reads the regions' texture (stored before: not)

    @property
    def pixel_weight(self) -> PixelWeight:
        return PixelWeight(self.weight, self.far_weight, self.far_distance)

    def inputs(self, features: np.ndarray, kind_vote: Ranked | None = None) -> np.ndarray:
        """The pixels' features as this model reads them, and the kind's vote when it was
        fitted with it. ``features``: a photo's (``region_features``) or one region's (a
        palette swatch: its colours, its own core, and its texture)."""
        dim = pixel_dim()
        if len(features) in (dim, dim + TEXTURE_DIM):  # one region
            colours, texture = features[:dim], features[dim:]
        else:
            colours = features[: dim * self.regions]
            texture = features[dim * REGIONS : dim * REGIONS + TEXTURE_DIM * self.regions]
        if len(colours) == dim:
            colours, texture = np.tile(colours, self.regions), np.tile(texture, self.regions)
        if self.texture:
            if len(texture) != TEXTURE_DIM * self.regions:
                raise ValueError("this colour model reads texture: give region_features")
            colours = np.concatenate([colours, texture])
        return with_kind(colours, kind_vote, self.kinds) if self.kind_family else colours

    def kind_vote(self, scores: Mapping[str, Ranked]) -> Ranked | None:
        """The neighbours' vote on the kind this model reads, out of every family's scores."""
        return scores.get(self.kind_family) if self.kind_family else None

    def probabilities(self, features: np.ndarray, kind_vote: Ranked | None = None) -> np.ndarray:
        logits = self.coef @ self.inputs(features, kind_vote) + self.intercept
        logits -= logits.max()
        p = np.exp(logits)
        return np.asarray(p / p.sum())

    def ranked(self, features: np.ndarray, kind_vote: Ranked | None = None) -> Ranked:
        """The colour names, most likely first, as the pixel vote for the colour family."""
        p = self.probabilities(features, kind_vote)
        order = np.argsort(-p)
        return [(self.classes[i], float(p[i])) for i in order if p[i] >= 1e-4]

    def given(self, features: np.ndarray) -> PixelVote:
        """The photo's vote once its neighbours have voted on its kind (what
        ``fuse_pixel_colour`` calls with the scores of every family)."""
        if not self.kind_family:
            return self.ranked(features)
        return lambda scores: self.ranked(features, self.kind_vote(scores))

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "classes": self.classes,
            "coef": np.round(self.coef, 5).tolist(),
            "intercept": np.round(self.intercept, 5).tolist(),
            "weight": self.weight,
            "n": self.n,
            "cv_accuracy": round(self.cv_accuracy, 4),
            "weights_tried": self.weights_tried,
            "kind_family": self.kind_family,
            "kinds": self.kinds,
            "weight_photos": self.weight_photos,
            "weight_held_out": self.weight_held_out,
            "far_weight": self.far_weight,
            "far_distance": self.far_distance,
            "far_photos": self.far_photos,
            "far_weights_tried": self.far_weights_tried,
            "regions": self.regions,
            "texture": self.texture,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ColourModel:
        return cls(
            raw["family"],
            list(raw["classes"]),
            np.asarray(raw["coef"], dtype=np.float64),
            np.asarray(raw["intercept"], dtype=np.float64),
            float(raw["weight"]),
            int(raw.get("n", 0)),
            float(raw.get("cv_accuracy", 0.0)),
            dict(raw.get("weights_tried", {})),
            raw.get("kind_family"),
            list(raw.get("kinds", [])),
            int(raw.get("weight_photos", 0)),
            bool(raw.get("weight_held_out", False)),
            raw.get("far_weight"),
            raw.get("far_distance"),
            int(raw.get("far_photos", 0)),
            dict(raw.get("far_weights_tried", {})),
            int(raw.get("regions", 1)),
            bool(raw.get("texture", False)),
        )


def fit_colour_model(
    family: str,
    features: np.ndarray,
    labels: list[str],
    seed: int = 0,
    kind_family: str | None = None,
    kinds: Sequence[str] = (),
    regions: int = 1,
    texture: bool = False,
) -> tuple[ColourModel, np.ndarray] | None:
    """The model, and each training photo's out-of-fold probabilities (what it would say
    of a photo it never saw: the fusion weight and the calibration are fitted on those).
    ``features``: ``ColourModel.inputs`` of each photo (its kind's vote included when
    ``kind_family`` is given), of ``regions`` pixel regions each (and their texture when
    ``texture``). None when the labels are too few to learn from."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    values, counts = np.unique(y, return_counts=True)
    if len(values) < 2 or len(y) < 20:
        return None
    model = LogisticRegression(C=C, max_iter=2000).fit(features, y)
    classes = [str(c) for c in model.classes_]
    coef, intercept = model.coef_, model.intercept_
    if len(classes) == 2:  # one logit for the second class: the first's is 0
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    oof = np.zeros((len(y), len(classes)))
    # Classes with fewer photos than folds cannot be stratified: they are kept in every
    # training fold (their own photos scored by the full model, a little optimistic).
    folds = min(FOLDS, int(counts.max()))
    rare = np.isin(y, values[counts < folds])
    common = np.flatnonzero(~rare)
    oof[rare] = model.predict_proba(features[rare]) if rare.any() else 0
    if folds >= 2 and len(np.unique(y[common])) >= 2:
        split = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, test in split.split(features[common], y[common]):
            fit_on = np.concatenate([common[train], np.flatnonzero(rare)])
            m = LogisticRegression(C=C, max_iter=2000).fit(features[fit_on], y[fit_on])
            cols = [classes.index(str(c)) for c in m.classes_]
            oof[np.ix_(common[test], cols)] = m.predict_proba(features[common[test]])
    else:
        oof = model.predict_proba(features)
    accuracy = float((np.asarray(classes)[oof.argmax(1)] == y).mean())
    fitted = ColourModel(
        family,
        classes,
        coef.astype(np.float64),
        intercept.astype(np.float64),
        weight=0.5,
        n=len(y),
        cv_accuracy=accuracy,
        kind_family=kind_family,
        kinds=list(kinds) if kind_family else [],
        regions=regions,
        texture=texture,
    )
    return fitted, oof
