"""A listing's words as one text (kept import-light: the CLI and the library call it)."""

from __future__ import annotations

from collections.abc import Sequence


def listing_text(title: str | None, texts: Sequence[str] = ()) -> str:
    """The words of a listing the text model reads: its title, then its other text."""
    return " ".join(t.strip() for t in [title or "", *texts] if t and t.strip())
