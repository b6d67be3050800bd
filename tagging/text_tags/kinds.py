"""Kinds the catalogue lacks, named by the listing's words.

A catalogue's titles put the kind word in one place: on the sample, 87 % of titles end
with their article type ("... White Skirts"), which is where ``KindSlot.fit`` looks for
it (the share is measured per catalogue and the slot used only above half; a trailing
model number, "Watch W13582L2", is not a word there). What the catalogue's titles teach:

- which words in that place name a value it has (``named``): each value's own last word,
  and any word that ends at least 5 % of that value's titles after a colour, a gender or
  no word at all. After another word the pair is what names it ("Innerwear Tshirt" names
  the catalogue's vests; a plain "Blue Tshirt" is no vest);
- which words only describe (``descriptors``): the values of the families the type does
  not decide (a colour, a gender, a season: under 95 % of each type's products share
  one), never a kind;
- which words are the catalogue's own vocabulary (``title_words``: three titles or more),
  which begin its titles (``brands``) and which come right before the kind word
  (``before_slot``).

A listing of two words or more whose last word is none of those, and no misspelling of
one (two letters swapped, or one dropped or doubled after the same first letter: "Kurti"
is a kind of its own next to "Kurta"), names a new kind; a rare word before it that
follows the usual context joins it ("Flip Flops"). A known last word shared by several
values ("Shoes" of "Casual Shoes") names a new kind with a new modifier from a family
whose words the type's values use ("Formal Shoes"). A title that names a known kind in
another place (another house's word order) names no new one. The proposal is written the
way the family's values are (title case; plural when most of them are) and always sent
to review. On the sample, over 8 random sets of 10 held-out types, 77 % of the held-out
products get their own type proposed and 1.2 % of the others a false one (BENCHMARKS.md,
issue 26).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from shelfsight.tagging.text_tags.words import Spellings, slot_words_of
from shelfsight.tagging.text_tags.words import norm_word as _norm

MIN_SLOT_SHARE = 0.5
SLOT_USE = 0.05  # share of a value's titles a word must end before it names that value
SLOT_MIN = 2  # ... and at least this many titles
COMMON = 3  # titles holding a word before it is the catalogue's own word
DECIDED = 0.95  # share of each type's products on one value: the type decides the family


def slot_words(text: str) -> list[str]:
    """The words of ``text`` that can name a kind, in order: a model number ("Watch
    W13582L2") names none."""
    return slot_words_of(text)


def _decided_families(family: str, tags: Sequence[Mapping[str, str]]) -> set[str]:
    """The families whose value each ``family`` value all but fixes (a type's category)."""
    by: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for t in tags:
        if t.get(family):
            for f, v in t.items():
                if f != family and v:
                    by[f][t[family]][v] += 1
    out = set()
    for f, per_value in by.items():
        n = sum(sum(c.values()) for c in per_value.values())
        if n and sum(max(c.values()) for c in per_value.values()) / n >= DECIDED:
            out.add(f)
    return out


@dataclass
class KindSlot:
    """Where the catalogue's titles name the ``family``'s value, and what they say
    there (module docstring)."""

    family: str
    share: float  # of titles whose last word is (a word of) their own value
    plural: float  # of values ending in "s"
    named: set[str] = field(default_factory=set)
    named_pairs: set[tuple[str, str]] = field(default_factory=set)
    heads: set[str] = field(default_factory=set)  # last words of values of two words or more
    type_words: set[str] = field(default_factory=set)
    descriptors: set[str] = field(default_factory=set)
    kind_modifiers: set[str] = field(default_factory=set)  # descriptors values use ("Casual")
    before_slot: set[str] = field(default_factory=set)
    title_words: set[str] = field(default_factory=set)
    brands: set[str] = field(default_factory=set)  # words that begin titles
    decided: set[str] = field(default_factory=set)  # families the type decides (category)

    @classmethod
    def fit(cls, family: str, titles: Sequence[str], tags: Sequence[Mapping[str, str]]) -> KindSlot:
        values = Counter(t[family] for t in tags if t.get(family))
        value_words = {v: [_norm(w) for w in slot_words(v)] for v in values}
        type_words = {w for ws in value_words.values() for w in ws}
        descriptors: set[str] = set()
        kind_modifiers: set[str] = set()
        decided = _decided_families(family, tags)
        for f in {f for t in tags for f in t} - decided - {family}:
            said = {_norm(w) for t in tags if t.get(f) for w in slot_words(t[f])}
            descriptors |= said
            if said & type_words:
                kind_modifiers |= said
        ends: list[bool] = []
        alone: dict[str, Counter[str]] = defaultdict(Counter)
        paired: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        before: Counter[str] = Counter()
        for title, t in zip(titles, tags, strict=True):
            words = [_norm(w) for w in slot_words(title)]
            if not t.get(family) or not words:
                continue
            ends.append(words[-1] in value_words[t[family]])
            prev = words[-2] if len(words) >= 2 else ""
            before[prev] += bool(prev)
            if not prev or prev in descriptors:
                alone[t[family]][words[-1]] += 1
            else:
                paired[t[family]][(prev, words[-1])] += 1

        def used(counts: Counter, value: str) -> set:
            return {w for w, n in counts.items() if n >= max(SLOT_MIN, SLOT_USE * values[value])}

        named = {ws[-1] for ws in value_words.values() if ws}
        named |= {w for v, c in alone.items() for w in used(c, v)}
        pairs = {(ws[-2], ws[-1]) for ws in value_words.values() if len(ws) > 1}
        pairs |= {p for v, c in paired.items() for p in used(c, v)}
        counts = Counter(_norm(w) for title in titles for w in slot_words(title))
        firsts = Counter(_norm(ws[0]) for title in titles if (ws := slot_words(title)))
        return cls(
            family,
            share=sum(ends) / len(ends) if ends else 0.0,
            plural=sum(v.endswith("s") for v in values) / len(values) if values else 0.0,
            named=named,
            named_pairs=pairs,
            heads={ws[-1] for ws in value_words.values() if len(ws) > 1},
            type_words=type_words,
            descriptors=descriptors,
            kind_modifiers=kind_modifiers,
            before_slot={w for w, n in before.items() if n >= COMMON},
            title_words={w for w, n in counts.items() if n >= COMMON},
            brands={w for w, n in firsts.items() if n >= COMMON},
            decided=decided,
        )

    def propose(self, text: str) -> str | None:
        """The new value the words name, or None (the slot unused here, or its word a
        known one)."""
        words = slot_words(text)
        # One word (a brand alone) shows no place in a title.
        if self.share < MIN_SLOT_SHARE or len(words) < 2 or len(words[-1]) < 3:
            return None
        norm = [_norm(w) for w in words]
        last, prev = norm[-1], norm[-2]
        if last in self.descriptors | self.brands or (prev, last) in self.named_pairs:
            return None
        if self._spellings("last").misspelt(words[-1]):
            return None
        if any(w in self.named for w in norm[:-1]):
            return None  # a known kind in another place: another word order
        context = self.before_slot | self.descriptors
        if last not in self.named:
            rare = prev not in context | self.title_words | self.type_words
            if len(norm) >= 3 and len(prev) >= 3 and rare and norm[-3] in context:
                return self._phrase(words[-2:])
            return self._phrase(words[-1:])
        if last in self.heads and len(norm) >= 3 and norm[-3] in context:
            new_modifier = prev in self.kind_modifiers and prev not in self.type_words
            if new_modifier and not self._spellings("modifier").misspelt(words[-2]):
                return self._phrase(words[-2:])
        return None

    def _spellings(self, place: str) -> Spellings:
        """The words a kind word (``last``) or its modifier (``modifier``) may be a
        misspelling of; built on first use and kept (the sets are fixed once fitted)."""
        cache = self.__dict__.setdefault("_spelling_cache", {})
        if place not in cache:
            known = self.type_words | self.descriptors
            cache[place] = Spellings(known | self.named if place == "last" else known)
        return cache[place]

    def _phrase(self, words: Iterable[str]) -> str:
        value = " ".join(w[:1].upper() + w[1:].lower() for w in words)
        if self.plural >= 0.5 and not value.lower().endswith("s"):
            value += "es" if value.lower().endswith(("ch", "sh", "x")) else "s"
        return value


def same_kind(a: str, b: str) -> bool:
    """Whether two values name one kind, ignoring case, hyphens and plural."""
    return [_norm(w) for w in slot_words(a)] == [_norm(w) for w in slot_words(b)]
