"""Length and tone, applied to a description's clauses.

Length works on whole clauses: a short text keeps the head clause (what the product is),
a medium or long one adds the clauses the neighbours agree on and then the facts' own
clauses, never two clauses about the same detail. ``house`` keeps the scaffold's own
length (the catalogue's template as written).

Tone rewrites the frame, not the facts: a premium text opens on a restrained adjective
and says "featuring" where the house says "has"; a playful one opens with a greeting
and turns the details into a sentence of their own. The wording is picked per product
(a stable hash of its facts), so no phrase ends every text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shelfsight.tagging.describe.clauses import Clause

TONE_CHOICES = ("neutral", "premium", "playful")


@dataclass(frozen=True)
class WordRange:
    low: int
    high: int


# The ranges merchants asked for (issue 14); "house" is whatever the scaffold has.
WORD_RANGES = {
    "short": WordRange(1, 15),
    "medium": WordRange(20, 40),
    "long": WordRange(50, 90),
}
# A cut clause may not end on a word that needs a continuation.
_DANGLING = {
    "a", "an", "the", "and", "or", "of", "with", "in", "on", "for", "to", "by", "from",
    "at", "as", "its", "this", "that", "is", "are", "has", "have", "featuring", "&",
}  # fmt: skip


def total_words(clauses: Sequence[Clause]) -> int:
    return sum(c.words for c in clauses)


def _cut_words(text: str, limit: int) -> str:
    toks = text.split()[:limit]
    while len(toks) > 1 and toks[-1].lower().strip(",;:") in _DANGLING:
        toks.pop()
    return " ".join(toks).rstrip(",;:")


def fit_length(
    clauses: Sequence[Clause], candidates: Sequence[Clause], length: str, reserve: int = 0
) -> list[Clause]:
    """The clauses, cut or lengthened into the length's word range where the material
    allows; candidates are tried in order (best first). ``reserve``: words the joining
    will add (the house's ", and")."""
    if length == "house" or not clauses:
        return list(clauses)
    full = WORD_RANGES[length]
    rng = WordRange(full.low, full.high - reserve)
    out = list(clauses)
    while total_words(out) > rng.high and len(out) > 1:
        out.pop()
    if total_words(out) > rng.high:  # one clause longer than the whole budget
        out = [replace(out[0], text=_cut_words(out[0].text, rng.high))]
    keys = {c.key for c in out}
    slots = set().union(*(c.slots for c in out))
    tail: list[Clause] = []  # added sentences of their own go last, clauses before them
    for c in candidates:
        if total_words(out) + total_words(tail) >= rng.low:
            break
        if c.key in keys or c.slots & slots or total_words([*out, *tail, c]) > rng.high:
            continue
        if any(c.key in k or k in c.key for k in keys):  # one says the other's words
            continue
        (tail if c.sentence_start else out).append(c)
        keys.add(c.key)
        slots |= c.slots
    return [*out, *tail]


def _pick(options: Sequence[str], seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return options[digest[0] % len(options)]


_PREMIUM_LEADS = ("refined", "understated", "polished", "finely finished", "elegant")
_PLAYFUL_LEADS = ("Meet", "Say hello to", "Look at", "Get ready for", "Introducing")
CONTROL_WORDS = frozenset(
    w.lower()
    for phrase in (*_PREMIUM_LEADS, *_PLAYFUL_LEADS, "featuring it comes with plus an a")
    for w in phrase.split()
)
_DETERMINER = re.compile(r"^(?:a|an|the|this)\s+", re.I)
_HAS = re.compile(r"^(?:has|have|with)\s+", re.I)


def _an(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _lower_first(text: str) -> str:
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


# A head clause this long, or a "Field: value" line, is a sentence of prose or a spec
# sheet: the tone's frame goes in a sentence of its own rather than around it.
_HEAD_WORDS = 12


def apply_tone(
    clauses: Sequence[Clause], tone: str, seed: str, subject: str = "", plural: bool = False
) -> list[Clause]:
    """``subject``: what the product is, in words ("navy blue casual shirt by Roadster"),
    for heads the frame cannot wrap; ``plural``: the product noun is ("shoes", "jeans")."""
    if tone == "neutral" or not clauses:
        return list(clauses)
    if tone not in TONE_CHOICES:
        raise ValueError(f"unknown tone {tone!r}; choose from {', '.join(TONE_CHOICES)}")
    head, rest = clauses[0], list(clauses[1:])
    wrap = head.words <= _HEAD_WORDS and ":" not in head.text
    if not wrap and subject:
        head, rest = Clause(subject, True), [replace(head, sentence_start=True), *rest]
    body = _lower_first(_DETERMINER.sub("", head.text))
    if tone == "premium":
        lead = _pick(_PREMIUM_LEADS, seed)
        framed = f"{lead} {body}" if plural else f"{_an(lead)} {lead} {body}"
        out = [replace(head, text=framed[:1].upper() + framed[1:])]
        for c in rest:
            out.append(replace(c, text=_HAS.sub("featuring ", c.text, count=1)))
        return out
    lead = _pick(_PLAYFUL_LEADS, seed)
    out = [replace(head, text=f"{lead} {body}!" if plural else f"{lead} {_an(body)} {body}!")]
    opened = False
    for c in rest:
        if not opened and not c.sentence_start:
            text = _HAS.sub("", c.text, count=1)
            c = Clause(f"It comes with {text}" if text != c.text else f"Plus {text}", True)
        opened = opened or c.sentence_start
        out.append(c)
    return out
