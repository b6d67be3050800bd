"""A listing's words as one text (kept import-light: the CLI and the library call it)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


def listing_text(title: str | None, texts: Sequence[str] = ()) -> str:
    """The words of a listing the text model reads: its title, then its other text."""
    return " ".join(t.strip() for t in [title or "", *texts] if t and t.strip())


def norm_word(word: str) -> str:
    """A word as kinds and values are compared: no case, no hyphen, no plural."""
    w = word.casefold().replace("-", "")
    if w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def word_set(texts: Iterable[str]) -> set[str]:
    """Every word of ``texts``, normalised (``norm_word``); "Men's" is "men"."""
    return {
        norm_word(w.removesuffix("'s")) for t in texts for w in re.findall(r"[^\W\d_][\w'-]*", t)
    }
