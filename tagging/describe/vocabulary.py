"""The words a description may use: the catalogue's own vocabulary plus this product's facts.

A small language model invents words ("cardigamer", "t-jacket") that no claim lexicon
lists, so the claim guard lets them through. Every word of a merchant's catalogue (its
titles, descriptions and tag values) is a word the house uses; a content word outside
that set and outside the product's facts is not published: the clause that holds it goes.
Function words ("a", "for", "with") are always allowed. A catalogue of titles and tags
alone (the fashion sample) has no descriptive words at all; there the English words of
the shipped MiniLM's WordPiece vocabulary (22.5k whole words) count as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from shelfsight.tagging.describe.facts import Facts
from shelfsight.tagging.describe.guard import tidy
from shelfsight.tagging.describe.lexicon import ARTICLE_FORMS, words

_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")
_CLAUSE = re.compile(r"[^,;]+[,;]*")


def general_english() -> set[str]:
    """Whole English words of the shipped MiniLM tokenizer's vocabulary."""
    from shelfsight.tagging.search.text_encoder import text_model_path

    with open(text_model_path() / "vocab.txt", encoding="utf-8") as fh:
        return {w for w in (line.strip() for line in fh) if w.isalpha() and len(w) > 1}


class Vocabulary:
    def __init__(self, known: Iterable[str], general: bool = False) -> None:
        self.known = {w.lower() for w in known} | ENGLISH_STOP_WORDS
        # The lexicon's product nouns are words in every catalogue: "sweatpants" said of a
        # title's "Sweat Pants" took its sentence with it as a word nobody writes.
        self.known |= {*ARTICLE_FORMS, *ARTICLE_FORMS.values()}
        if general:
            self.known |= general_english()

    @classmethod
    def from_texts(cls, texts: Iterable[str], general: bool = False) -> Vocabulary:
        return cls((w for t in texts if t for w, _, _ in words(t)), general)

    def _is_word(self, word: str, extra: set[str]) -> bool:
        for form in (word, word.removesuffix("'s"), word.removesuffix("s")):
            if form in self.known or form in extra:
                return True
        # "olive-green", "three-quarter": a compound of known words is a word ("t-jacket"
        # is not: a one-letter part only counts inside a known compound such as t-shirt).
        parts = [p for p in word.split("-") if p]
        return len(parts) > 1 and all(len(p) > 1 and self._is_word(p, extra) for p in parts)

    def unknown(self, text: str, facts: Facts | None = None) -> list[tuple[str, int, int]]:
        """(word, start, end) of every word neither the catalogue nor the facts use."""
        extra = {w for w, _, _ in words(facts.text())} if facts is not None else set()
        return [t for t in words(text) if not self._is_word(t[0], extra)]


def remove_nonwords(text: str, found: Sequence[tuple[str, int, int]]) -> str:
    """``text`` without the clauses that hold any of ``found``; a sentence whose first
    clause (its subject: "A men's cardigamer for men") holds one goes whole."""
    if not found:
        return text
    starts = [start for _, start, _ in found]
    kept: list[str] = []
    for sentence in _SENTENCE.finditer(text):
        clauses = list(_CLAUSE.finditer(sentence.group()))
        hit = [
            any(sentence.start() + c.start() <= s < sentence.start() + c.end() for s in starts)
            for c in clauses
        ]
        if not any(hit):
            kept.append(sentence.group().strip())
        elif not hit[0]:
            part = " ".join(c.group().strip() for c, h in zip(clauses, hit, strict=True) if not h)
            kept.append(
                part.rstrip(",;") + ("" if part.rstrip().endswith((".", "!", "?")) else ".")
            )
    return tidy(" ".join(kept))
