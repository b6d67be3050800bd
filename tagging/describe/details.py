"""The details a catalogue's descriptions state, found from the text: which slots the house
writes about (sleeves, collar, hem, rise, closure, pattern...) and which values each
takes ("long", "three-quarter"; "spread", "mandarin"), so that every one a description
states can be checked against this product's facts.

A house detail is a short clause ending on the noun it is about ("long sleeves", "has a
spread collar", "curved hem"), one word said often on its own ("sleeveless", "has a
V-neck") or a "Field: value" line ("Pattern: Floral"); the head
clause's words before the product noun ("printed large trolley bag", "mid-rise slim fit
jeans") are details of the product itself. Slots are the nouns that end enough clauses,
values the words seen before them often enough: no hand list, so a catalogue of curtains
or watches gets its own (mined from the Myntra sample: sleeves, hem, closure, collar,
neck, pockets, placket, outsole, heel, pattern...). Colour, material, gender, product and
brand words are claims of their own (``lexicon``) and are not details.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Words that frame a clause rather than describe the product.
_FRAME_WORDS = """a an the has have having with and or & comes come in of to is it its this that
these those for on at by from as are be features featuring feature which also while your
you our pair set pack piece"""
_FRAME = frozenset(_FRAME_WORDS.split())
_CLAUSE = re.compile(r"[,;.!?\n]+|\s+(?:and|with|&)\s+", re.I)
_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z /&-]{1,30}?)\s*:\s*(.+)$")
_WORD = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")
_GLUED = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
# A clause of more content words than this is prose, not a house detail.
MAX_DETAIL_WORDS = 5
PRODUCT_SLOT = "style"  # the head clause's details: what kind of the product it is


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _clauses(text: str) -> list[str]:
    """Clauses of a description; glued bullet points ("...hemPattern: Floral") come apart."""
    return [c.strip() for c in _CLAUSE.split(_GLUED.sub("\n", text)) if c.strip()]


def field_slot(label: str) -> str:
    """The slot a "Field:" label names ("Light blocking:" -> "light blocking"), as mined
    and as checked."""
    return " ".join(_words(label))


def _slot_name(noun: str) -> str:
    if noun.endswith("ies") and len(noun) > 4:
        return noun[:-3] + "y"
    if noun.endswith("s") and not noun.endswith("ss") and len(noun) > 3:
        return noun[:-1]
    return noun


@dataclass
class DetailSlots:
    """Slot -> value -> how many descriptions' clauses state it."""

    slots: dict[str, dict[str, int]] = field(default_factory=dict)
    # word -> its slot, the one it was seen with most (a value word names one slot)
    value_slot: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.value_slot:
            # A word's slot is the one it is seen with most; a slot named by the word
            # itself ("mid-rise" said alone) only when no other slot has it, so it reads
            # "style: mid-rise", not "mid-rise: mid-rise".
            best: dict[str, tuple[bool, int, str]] = {}
            for slot, values in self.slots.items():
                for value, n in values.items():
                    key = (slot != value, n, slot)
                    if key > best.get(value, (False, 0, "")):
                        best[value] = key
            self.value_slot = {v: s for v, (_, _, s) in best.items()}
        self._nouns = {n for s in self.slots for n in (s, s + "s", s + "es")}

    def __bool__(self) -> bool:
        return bool(self.slots)

    def is_slot_noun(self, word: str) -> bool:
        return word in self._nouns

    def slot_of(self, value: str, clause_words: Iterable[str] = ()) -> str | None:
        """The slot a value word speaks to in its clause: the clause's own slot noun when
        the value is known for it, else the slot it is most often seen with."""
        for w in clause_words:
            slot = _slot_name(w)
            if w != value and value in self.slots.get(slot, {}):
                return slot
        return self.value_slot.get(value)

    def to_json(self) -> dict[str, Any]:
        return {"slots": self.slots}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DetailSlots:
        return cls({s: dict(v) for s, v in raw.get("slots", {}).items()})


def mine_details(
    descriptions: Iterable[str],
    product_nouns: Iterable[str],
    claim_words: frozenset[str] | set[str] = frozenset(),
    min_slot: int = 10,
    min_value: int = 3,
) -> DetailSlots:
    """The slots and values a catalogue's descriptions use. ``product_nouns``: what the
    products are (the head clause's last noun), ``claim_words``: words that are claims of
    another kind (colours, materials, genders, brands), never detail values. A slot needs
    ``min_slot`` clauses, a value ``min_value``."""
    nouns = {n.lower() for n in product_nouns}
    heads: Counter[str] = Counter()
    labels: set[str] = set()
    values: dict[str, Counter[str]] = defaultdict(Counter)

    def add(slot: str, tokens: Iterable[str]) -> None:
        heads[slot] += 1
        for t in tokens:
            if t not in _FRAME and t not in claim_words and t not in nouns:
                values[slot][t] += 1

    for text in descriptions:
        for i, clause in enumerate(_clauses(text)):
            labelled = _FIELD.match(clause)
            if labelled:
                name = field_slot(labelled.group(1))
                if name and len(name.split()) <= 3:
                    labels.add(name)
                    add(name, _words(labelled.group(2))[:MAX_DETAIL_WORDS])
                continue
            toks = [t for t in _words(clause) if t not in _FRAME]
            if not toks or len(toks) > MAX_DETAIL_WORDS:
                continue
            if toks[-1] in nouns or _slot_name(toks[-1]) in nouns:
                if i == 0:  # the head clause: what the product is, and its details
                    add(PRODUCT_SLOT, toks[:-1])
                continue
            if toks[-1] in claim_words or toks[-1].isdigit():
                continue
            # A detail said in one word ("sleeveless", "has a V-neck") is its own slot.
            add(_slot_name(toks[-1]), toks if len(toks) == 1 else toks[:-1])
    kept = {slot for slot, count in heads.items() if count >= min_slot}
    # A field's name is not a value ("Colour: Red Pattern: Floral" read as a colour).
    names = {w for slot in kept & labels for w in slot.split()}
    names |= {w + "s" for w in names}
    slots = {
        slot: {v: n for v, n in values[slot].most_common() if n >= min_value and v not in names}
        for slot in kept
    }
    return DetailSlots({s: v for s, v in slots.items() if v})
