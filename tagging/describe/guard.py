"""The faithfulness guard: which claims the facts support, removing the rest, and an
optional cap on how much of a neighbour's description a text may repeat (off by default:
the house template may be reused; only a verbatim copy is refused, in the writer).

A claim is supported when the facts state it. Where the facts say nothing about a
category (no material given, say), a value most neighbours share is accepted too:
"leather upper" on a shoe whose neighbours are all leather shoes. Colours, brand and
gender are never borrowed that way when the facts give them.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.lexicon import (
    ARTICLE_FORMS,
    CATEGORIES,
    COLOUR_FAMILY,
    COLOUR_FORMS,
    GENDER_WORDS,
    GLUED,
    MATERIAL_FORMS,
    Claim,
    Lexicon,
    claim_groups,
    detail_words,
    gender_groups,
    words,
)

DEFAULT_MAJORITY = 0.8
MIN_NEIGHBOURS_FOR_MAJORITY = 3


@dataclass
class Support:
    values: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CATEGORIES})
    genders: set[str] = field(default_factory=set)
    borrowed: dict[str, set[str]] = field(default_factory=dict)  # from the neighbour majority

    def supports(self, claim: Claim) -> bool:
        if claim.category == "gender":
            return bool(claim_groups(claim) & self.genders)
        return claim.canonical in self.values[claim.category]

    def as_dict(self) -> dict[str, list[str]]:
        out = {c: sorted(v) for c, v in self.values.items() if v}
        if self.genders:
            out["gender"] = sorted(self.genders)
        return out


def _stated(text: str, lexicon: Lexicon) -> tuple[dict[str, set[str]], set[str]]:
    values = lexicon.canonical_values(text)
    groups = gender_groups(values.pop("gender", set()))
    values["gender"] = set()
    return values, groups


def build_support(
    facts: Facts,
    neighbours: Sequence[Listing],
    lexicon: Lexicon,
    majority: float = DEFAULT_MAJORITY,
) -> Support:
    values, groups = _stated(facts.text(), lexicon)
    # A detail is this product's when its facts say the word anywhere (the title's "Slim
    # Fit", a record's "sleeves: long"); never borrowed from the neighbours below.
    values["detail"] = detail_words(facts.text())
    groups |= gender_groups([facts.gender])
    if facts.brand:
        values["brand"].add(" ".join(facts.brand.split()).lower())
    colours = values["colour"]
    families = {COLOUR_FAMILY.get(c, c) for c in colours}
    colours |= families
    if len(families) >= 2:
        colours.add("multicolour")
    support = Support(values, groups)

    if len(neighbours) >= MIN_NEIGHBOURS_FOR_MAJORITY:
        counts: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
        gender_counts: Counter[str] = Counter()
        for n in neighbours:
            nv, ng = _stated(n.text(), lexicon)
            for c in CATEGORIES:
                counts[c].update(nv[c])
            gender_counts.update(ng)
        need = majority * len(neighbours)
        for c in ("material", "article", "colour"):
            if support.values[c]:
                continue  # the facts speak for this category
            shared = {v for v, k in counts[c].items() if k >= need}
            if shared:
                support.values[c] |= shared
                support.borrowed[c] = shared
        if not support.genders:
            shared = {g for g, k in gender_counts.items() if k >= need}
            support.genders |= shared
            if shared:
                support.borrowed["gender"] = shared
    return support


def unsupported(text: str, support: Support, lexicon: Lexicon) -> list[Claim]:
    return [c for c in lexicon.claims(text) if not support.supports(c)]


def banned_words(support: Support, neighbours: Iterable[Listing], lexicon: Lexicon) -> list[str]:
    """Claim words a constrained decoder should never emit for these facts.

    Brands are banned only where a neighbour mentions them: those are the ones a model
    would copy; listing every brand in the catalogue would bloat the decoder.
    """
    out: list[str] = []
    for forms, category in (
        (COLOUR_FORMS, "colour"),
        (MATERIAL_FORMS, "material"),
        (ARTICLE_FORMS, "article"),
    ):
        out.extend(w for w, canon in forms.items() if canon not in support.values[category])
    out.extend(w for w, groups in GENDER_WORDS.items() if not groups & support.genders)
    for n in neighbours:
        for c in lexicon.claims(n.text()):
            if c.category == "brand" and not support.supports(c):
                out.append(c.text)
    return sorted(set(out))


# -- removal ----------------------------------------------------------------------------
_TIDY = [
    (re.compile(r"\(\s*\)"), ""),
    (re.compile(r"\s+([,.;:!?])"), r"\1"),
    (re.compile(r"([,;:])(\s*[,;:])+"), r"\1"),
    (re.compile(r"\b(and|or|&|with|in|of|from|by|for|a|an|the)(\s*)([,.;:!?]|$)", re.I), r"\3"),
    (re.compile(r"\b(and|or|&)\s+(and|or|&)\b", re.I), r"\1"),
    (re.compile(r"\b(a|an|the|with|in|of|from|by|for)\s+(and|or|&)\s+", re.I), r"\1 "),
    # a sentence that starts on a conjunction lost its first part; ", and" is house style
    (re.compile(r"(^|[.!?]\s+)(and|or|&|,)\s+", re.I), r"\1"),
    (re.compile(r"([,;:])\s*([.!?])"), r"\2"),
    (re.compile(r"(^|\s)-+(\s|$)"), r"\1"),
    # a word twice in a row is a removed word's seam ("printed shift dress" lost "shift"
    # and the refill wrote "dress dress")
    (re.compile(r"\b([A-Za-z]{3,})\s+\1\b", re.I), r"\1"),
    (re.compile(r"\s{2,}"), " "),
]
_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")
_VOWEL_SOUND = re.compile(r"[aeiou]", re.I)


def tidy(text: str) -> str:
    prev = None
    while prev != text:
        prev = text
        for pattern, repl in _TIDY:
            text = pattern.sub(repl, text)
        text = text.strip(" ,;:-")
    # Capitalise each sentence again after a leading word went.
    text = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text.strip()


def _fix_article(before: str, after: str) -> str:
    """'an' + removed 'orange' + ' shirt' -> 'a shirt' (only where a word was removed)."""
    m = re.search(r"\b([Aa])(n?)\s*$", before)
    nxt = re.match(r"\s*(?:(?:and|or|&)\s+)?([A-Za-z])", after, re.I)
    if not m or not nxt:
        return before
    want_n = bool(_VOWEL_SOUND.match(nxt.group(1)))
    return before[: m.start()] + m.group(1) + ("n" if want_n else "") + " "


def _glued_at(text: str, i: int) -> bool:
    """A bullet break that lost its stop starts at ``i`` ("upper|Cushioned")."""
    return i > 0 and GLUED.match(text, i) is not None


# "Material: " right before a removed value: the label goes with it.
_FIELD_LABEL = re.compile(r"(^\s*|[.;!?]\s*|[a-z])([A-Z][A-Za-z &/-]{0,30}):\s*$")


# A value that goes on with another of the same field ("Red and White"): one word goes.
_LISTED = re.compile(r"\s*(?:,|and\b|or\b|&)", re.I)


_FIELD_STOP = re.compile(r"[.;]|" + GLUED.pattern)


def _field_end(text: str, i: int) -> int:
    """Where the field whose value runs through ``i`` ends: its stop, the next glued
    bullet break ("Floral DoorLight blocking: ..."), or the text's end."""
    stop = _FIELD_STOP.search(text, i)
    return stop.start() if stop else len(text)


def _cut(text: str, claims: Sequence[Claim]) -> str:
    for c in sorted(claims, key=lambda c: c.start, reverse=True):
        start, end = c.start, c.end
        if text[start:end] != c.text:  # gone with a later claim's field label
            continue
        # A compound such as "black-and-white" goes whole when one of its colours is false;
        # a glued bullet point next to it stays.
        while start > 0 and not text[start - 1].isspace() and not _glued_at(text, start):
            start -= 1
        while end < len(text) and text[end] not in " ,.;:!?)" and not _glued_at(text, end):
            end += 1
        before, after = text[:start], text[end:]
        label = _FIELD_LABEL.search(before)
        if label and not _LISTED.match(after):
            # The field's value was false: what would be left of it is not its value
            # ("Pattern: Floral Window" is not "Pattern: Window"), so the field goes whole.
            before = before[: label.start(2)]
            after = re.sub(r"^\s*[.;]", "", text[_field_end(text, end) :])
        elif _glued_at(text, start):  # the claim opened a glued bullet: keep a break
            before += " "
        # "blue and red striped" minus red: the coordination goes with it.
        joined = re.search(r"\s+(?:and|or|&)\s*$", before, re.I)
        if joined:
            before = before[: joined.start()] + " "
        else:
            after = re.sub(r"^\s*(?:and|or|&)\s+", " ", after, flags=re.I)
        text = _fix_article(before, after) + after.lstrip()
    return text


_PIECE = re.compile(r"[^,;]+(?:[,;]\s*|$)")


def _cut_details(sentence: str, claims: Sequence[Claim]) -> str:
    """An unsupported detail takes its clause with it ("long sleeves" goes whole, not
    "long"), except in the sentence's first clause, which says what the product is and
    loses only the word ("large" in "printed large trolley bag"); other claims lose their
    word (``_cut``)."""
    out: list[str] = []
    for i, m in enumerate(_PIECE.finditer(sentence)):
        mine = [c for c in claims if m.start() <= c.start < m.end()]
        if i > 0 and any(c.category == "detail" for c in mine):
            continue
        out.append(
            _cut(
                m.group(),
                [
                    dataclasses.replace(c, start=c.start - m.start(), end=c.end - m.start())
                    for c in mine
                ],
            )
        )
    cut = "".join(out).rstrip(" ,;")
    end = re.search(r"[.!?]+\s*$", sentence)
    if end and cut.strip() and not re.search(r"[.!?]$", cut):
        cut += end.group().strip()
    return cut


def remove_claims(text: str, claims: Sequence[Claim]) -> str:
    """Remove unsupported claims. A sentence built around a false claim (what the product
    is, or two false claims at once) goes whole; otherwise only the word."""
    if not claims:
        return text
    kept: list[str] = []
    for m in _SENTENCE.finditer(text):
        mine = [c for c in claims if m.start() <= c.start < m.end()]
        sentence = m.group()
        shifted = [
            dataclasses.replace(c, start=c.start - m.start(), end=c.end - m.start()) for c in mine
        ]
        facts = [c for c in shifted if c.category != "detail"]
        fatal = len(facts) >= 2 or any(c.category == "article" for c in facts)
        kept.append("" if fatal else _cut_details(sentence, shifted))
    result = tidy(" ".join(s.strip() for s in kept if s.strip()))
    if len(words(result)) < 3:  # every sentence was fatal: keep what word removal leaves
        result = tidy(_cut(text, claims))
    return result


# -- copying ----------------------------------------------------------------------------
def _tokens(text: str) -> list[tuple[str, int, int]]:
    return words(text)


def longest_shared_ngram(text: str, others: Iterable[str]) -> tuple[int, tuple[int, int]]:
    """Length in words of the longest word sequence ``text`` shares with any of ``others``,
    and its character span in ``text``."""
    mine = _tokens(text)
    best, span = 0, (0, 0)
    for other in others:
        theirs = [w for w, _, _ in _tokens(other)]
        if not theirs or not mine:
            continue
        prev = [0] * (len(theirs) + 1)
        for i, (w, _, _) in enumerate(mine):
            cur = [0] * (len(theirs) + 1)
            for j, t in enumerate(theirs):
                if w == t:
                    cur[j + 1] = prev[j] + 1
                    if cur[j + 1] > best:
                        best = cur[j + 1]
                        span = (mine[i - best + 1][1], mine[i][2])
            prev = cur
    return best, span


_CLAUSE = re.compile(r"[^,.;:!?]+[,.;:!?]?")


def cut_copied(text: str, others: Sequence[str], cap: int) -> tuple[str, list[str]]:
    """Drop the clauses that carry a run of more than ``cap`` words from a neighbour."""
    removed: list[str] = []
    while True:
        n, (start, end) = longest_shared_ngram(text, others)
        if n <= cap:
            return text, removed
        middle = (start + end) // 2
        for m in _CLAUSE.finditer(text):
            if m.start() <= middle < m.end():
                removed.append(m.group().strip())
                text = tidy(text[: m.start()] + text[m.end() :])
                break
        else:  # pragma: no cover - a span always lies in some clause
            return "", removed
