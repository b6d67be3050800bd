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


def slot_words_of(text: str) -> list[str]:
    """The words of ``text`` (letters first, no model numbers), as written."""
    found = re.findall(r"[^\W\d_][\w'-]*", text)
    return [w for w in found if not any(c.isdigit() for c in w)]


def word_set(texts: Iterable[str]) -> set[str]:
    """Every word of ``texts``, normalised (``norm_word``); "Men's" is "men"."""
    return {norm_word(w.removesuffix("'s")) for t in texts for w in slot_words_of(t)}


class Spellings:
    """Words (normalised) and their one-typo spellings, looked up in time linear in the
    word: two letters swapped, or one dropped or doubled after the first letter (words of
    five letters or more). "Kurti" is no misspelt "Kurta" (a letter replaced), "Tshirt" no
    misspelt "Shirt" (the first letter)."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = set(known)
        # A letter dropped from a known word: every known word less one letter.
        long = [k for k in self.known if len(k) >= 6]
        self.dropped = {k[:i] + k[i + 1 :] for k in long for i in range(1, len(k))}

    @staticmethod
    def _forms(word: str) -> set[str]:
        plain = word.casefold().replace("-", "").removesuffix("'s")
        return {norm_word(plain), plain, plain.removesuffix("s")}

    def _one_typo(self, f: str) -> bool:
        if len(f) >= 5 and f in self.dropped:
            return True
        swapped = (f[:i] + f[i + 1] + f[i] + f[i + 2 :] for i in range(len(f) - 1))
        if any(s in self.known for s in swapped if s != f):
            return True
        # A letter doubled or added.
        return len(f) >= 5 and any(f[:i] + f[i + 1 :] in self.known for i in range(1, len(f)))

    def __contains__(self, word: object) -> bool:
        """``word`` is a known word, or one misspelt."""
        if not isinstance(word, str):
            return False
        forms = self._forms(word)
        return bool(forms & self.known) or any(self._one_typo(f) for f in forms)

    def misspelt(self, word: str) -> bool:
        """``word`` is a known word misspelt, not the word itself."""
        forms = self._forms(word)
        return not forms & self.known and any(self._one_typo(f) for f in forms)
