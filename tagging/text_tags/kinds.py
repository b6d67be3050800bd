"""Kinds the catalogue lacks, named by the listing's words.

A catalogue's titles put the kind word in one place: on the sample, 87 % of titles end
with their article type ("... White Skirts"), which is where ``KindSlot.fit`` looks for
it (the share is measured per catalogue and the slot used only above half). When the
word in that place is no value word of any family, no word the catalogue's titles use
(a brand, a fabric: three titles or more) and no known word misspelt ("Estelle Women
Gold Earrings" in a catalogue without jewellery), it is proposed as a new value, written
the way the family's values are (title case; plural when most of them are), and always
sent to review.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

MIN_SLOT_SHARE = 0.5
TITLE_WORD_COUNT = 3  # titles holding a word before it is the catalogue's own word
TYPO_EDITS = 2  # letters a word may be off a known one and still be that word misspelt
FUZZY = 80  # rapidfuzz ratio at which a word is a known one misspelt ("Tshrits": 83)


def _norm(word: str) -> str:
    w = word.casefold()
    if w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_][\w'-]*", text)


@dataclass
class KindSlot:
    """Where the catalogue's titles name the ``family``'s value, and how it spells them."""

    family: str
    share: float  # of titles whose last word is (a word of) their own value
    plural: float  # of values ending in "s"
    known: set[str] = field(default_factory=set)  # every value word, normalised
    # Words the catalogue's titles use (a brand, a fabric): a kind the catalogue lacks is
    # named by a word its titles (almost) never hold.
    title_words: set[str] = field(default_factory=set)

    @classmethod
    def fit(cls, family: str, titles: Sequence[str], tags: Sequence[Mapping[str, str]]) -> KindSlot:
        values = {t[family] for t in tags if t.get(family)}
        # Every family's value words: a title ending in its colour names no new kind.
        known = {_norm(w) for t in tags for v in t.values() for w in _words(str(v))}
        ends = [
            _norm(words[-1]) in {_norm(w) for w in _words(t[family])}
            for title, t in zip(titles, tags, strict=True)
            if t.get(family) and (words := _words(title))
        ]
        share = sum(ends) / len(ends) if ends else 0.0
        plural = sum(v.endswith("s") for v in values) / len(values) if values else 0.0
        counts = Counter(_norm(w) for title in titles for w in _words(title))
        common = {w for w, n in counts.items() if n >= TITLE_WORD_COUNT}
        return cls(family, share, plural, known, common)

    def propose(self, text: str, also_known: Iterable[str] = ()) -> str | None:
        """The new value the words name, or None (the slot unused here, or its word a
        known one)."""
        if self.share < MIN_SLOT_SHARE:
            return None
        words = _words(text)
        if not words:
            return None
        word = words[-1]
        known = self.known | {_norm(w) for v in also_known for w in _words(v)}
        if _norm(word) in known or _norm(word) in self.title_words or len(word) < 3:
            return None
        # A misspelt known word ("Tshrits", "Sohes") is not a new kind: one or two letters
        # off (a swap counts one), or close by ratio.
        near = process.extractOne(
            _norm(word), known, scorer=DamerauLevenshtein.distance, score_cutoff=TYPO_EDITS
        )
        if near is not None or process.extractOne(_norm(word), known, score_cutoff=FUZZY):
            return None
        value = word[:1].upper() + word[1:].lower()
        if self.plural >= 0.5 and not value.lower().endswith("s"):
            value += "es" if value.lower().endswith(("ch", "sh", "x")) else "s"
        return value


def same_kind(a: str, b: str) -> bool:
    """Whether two values name one kind, ignoring case and plural."""
    return [_norm(w) for w in _words(a)] == [_norm(w) for w in _words(b)]
