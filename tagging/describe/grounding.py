"""Every word a description states must come from this product's own facts.

The claim guard (``guard``) checks the words it knows: colours, materials, genders,
products, brands and the detail values mined from the catalogue's descriptions. What it
does not know passed: read over 150 held-out Myntra listings, the describer kept the
neighbours' "Comes with a brooch" on a sherwani set, "Comes in a Titan case" and "Water
resistance" on watches, "Shape: Octogonal" on a round clock, "a back closure" on
earrings, and the fragments their removed values left ("has a neck, sleeves", "has, detail
upper footbed outsole"), while its audit, the same lexicon, reported no unsupported claim
(issue 28). So a clause the describer did not write from the facts is kept only when
each of its content words is one the facts contain (the title, the record's fields and
tags, a confirmed detail), in any of the forms the lexicon equates ("Tshirt" and
"T-shirt", "Golden" and "gold"); function words and the words the describer's own
frames write are free. A "Field: value" line is judged by its value. What this leaves
out is what the facts do not say; the details the neighbours agree on still come back
in ``to_confirm`` for a person to accept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from shelfsight.tagging.describe.clauses import Clause, split_clauses
from shelfsight.tagging.describe.compose import COMPOSE_WORDS
from shelfsight.tagging.describe.controls import CONTROL_WORDS
from shelfsight.tagging.describe.facts import Facts
from shelfsight.tagging.describe.lexicon import (
    ARTICLE_FORMS,
    COLOUR_FORMS,
    MATERIAL_FORMS,
    singular,
    words,
)

# Words that frame a clause and claim nothing of the product.
_FUNCTION_WORDS = """a an the and or nor & of to in on at by for from with without as is are was
be been being it its this that these those has have having comes come coming which who also
while so but than then there here very just your you our we us can will may each every one
both all any into onto up out over under about per not no yes plus"""
# Written around a colour ("cream-coloured", "gold-toned"): the colour is the claim.
_AROUND_COLOUR = {"coloured", "colored", "toned", "tone", "colour", "color", "shade"}
FREE_WORDS = frozenset(_FUNCTION_WORDS.split()) | COMPOSE_WORDS | CONTROL_WORDS | _AROUND_COLOUR
_FIELD_LINE = re.compile(r"^\s*[A-Za-z][A-Za-z /&-]{0,30}:\s*")


def _stem(word: str) -> str:
    """One form for "printed"/"print", "detailing"/"detail", "pockets"/"pocket"."""
    for canon in (COLOUR_FORMS, MATERIAL_FORMS, ARTICLE_FORMS):
        if word in canon:
            return canon[word]
    word = singular(word)
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _forms(text: str) -> set[str]:
    """The stems of a text's words, of each part of a hyphenated one, and of each pair of
    neighbouring words written as one ("Self Design" is "self-design")."""
    toks = [w for w, _, _ in words(text)]
    out: set[str] = set()
    for i, w in enumerate(toks):
        out.add(_stem(w))
        if "-" in w:
            out.add(_stem(w.replace("-", "")))
            out.update(_stem(p) for p in w.split("-") if p)
        if i + 1 < len(toks):
            out.add(_stem(f"{w}-{toks[i + 1]}"))
            out.add(_stem(w + toks[i + 1]))
    return out


def fact_words(facts: Facts) -> set[str]:
    """Every word form this product's facts contain."""
    texts: list[str] = [facts.title, facts.brand, facts.gender, *facts.colours, *facts.palette]
    texts += [*facts.tags.values(), *facts.shape.values(), *facts.extra.values()]
    texts += list(facts.extra)  # a field's name: "made of cotton" for {material: cotton}
    return _forms(" ".join(t for t in texts if t))


def _grounded_word(word: str, known: set[str]) -> bool:
    if word in FREE_WORDS or _stem(word) in known:
        return True
    parts = [p for p in word.split("-") if p]
    if len(parts) > 1:  # "gold-coloured", "navy-blue": every part a fact or a frame word
        return _stem(word.replace("-", "")) in known or all(
            p in FREE_WORDS or _stem(p) in known for p in parts
        )
    return False


def ungrounded(text: str, known: set[str]) -> list[str]:
    """The content words of ``text`` that ``known`` (``fact_words``) does not contain; a
    "Field: value" line's name is not content, its value is (a name alone is one
    ungrounded claim: it says the product has the field)."""
    body = _FIELD_LINE.sub("", text)
    if not body.strip():
        return [text.strip()]
    return [w for w, _, _ in words(body) if not _grounded_word(w, known)]


def says_something(text: str) -> bool:
    """Whether a clause has a content word at all ("Has.", "Features" do not)."""
    return any(w not in FREE_WORDS for w, _, _ in words(_FIELD_LINE.sub("", text)))


def grounded(clauses: Sequence[Clause], facts: Facts, head: Clause | None = None) -> list[Clause]:
    """The clauses whose every content word is in the facts, and that say something; a
    sentence whose opening clause went opens at its first clause kept. ``head``: what
    opens the text when its own first clause went (the facts' head clause)."""
    known = fact_words(facts)
    out: list[Clause] = []
    opens = False
    for i, c in enumerate(clauses):
        opens = c.sentence_start or opens
        if not says_something(c.text) or ungrounded(c.text, known):
            if i == 0 and head is not None:
                out.append(head)
                opens = False
            continue
        if opens and not c.sentence_start:
            c = Clause(c.text[:1].upper() + c.text[1:], sentence_start=True)
        out.append(c)
        opens = False
    return out


def ungrounded_words(texts: Iterable[str], facts: Iterable[Facts]) -> list[list[str]]:
    """Per text, the content words its product's facts do not contain (the audit)."""
    out = []
    for text, f in zip(texts, facts, strict=True):
        known = fact_words(f)
        out.append([w for c in split_clauses(text) for w in ungrounded(c.text, known)])
    return out
