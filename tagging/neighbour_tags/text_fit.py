"""Fitting the listing words' model and its fusion with the photo on the catalogue
(``tagging.text_tags``), the way the calibration is fitted: on held-out products.

A sample of the catalogue (the hybrid's validation split when there is one: its heads
never saw those) is tagged from its neighbours with itself left out, through the served
scoring; its titles are read by a text model fitted on every other title. From those
pairs each family learns its weight and its trust model. The text model kept for serving
is then fitted on every title.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.tagging.neighbour_tags.calibration import ACCEPT_PRECISION
from shelfsight.tagging.neighbour_tags.calibration_fit import (
    SAMPLE,
    _accept_threshold,
    _Embedded,
)
from shelfsight.tagging.neighbour_tags.colour_fit import pixel_votes_for
from shelfsight.tagging.neighbour_tags.defaults import DEFAULT_PIXEL_WEIGHT
from shelfsight.tagging.neighbour_tags.kinds import novelty_family
from shelfsight.tagging.neighbour_tags.knn import DEFAULT_ALPHA, DEFAULT_POWER
from shelfsight.tagging.neighbour_tags.scoring import combined_scores
from shelfsight.tagging.pixels.colour import colour_family
from shelfsight.tagging.pixels.colour_model import Weight, weight_on
from shelfsight.tagging.search.visual import NeighbourSearch, Query
from shelfsight.tagging.text_tags.fusion import (
    BANDS,
    WEIGHTS,
    FamilyFusion,
    Ranked,
    TextTags,
    band_of,
    features,
    normalised,
    pooled,
    text_features,
)
from shelfsight.tagging.text_tags.kinds import KindSlot
from shelfsight.tagging.text_tags.model import TextModel
from shelfsight.tagging.text_tags.perturb import transform_text
from shelfsight.tagging.text_tags.words import listing_text, word_set

log = logging.getLogger(__name__)
MIN_ROWS = 30  # fewer held-out products of a family: its fusion is not fitted
MIN_TITLES = 40
MIN_BAND = 20  # held-out rows a text-confidence band needs for a weight of its own
MIN_GROUP = 10  # rows of one wording in a band before it can veto a weight
NAMED_FAMILY = 0.5  # share of titles naming a family's value for it to be a named one
# The other houses' words the fusion is also fitted on, one per held-out title in turn.
AUGMENT = ("drop-colour", "shuffle", "typos", "brand-only")


def catalogue_texts(catalogue: Catalogue, products: list[Product]) -> list[str]:
    """Each product's words as the text model reads them: title, then description."""
    described = catalogue.column("description")
    return [
        listing_text(p.title, [str(p.fields.get(described) or "")] if described else [])
        for p in products
    ]


def fit_text_tags(
    search: NeighbourSearch,
    k: int = 10,
    power: float = DEFAULT_POWER,
    alpha: float = DEFAULT_ALPHA,
    pixel_weight: Weight = DEFAULT_PIXEL_WEIGHT,
    sample: int = SAMPLE,
    seed: int = 0,
) -> TextTags | None:
    """None when the catalogue has too few titles to learn words from."""
    t0 = time.perf_counter()
    catalogue = search.catalogue
    families = catalogue.tag_families()
    products = list(catalogue.iter_products())
    texts = catalogue_texts(catalogue, products)
    if sum(bool(re.search(r"\w\w", t)) for t in texts) < MIN_TITLES:
        log.info("too few titles to fit the words' model", extra={"fields": {"n": len(texts)}})
        return None
    embedded = _Embedded.read(search)
    held = catalogue.get_meta(f"validation_keys:{search.index.model}")
    pool = [k for k in (held or embedded.keys.tolist()) if k in embedded.position]
    # At most half the catalogue: the model that reads them must learn from the rest.
    chosen = set(random.Random(seed).sample(pool, min(sample, len(products) // 2, len(pool))))
    rest = [i for i, p in enumerate(products) if p.key not in chosen]
    probe = [i for i, p in enumerate(products) if p.key in chosen]
    # The words of the held-out products, read by a model that never saw them.
    held_model = TextModel.fit([texts[i] for i in rest], [products[i].tags for i in rest], families)
    # Each held-out title twice: as the catalogue wrote it and as another house might
    # (``perturb``), so the fusion learns how far weaker words can be trusted.
    colour_column = catalogue.column("colour")
    colours = catalogue.value_counts(colour_column) if colour_column in families else {}
    pairs = []
    for n, i in enumerate(probe):
        wording = AUGMENT[n % len(AUGMENT)]
        pairs.append((n, i, texts[i], "as written"))
        pairs.append((n, i, transform_text(wording, texts[i], colours, seed), wording))
    answers = held_model.ranked_many([text for _, _, text, _ in pairs])
    read = [(n, i, text, said, w) for (n, i, text, w), said in zip(pairs, answers, strict=True)]
    scoring = (k, power, alpha, pixel_weight)
    photo = _photo_scores(search, embedded, [products[i] for i in probe], families, *scoring)
    out = TextTags(TextModel.fit(texts, [p.tags for p in products], families))
    kind_family = novelty_family(catalogue, families)  # the type: most values, colour aside
    if kind_family:
        out.kind = KindSlot.fit(kind_family, texts, [p.tags for p in products])
    out.generation = catalogue.generation()
    out.photo_model = search.index.model
    out.value_words = {f: word_set(catalogue.value_counts(f)) for f in families}
    for family in held_model.classifiers:
        rows = []
        for n, i, text, words, wording in read:
            truth = products[i].tags.get(family)
            said = photo[n].get(family)
            if truth and said and words.get(family):
                rows.append((said, words[family], truth, out.names(text, family), wording))
        if len(rows) >= MIN_ROWS:
            out.families[family], out.summary[family] = _fit_family(rows)
    out.seconds = round(time.perf_counter() - t0, 1)
    log.info(
        "text tags fitted",
        extra={"fields": {"seconds": out.seconds, "families": len(out.families)}},
    )
    return out


def _photo_scores(
    search: NeighbourSearch,
    embedded: _Embedded,
    products: list[Product],
    families: list[str],
    k: int,
    power: float,
    alpha: float,
    pixel_weight: Weight,
) -> list[dict[str, Ranked]]:
    """Each product's served photo scores, from its neighbours with itself left out."""
    colour_fam = (
        colour_family(families, search.catalogue.column("colour"))
        if weight_on(pixel_weight)
        else None
    )
    colour_vocab = set(search.catalogue.value_counts(colour_fam)) if colour_fam else None
    votes = pixel_votes_for(search.catalogue)
    out = []
    for product in products:
        vec = embedded.vectors[embedded.position[product.key]]
        neighbours = search.neighbours(Query(vec, exclude=embedded.copies(product.key)), k)
        heads = search.head_probs(vec) if alpha > 0 else None
        pixels = votes(product) if colour_fam else None
        scores = combined_scores(
            neighbours,
            families,
            heads,
            pixels,
            colour_fam,
            colour_vocab,
            power,
            alpha,
            pixel_weight,
        )
        out.append({f: normalised(r) for f, r in scores.items() if r})
    return out


# photo, words, truth, whether the words name a value, how they were written
Row = tuple[Ranked, Ranked, str, bool, str]


def _fit_family(rows: list[Row]) -> tuple[FamilyFusion, dict[str, Any]]:
    scored = _Scored(rows)
    everyone = np.arange(len(rows))
    weight = scored.best_weight(everyone, 0.0)
    # Per product: words that name no value, or that the model is unsure of (another
    # house's, a typo, a brand alone), earn their own, usually smaller, weight.
    bands = np.array([band_of(t, named) for _, t, _, named, _ in rows])
    by_band = [
        scored.best_weight(np.flatnonzero(bands == band), weight)
        for band in range(2 * (len(BANDS) + 1))
    ]
    written = [r[3] for r in rows if r[4] == "as written"]
    named_share = float(np.mean(written)) if written else 0.0
    if named_share >= NAMED_FAMILY:
        # A family the titles name (gender, colour, type): words that do not name it are
        # silent or generic about it (a brand alone, a title without its colour), and
        # the photo decides.
        by_band[: len(BANDS) + 1] = [0.0] * (len(BANDS) + 1)
    fused = [pooled(p, t, by_band[band_of(t, named)]) for p, t, _, named, _ in rows]
    right = np.array([f[0][0] == r[2] for f, r in zip(fused, rows, strict=True)])
    text_right = np.array([t[0][0] == truth for _, t, truth, _, _ in rows])
    photo_right = np.array([p[0][0] == truth for p, _, truth, _, _ in rows])
    named = np.array([r[3] for r in rows])
    x = np.stack([features(f, r[0], r[1], r[3]) for f, r in zip(fused, rows, strict=True)])
    xt = np.stack([text_features(t) for _, t, _, _, _ in rows])
    listing, listing_at = _trust_model(x, right)
    text, text_at = _trust_model(xt, text_right)
    fusion = FamilyFusion(weight, listing, listing_at, text, text_at, len(rows), by_band)
    if listing is not None:
        # 95 % right among the accepted of each kind of words apart: the words that name
        # a value must not carry those that only go with one.
        trust = listing.predict_proba(x)[:, 1]
        fusion.thresholds = [
            _accept_threshold(trust[named == flag], right[named == flag], ACCEPT_PRECISION)
            if (named == flag).sum() >= MIN_BAND
            else listing_at
            for flag in (False, True)
        ]
    summary = {
        "weight": weight,
        "weights_by_band": by_band,
        "named_share": round(named_share, 4),
        "n": len(rows),
        "photo_accuracy": round(float(photo_right.mean()), 4),
        "text_accuracy": round(float(text_right.mean()), 4),
        "listing_accuracy": round(float(right.mean()), 4),
    }
    return fusion, summary


class _Scored:
    """Each row's fused answer under every weight of ``WEIGHTS``: whether it is right, and
    the log-probability of the row's own value (pooled once, chosen from per band)."""

    def __init__(self, rows: list[Row]) -> None:
        right, logp = [], []
        self.wording = np.array([r[4] for r in rows])
        for photo, text, truth, _, _ in rows:
            fused = [pooled(photo, text, w) for w in WEIGHTS]
            right.append([f[0][0] == truth for f in fused])
            logp.append([math.log(dict(f).get(truth, 1e-9)) for f in fused])
        self.right = np.array(right, dtype=bool).reshape(len(rows), len(WEIGHTS))
        self.logp = np.array(logp).reshape(len(rows), len(WEIGHTS))

    def best_weight(self, rows: np.ndarray, fallback: float) -> float:
        """The weight giving ``rows`` the highest mean log-probability of their own value
        among those whose fused answers are right at least as often as the photo's alone
        (weight 0) for each way the words were written (as written, brand only, ...: one
        must not pay for another); ``fallback`` for too few rows."""
        if len(rows) < MIN_BAND:
            return fallback
        photo = WEIGHTS.index(0.0)
        allowed = set(range(len(WEIGHTS)))
        for wording in set(self.wording[rows]):
            group = rows[self.wording[rows] == wording]
            if len(group) >= MIN_GROUP:
                right = self.right[group].sum(axis=0)
                allowed &= {j for j in range(len(WEIGHTS)) if right[j] >= right[photo]}
        loglik = self.logp[rows].mean(axis=0)
        return WEIGHTS[max(allowed, key=lambda j: loglik[j])]


def _trust_model(x: np.ndarray, right: np.ndarray) -> tuple[LogisticRegression | None, float]:
    """P(right) from the features, and the lowest P at which the accepted are
    ``ACCEPT_PRECISION`` right; None (the raw top score is used) when one outcome only."""
    if right.all() or not right.any():
        return None, 0.0 if right.all() else 1.01
    model = LogisticRegression(max_iter=500).fit(x, right)
    probs = model.predict_proba(x)[:, 1]
    return model, _accept_threshold(probs, right.astype(float), ACCEPT_PRECISION)
