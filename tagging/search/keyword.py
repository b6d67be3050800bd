"""Keyword search: BM25 over titles and tag values (SQLite FTS5, porter stemming), the
products holding more of the query's words first; and the tag values a phrase names
("like this, but in red" -> baseColour=Red)."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from shelfsight.indexer.catalogue import Catalogue, Product

# Words a search ignores: they are in every other title or say nothing about a product.
STOP_WORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or the to with".split()  # noqa: SIM905
)
# Words that ask for nothing in a refinement ("like this, but in red").
FILLER_WORDS = frozenset(
    "like this but same similar one just more please something".split()  # noqa: SIM905
)


class TextHit(NamedTuple):
    """A keyword search result: the product, its BM25 rank (lower is better) and how
    many of the query's words it holds."""

    product: Product
    rank: float
    matched: int


def search_terms(query: str) -> list[str]:
    """The words of a text query that count: lower-cased, stop words and ``OR`` dropped."""
    words = [w.casefold() for w in re.findall(r"\w+", query)]
    return list(dict.fromkeys(w for w in words if w not in STOP_WORDS))


def _stem(word: str) -> str:
    # Plurals only, enough to count "dresses" against "dress" and "shoes" against "shoe"
    # (FTS5's porter stemmer is what finds the rows).
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def matched_terms(product: Product, terms: list[str]) -> int:
    """How many of ``terms`` the product's title and tag values hold (as word prefixes)."""
    text = " ".join([product.title, *product.tags.values()]).casefold()
    words = {_stem(w) for w in re.findall(r"\w+", text)}
    return sum(any(w.startswith(_stem(t)) for w in words) for t in terms)


def keyword_search(
    catalogue: Catalogue, query: str, limit: int, allowed: np.ndarray | None = None
) -> list[TextHit]:
    """Products whose title or tags hold any of the query's words, those holding more
    of them first, then by BM25 (lower rank is better).

    OR semantics: "red dress for women" finds red dresses for women first, then red
    dresses, then dresses; stop words ("for") are ignored; every word also matches as
    a prefix ("tee" finds tees); an explicit ``OR`` is the same as none."""
    terms = search_terms(query)
    if not terms or (allowed is not None and len(allowed) == 0):
        return []
    # Each word quoted, then starred: FTS5 syntax in user text (a lone `"`, `NEAR(`,
    # `-`) never reaches the parser.
    match = " OR ".join(f'"{t}"*' for t in terms)
    # BM25 picks the candidates; how many words each holds orders them.
    rows = catalogue.full_text(match, max(limit * 10, 200), allowed)
    hits = [TextHit(product, rank, matched_terms(product, terms)) for product, rank in rows]
    hits.sort(key=lambda h: (-h.matched, h.rank))
    return hits[:limit]


def keyword_matches(
    catalogue: Catalogue, query: str, allowed: np.ndarray | None = None
) -> tuple[int, dict[str, dict[str, int]]]:
    """How many products hold any of the query's words, and their facets (tag value
    counts over all of them, up to ``Catalogue.text_matches``' cap)."""
    terms = search_terms(query)
    if not terms or (allowed is not None and len(allowed) == 0):
        return 0, {}
    return catalogue.text_matches(" OR ".join(f'"{t}"*' for t in terms), allowed)


def filters_in_text(catalogue: Catalogue, text: str) -> tuple[dict[str, list[str]], list[str]]:
    """Tag values named in free text, as a filter ("like this but in red, for women" ->
    baseColour=Red, gender=Women), and the words that named none. Longer values win
    ("navy blue" over "blue"); a value several families hold goes to the family that
    holds it most often."""
    vocab: dict[str, tuple[int, str, str]] = {}
    for family, values in catalogue.facets().items():
        for value, n in values.items():
            key = " ".join(re.findall(r"\w+", value.casefold()))
            if key and n > vocab.get(key, (0, "", ""))[0]:
                vocab[key] = (n, family, value)
    words = re.findall(r"\w+", text.casefold())
    filters: dict[str, list[str]] = {}
    ignored: list[str] = []
    i = 0
    while i < len(words):
        for n in (4, 3, 2, 1):
            phrase = " ".join(words[i : i + n])
            hit = vocab.get(phrase) or vocab.get(phrase + "s")  # "tshirt" -> Tshirts
            if i + n <= len(words) and hit:
                _, family, value = hit
                if value not in filters.setdefault(family, []):
                    filters[family].append(value)
                i += n
                break
        else:
            if words[i] not in STOP_WORDS and words[i] not in FILLER_WORDS:
                ignored.append(words[i])
            i += 1
    return filters, ignored
