"""The catalogue's colour model (``pixels.colour_model``) fitted at `index` time, with the
weight of the photo's colour against the neighbours' vote, and the pixel votes the
calibration and the words' fusion are fitted on.

A sample of the catalogue's labelled photos trains the model; each sampled photo's own
vote is out of fold (what the model says of a photo it never saw), so the weight and the
calibration learn how far the served vote can be trusted, not how well it memorised.
The weight is the one whose fused colour tag is right most often on the same photos,
their neighbours found with themselves left out, as ``tag`` serves it.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.images import ImageError, decode_file
from shelfsight.tagging.neighbour_tags.kinds import novelty_family
from shelfsight.tagging.neighbour_tags.scoring import combined_scores
from shelfsight.tagging.pixels.colour import (
    colour_family,
    fuse_pixel_colour,
    palette,
    pixel_features,
)
from shelfsight.tagging.pixels.colour_model import (
    MAX_KINDS,
    REGIONS,
    ColourModel,
    PixelVote,
    fit_colour_model,
    with_kind,
)
from shelfsight.tagging.search.visual import Query, nearest_distance

log = logging.getLogger(__name__)

META = "colour-model"
# Training photos: held-out accuracy on the sample 0.600 at 2,000, 0.607 at 3,000, 0.623
# at 7,615 (the whole product's pixels); with its core too (``REGIONS``) 0.624 at 3,000,
# 0.631 at 6,000, 0.639 at 9,000, later years' 0.522, 0.525, 0.522 (prototype on the
# sample). Features take ~25 ms a photo: 6,000 cost about two minutes of `index`.
COLOUR_SAMPLE = 6000
WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Fewer held-out photos than this and the weight is judged on every sampled photo.
MIN_JUDGED = 30
# The judged photos farther from the rest of the catalogue than this share of them are
# "far" ones, and get their own weight (``PixelWeight``). At the 0.9 quantile of the
# CNN's distances on the sample, 9 % of a random split's queries, 26 % of unseen kinds'
# and 73 % of later years' were far (experiment on the sample's cached features).
FAR_QUANTILE = 0.9
# A weight judged on fewer far photos than this is noise: they take the near one.
MIN_FAR = 25

Ranked = list[tuple[str, float]]


@dataclass
class PixelVotes:
    """The colour family's pixel vote for a catalogue product: out of fold for the photos
    the model trained on, the model's for the rest (waiting for the neighbours' vote on
    the kind, ``ColourModel.given``), the palette's colour names where no model could be
    fitted (no colour labels)."""

    model: ColourModel | None
    oof: dict[int, Ranked] = field(default_factory=dict)

    def __call__(self, product: Any) -> PixelVote:
        if product.key in self.oof:
            return self.oof[product.key]
        path = _stat(product)
        if path is None:
            return None
        if self.model is None:
            return _palette_names(*path)
        features = _features(*path)
        return None if features is None else self.model.given(features)


def load_colour_model(catalogue: Catalogue) -> ColourModel | None:
    raw = catalogue.get_meta(META)
    return ColourModel.from_json(raw) if raw else None


_LAST: dict[str, PixelVotes] = {}  # the last fit per catalogue (its out-of-fold votes)


def pixel_votes_for(catalogue: Catalogue) -> PixelVotes:
    """The votes of the model stored for ``catalogue``: the last fit's, out-of-fold votes
    included, when it is that model (the words' fit runs right after the calibration)."""
    model = load_colour_model(catalogue)
    last = _LAST.get(str(catalogue.path))
    same = last is not None and last.model is not None and model is not None
    if same and last.model.to_json() == model.to_json():  # type: ignore[union-attr]
        return last  # type: ignore[return-value]
    return PixelVotes(model)


def fit_colour(
    search: Any,
    vectors: Callable[[int], np.ndarray],
    copies: Callable[[int], list[int]],
    products: dict[int, Any],
    k: int,
    power: float,
    alpha: float,
    seed: int = 0,
) -> PixelVotes:
    """Fit and store the colour model of ``search``'s catalogue (none without a colour
    family with labels: the palette's names then stand in)."""
    catalogue = search.catalogue
    families = catalogue.tag_families()
    family = colour_family(families, catalogue.column("colour"))
    labelled = [p for p in products.values() if family and p.tags.get(family) and p.image_path]
    if not family or len(labelled) < 20:
        catalogue.set_meta(META, None)  # a model of colours the catalogue no longer has
        return PixelVotes(None)
    rng = random.Random(seed)
    # A trained model's heads (the hybrid's) know the photos they trained on: scored on
    # those, the neighbours-and-heads vote looks far better than on new photos, and the
    # weight came out 0.1 (the hybrid's later-years colour tag 0.439, below the CNN's
    # 0.496). The weight is judged on the photos the training kept aside, all of them in
    # the sample.
    held = set(catalogue.get_meta(f"validation_keys:{search.index.model}") or [])
    fresh = [p for p in labelled if p.key in held][:COLOUR_SAMPLE]
    rest = [p for p in labelled if p.key not in held]
    chosen = fresh + rng.sample(rest, min(COLOUR_SAMPLE - len(fresh), len(rest)))
    chosen.sort(key=lambda p: p.key)
    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda p: (p, _features(*(_stat(p) or ("", 0, 0)))), chosen))
    feats = [(p, f) for p, f in found if f is not None]
    if len(feats) < 20:
        catalogue.set_meta(META, None)
        return PixelVotes(None)
    # Each photo's neighbours as `tag` finds them (itself and its copies left out): their
    # vote on its kind is one of the model's inputs, their colour vote the fusion's other half.
    kind = novelty_family(catalogue, [f for f in families if f != family])
    counts = catalogue.value_counts(kind) if kind else {}
    kinds = sorted(counts, key=lambda v: (-counts[v], v))[:MAX_KINDS]
    voted = [family, *([kind] if kind else [])]
    vocab = set(catalogue.value_counts(family))
    plain, nearest = {}, {}
    for p, _ in feats:
        neighbours = search.neighbours(Query(vectors(p.key), exclude=copies(p.key)), k)
        closest = nearest_distance(neighbours)
        nearest[p.key] = np.inf if closest is None else closest
        heads = search.head_probs(vectors(p.key)) if alpha > 0 else None
        if heads is not None:
            heads = {f: r for f, r in heads.items() if f in voted}
        plain[p.key] = combined_scores(
            neighbours, voted, heads, None, family, vocab, power, alpha, 0.0
        )
    inputs = np.stack(
        [with_kind(f, plain[p.key].get(kind), kinds) if kind else f for p, f in feats]
    )
    labels = [p.tags[family] for p, _ in feats]
    fitted = fit_colour_model(family, inputs, labels, seed, kind, kinds, REGIONS, texture=True)
    if fitted is None:
        catalogue.set_meta(META, None)
        return PixelVotes(None)
    model, oof_p = fitted
    oof = {
        p.key: [(model.classes[i], float(oof_p[j, i])) for i in np.argsort(-oof_p[j])]
        for j, (p, _) in enumerate(feats)
    }
    judged = [p for p, _ in feats if p.key in held]
    if len(judged) < MIN_JUDGED:  # no training kept photos aside (the CNN): every photo
        judged = [p for p, _ in feats]
    n = len(judged)
    model.weight_photos, model.weight_held_out = n, n < len(feats)
    far_at = float(np.quantile([nearest[p.key] for p in judged], FAR_QUANTILE))
    far = [p for p in judged if nearest[p.key] > far_at]
    near = [p for p in judged if nearest[p.key] <= far_at] if len(far) >= MIN_FAR else judged
    judge = functools.partial(_judge, plain=plain, oof=oof, family=family, vocab=vocab)
    model.weights_tried = judge(near)
    # The best weight; among weights within 0.5 point of it, the lowest: the neighbours
    # keep what they know (a print's colour, a label's habit) where the photo is unsure.
    best = max(model.weights_tried.values())
    model.weight = min(w for w in WEIGHTS if model.weights_tried[str(w)] >= best - 0.005)
    if len(far) >= MIN_FAR:
        # Far from the catalogue the other way round: the highest weight within a point
        # of the best (fewer photos, and new stock lies farther out still than the
        # catalogue's own far photos), never below the near weight.
        model.far_weights_tried = judge(far)
        best = max(model.far_weights_tried.values())
        top = max(w for w in WEIGHTS if model.far_weights_tried[str(w)] >= best - 0.01)
        model.far_weight, model.far_distance = max(top, model.weight), round(far_at, 6)
        model.far_photos = len(far)
    catalogue.set_meta(META, model.to_json())
    log.info(
        "colour model fitted",
        extra={
            "fields": {
                "photos": len(feats),
                "weight_judged_on": n,
                "cv_accuracy": round(model.cv_accuracy, 3),
                "weight": model.weight,
                "fused_accuracy": model.weights_tried[str(model.weight)],
                "far_weight": model.far_weight,
                "far_distance": model.far_distance,
            }
        },
    )
    votes = PixelVotes(model, oof)
    _LAST[str(catalogue.path)] = votes
    return votes


def _judge(
    photos: list[Any],
    plain: dict[int, dict[str, Ranked]],
    oof: dict[int, Ranked],
    family: str,
    vocab: set[str],
) -> dict[str, float]:
    """Each weight's share of ``photos`` whose fused colour tag is right."""
    right = dict.fromkeys(WEIGHTS, 0)
    for p in photos:
        for w in WEIGHTS:
            fused = fuse_pixel_colour(plain[p.key], family, oof[p.key], w, vocab).get(family) or []
            right[w] += bool(fused) and fused[0][0] == p.tags[family]
    return {str(w): round(right[w] / max(len(photos), 1), 4) for w in WEIGHTS}


def _stat(product: Any) -> tuple[str, int, int] | None:
    if not product.image_path:
        return None
    try:
        st = Path(product.image_path).stat()
    except OSError:
        return None
    return str(product.image_path), st.st_mtime_ns, st.st_size


# Keyed by the file's path, time and size: the colour fit, the calibration and the words'
# fit read the same photos in one `index`.
@functools.lru_cache(maxsize=2 * COLOUR_SAMPLE)
def _features(path: str, mtime_ns: int, size: int) -> np.ndarray | None:
    if not path:
        return None
    try:
        return pixel_features(decode_file(Path(path)).image)
    except ImageError:
        return None


@functools.lru_cache(maxsize=2 * COLOUR_SAMPLE)
def _palette_names(path: str, mtime_ns: int, size: int) -> Ranked | None:
    try:
        return palette(decode_file(Path(path)).image).name_scores()
    except ImageError:
        return None
