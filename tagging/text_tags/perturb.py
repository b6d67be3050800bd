"""Listing words as another house would write them, named transforms of a title: the
text fusion is fitted on them as well as on the catalogue's own titles (so it learns how
far weaker words can be trusted), and ``eval tagging --text-transform`` measures on them.

``drop-colour`` removes the words that name a colour value; ``brand-only`` keeps the
first word (the brand, in catalogue titles); ``shuffle`` puts the words in another order;
``typos`` swaps two letters in every word of five or more; ``empty`` leaves nothing.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection

TEXT_TRANSFORMS = ("drop-colour", "brand-only", "shuffle", "typos", "empty")


def _words(text: str) -> list[str]:
    return text.split()


def drop_colour(text: str, colours: Collection[str], rng: random.Random) -> str:
    named = {c.casefold() for c in colours} | {w.casefold() for c in colours for w in c.split()}
    return " ".join(w for w in _words(text) if re.sub(r"\W", "", w).casefold() not in named)


def brand_only(text: str, colours: Collection[str], rng: random.Random) -> str:
    return " ".join(_words(text)[:1])


def shuffle(text: str, colours: Collection[str], rng: random.Random) -> str:
    words = _words(text)
    rng.shuffle(words)
    return " ".join(words)


def typos(text: str, colours: Collection[str], rng: random.Random) -> str:
    out = []
    for w in _words(text):
        if len(w) >= 5:
            i = rng.randrange(1, len(w) - 2)
            w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        out.append(w)
    return " ".join(out)


def empty(text: str, colours: Collection[str], rng: random.Random) -> str:
    return ""


TRANSFORMS: dict[str, Callable[[str, Collection[str], random.Random], str]] = {
    "drop-colour": drop_colour,
    "brand-only": brand_only,
    "shuffle": shuffle,
    "typos": typos,
    "empty": empty,
}


def transform_text(name: str, text: str, colours: Collection[str] = (), seed: int = 0) -> str:
    """``text`` under the transform ``name`` (one of ``TEXT_TRANSFORMS``)."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown text transform {name!r}; choose {', '.join(TEXT_TRANSFORMS)}")
    return TRANSFORMS[name](text, colours, random.Random(f"{seed}:{text}"))
