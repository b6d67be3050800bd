"""Descriptions as lists of clauses, the unit that length control adds and drops.

House templates are clause lists ("Navy blue checked casual shirt, has a spread collar,
long sleeves, and curved hem"); prose is sentences. Both split here into clauses that
keep their own wording, and each clause gets the detail it is about (its *slot*: neck,
sleeves, closure...), so a clause taken from a second neighbour never contradicts one
the text already has ("has a V-neck" after "has a round neck").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shelfsight.tagging.describe.guard import tidy
from shelfsight.tagging.describe.lexicon import GLUED as _GLUED  # a bullet break that lost its stop

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE = re.compile(r",\s+|;\s+")
_LEADING_AND = re.compile(r"^(?:and|&)\s+", re.I)

# Words that say which detail a clause is about. One clause per slot.
SLOT_WORDS: dict[str, tuple[str, ...]] = {
    "neck": ("neck", "collar", "neckline", "v-neck", "hood", "hooded"),
    "sleeves": ("sleeve", "sleeves", "sleeveless"),
    "closure": ("closure", "zip", "zipper", "button", "buttons", "drawstring", "lace-up", "hook"),
    "hem": ("hem",),
    "pockets": ("pocket", "pockets", "5-pocket"),
    "fit": ("fit", "fitted"),
    "waist": ("waist", "waistband", "mid-rise", "high-rise", "low-rise"),
    "placket": ("placket",),
    "sole": ("sole", "outsole", "midsole", "footbed", "insole"),
    "upper": ("upper",),
    "toe": ("toe", "round-toe", "pointed-toe", "open-toe"),
    "heel": ("heel", "heels"),
    "lining": ("lining", "lined", "unlined"),
    "length": ("length", "ankle-length", "knee-length", "maxi", "midi", "mini", "cropped"),
    "strap": ("strap", "straps"),
    "warranty": ("warranty", "warranted"),
    "care": ("wash", "washable", "dry-clean", "dry", "iron"),
    "border": ("border",),
    "blouse": ("blouse",),
    "dial": ("dial",),
    "compartment": ("compartment", "compartments"),
}
_SLOT_OF = {w: slot for slot, ws in SLOT_WORDS.items() for w in ws}
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FIELD = re.compile(r"^([A-Za-z][A-Za-z &/]{0,30}):\s")


@dataclass(frozen=True)
class Clause:
    text: str
    sentence_start: bool = False  # the first clause of a sentence (capitalised, own line)

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def slots(self) -> frozenset[str]:
        field = _FIELD.match(self.text)
        if field:  # "Pattern: Floral" in a spec-sheet house style: the field is the slot
            return frozenset({"field:" + field.group(1).lower()})
        return frozenset(_SLOT_OF[w] for w in _WORD.findall(self.text.lower()) if w in _SLOT_OF)

    @property
    def key(self) -> str:
        """Clauses with the same key say the same thing."""
        return " ".join(_WORD.findall(self.text.lower()))


def split_clauses(text: str) -> list[Clause]:
    out: list[Clause] = []
    for sentence in _SENTENCE.split(_GLUED.sub(". ", text.strip())):
        sentence = sentence.strip().rstrip(".!?").strip()
        parts = [p.strip() for p in _CLAUSE.split(sentence) if p.strip()]
        for i, part in enumerate(parts):
            part = _LEADING_AND.sub("", part) if i else part
            if part:
                out.append(Clause(part, sentence_start=i == 0))
    return out


def join_clauses(clauses: list[Clause], final_and: bool = False) -> str:
    """Clauses back into sentences; ``final_and`` writes the house's ", and" before the
    last clause of each multi-clause sentence."""
    sentences: list[list[str]] = []
    for c in clauses:
        if c.sentence_start or not sentences:
            sentences.append([c.text])
        else:
            sentences[-1].append(c.text)
    out = []
    for parts in sentences:
        if final_and and len(parts) > 2:
            parts = [*parts[:-1], "and " + parts[-1]]
        body = ", ".join(parts)
        out.append(body[:1].upper() + body[1:] + ("" if body[-1:] in "!?" else "."))
    return tidy(" ".join(out))


def uses_final_and(text: str) -> bool:
    return bool(re.search(r",\s+and\s+\S+[^,]*$", text.strip().rstrip(".")))


def word_count(text: str) -> int:
    return len(text.split())
