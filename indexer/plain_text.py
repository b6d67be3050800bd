"""Listing text as plain words: what a catalogue cell may hold (HTML from a shop export,
a formula planted for a spreadsheet) never reaches a description or a prompt as it is."""

from __future__ import annotations

import re
from typing import Any

from shelfsight.indexer.tag_names import FORMULA_START

# Something tag-like: "<p", "</b", "<br/", "<!--", "&amp;". Plain text with a "<" in it
# ("size < 10") is left alone.
_LOOKS_LIKE_HTML = re.compile(r"</?[a-zA-Z!][^>]*>|&[a-zA-Z]+;|&#\d+;")


def plain_text(value: Any) -> str:
    """One line of text: HTML rendered to its words (inscriptis: scripts and styles
    dropped, entities decoded), whitespace collapsed, and no leading character a
    spreadsheet would run as a formula."""
    text = "" if value is None else str(value)
    if _LOOKS_LIKE_HTML.search(text):
        from inscriptis import get_text

        text = get_text(text)
    text = " ".join(text.split())
    return text.lstrip("".join(FORMULA_START) + " ")
