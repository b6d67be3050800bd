"""What the photo and the words say, fused per family with weights learned on the
catalogue, and how far the fused answer can be trusted.

Per family: the fused distribution is the photo's scores times the text model's
probabilities raised to a weight ``w`` (log-linear pooling, both smoothed), with ``w``
the one of ``WEIGHTS`` that gives the catalogue's held-out products the highest mean
log-probability of their own value: a family the titles name well (gender) learns a
large weight, one they rarely name (season) a small one. Per product, the weight is
learnt apart for words that name one of the family's values ("Men", "Blue") and words
that only go with one (a brand, a fabric), and within each for words the model is sure
of and words it is not (``BANDS`` of its top probability; the held-out titles are read
as written and as another house writes them). In each band the weight is the best one
whose fused answers are right at least as often as the photo's alone there, so words
that name nothing (a brand alone, a title without its colour) can only leave the photo's
answer or improve on it. The fused top is then scored by a logistic regression on what
says how far to trust it on this product (the fused top and margin, the photo's and the
words' own tops, whether they agree, whether the words name a value), fitted on the same
held-out products; below the score at which those answers are 95 % right, or when photo
and words each name a different value with confidence, the tag goes to review.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from shelfsight.tagging.text_tags.kinds import KindSlot
from shelfsight.tagging.text_tags.model import TextModel
from shelfsight.tagging.text_tags.words import Spellings, norm_word, slot_words_of

# What ``TextTags`` holds changed: a file of another format is fitted again, not misread.
FORMAT = 2

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
# The words' own top probability splits the products into bands, each with its weight.
BANDS = (0.5, 0.8)
SMOOTH = 1e-3
# Photo and words each this sure of a different value: a contradiction a person checks.
CONTRADICTION = 0.5
Ranked = list[tuple[str, float]]


def normalised(ranked: Ranked) -> Ranked:
    """Scores as shares of their sum (the photo's vote, blended, need not sum to 1)."""
    total = sum(v for _, v in ranked) or 1.0
    return [(value, v / total) for value, v in ranked]


def pooled(photo: Ranked, text: Ranked, weight: float) -> Ranked:
    """photo x text^weight over the values either names, normalised, best first."""
    p, t = dict(photo), dict(text)
    values = list(dict.fromkeys([v for v, _ in photo] + [v for v, _ in text]))
    raw = np.array([(p.get(v, 0.0) + SMOOTH) * (t.get(v, 0.0) + SMOOTH) ** weight for v in values])
    raw = raw / raw.sum()
    order = np.argsort(-raw, kind="stable")
    return [(values[i], float(raw[i])) for i in order]


def band_of(text: Ranked, named: bool = False) -> int:
    """The words' band: by their top probability, and apart when they name a value."""
    top = text[0][1] if text else 0.0
    return sum(top >= b for b in BANDS) + (len(BANDS) + 1) * named


def features(fused: Ranked, photo: Ranked, text: Ranked, named: bool = False) -> np.ndarray:
    top = fused[0][0]
    margin = fused[0][1] - (fused[1][1] if len(fused) > 1 else 0.0)
    p_top = photo[0][1] if photo else 0.0
    t_top = text[0][1] if text else 0.0
    agree = float(bool(photo) and bool(text) and photo[0][0] == text[0][0])
    p_says = dict(photo).get(top, 0.0)
    t_says = dict(text).get(top, 0.0)
    return np.array([fused[0][1], margin, p_top, t_top, agree, p_says, t_says, float(named)])


def text_features(text: Ranked) -> np.ndarray:
    margin = text[0][1] - (text[1][1] if len(text) > 1 else 0.0)
    return np.array([text[0][1], margin])


def contradicts(photo: Ranked, text: Ranked) -> bool:
    return (
        bool(photo and text)
        and photo[0][0] != text[0][0]
        and photo[0][1] >= CONTRADICTION
        and text[0][1] >= CONTRADICTION
    )


@dataclass
class FamilyFusion:
    """One family's learned weight, trust models and thresholds (listing: photo +
    words; text: words alone)."""

    weight: float
    listing: LogisticRegression | None
    listing_threshold: float
    text: LogisticRegression | None
    text_threshold: float
    n: int = 0
    by_band: list[float] = field(default_factory=list)  # weight per band (``band_of``)
    thresholds: list[float] = field(default_factory=list)  # words naming no value / one

    def threshold_for(self, named: bool) -> float:
        return self.thresholds[int(named)] if self.thresholds else self.listing_threshold

    def weight_for(self, text: Ranked, named: bool = False) -> float:
        band = band_of(text, named)
        return self.by_band[band] if band < len(self.by_band) else self.weight

    def trust(self, fused: Ranked, photo: Ranked, text: Ranked, named: bool = False) -> float:
        if self.listing is None:
            return fused[0][1]
        x = features(fused, photo, text, named).reshape(1, -1)
        return float(self.listing.predict_proba(x)[0, 1])

    def text_trust(self, text: Ranked) -> float:
        if self.text is None:
            return text[0][1]
        return float(self.text.predict_proba(text_features(text).reshape(1, -1))[0, 1])


@dataclass
class TextTags:
    """What ``index`` and ``train`` fit from the catalogue's titles and keep in the
    workspace: the text model and, per family, its fusion with the photo."""

    model: TextModel
    families: dict[str, FamilyFusion] = field(default_factory=dict)
    generation: int = -1  # the catalogue's, when fitted
    photo_model: str = ""  # the image model the fusion was fitted with
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    kind: KindSlot | None = None  # where titles name the type family's value
    value_words: dict[str, set[str]] = field(default_factory=dict)  # per family, normalised
    format: int = FORMAT

    def names(self, text: str, family: str) -> bool:
        """Whether ``text`` holds a word of one of ``family``'s values ("Men", "Blue"),
        or one misspelt ("Wmoen"). A first word that begins the catalogue's titles is the
        brand's ("Red Tape" names no colour)."""
        spellings = self._spellings.get(family)
        if spellings is None:
            spellings = self._spellings[family] = Spellings(self.value_words.get(family, ()))
        words = slot_words_of(text)
        brands = self.kind.brands if self.kind is not None else set()
        if words and norm_word(words[0]) in brands:
            words = words[1:]
        return any(w in spellings for w in words)

    @functools.cached_property
    def _spellings(self) -> dict[str, Spellings]:
        return {}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        self.__dict__.pop("_spellings", None)  # a cache, rebuilt on use
        joblib.dump(self, tmp)
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> TextTags | None:
        if not path.is_file():
            return None
        found = joblib.load(path)
        # The instance's own field: a file older than the field has only the class's.
        if not isinstance(found, TextTags) or found.__dict__.get("format", 1) != FORMAT:
            return None  # another format: ``index``/``train`` fit it again
        return found
