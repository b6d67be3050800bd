"""What a shop export packs into one cell: HTML, a category path, a list of values.

Shared by every platform reader so a path or a list means the same thing whichever export
it came from."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from shelfsight.indexer.formats.table import as_text
from shelfsight.indexer.plain_text import plain_text
from shelfsight.indexer.tag_names import FAMILY_PATTERN

# Deeper levels than this are kept in the path field only: no catalogue we know of
# tags by a fifth level, and each level is a family every product is scored on.
MAX_LEVELS = 4
# WooCommerce escapes a comma inside one value as "\,".
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def html_text(value: Any) -> str:
    """A description cell as plain words (HTML rendered by inscriptis, never by regex)."""
    return plain_text(value)


def split_list(value: Any, separator: str = ",") -> list[str]:
    """A list-valued cell ("summer, cotton, red") as its items, in order, without repeats."""
    if isinstance(value, list):
        items = [as_text(v) for v in value]
    elif separator == ",":
        items = [p.replace("\\,", ",") for p in _UNESCAPED_COMMA.split(as_text(value))]
    else:
        items = as_text(value).split(separator)
    return list(dict.fromkeys(i.strip() for i in items if i.strip()))


def path_levels(path: str) -> list[str]:
    """A category path ("Apparel & Accessories > Clothing > Shirts & Tops") as its levels."""
    return [p.strip() for p in path.split(">") if p.strip()]


def level_families(base: str, path: str) -> dict[str, str]:
    """One family per level of a path: ``{base}_1`` is the top level."""
    return {f"{base}_{i}": v for i, v in enumerate(path_levels(path)[:MAX_LEVELS], start=1)}


def is_path(values: Iterable[str]) -> bool:
    return any(">" in v for v in values)


def one_value(values: Iterable[Any]) -> str | None:
    """The value every variant shares, or None when they differ (or none has one)."""
    seen = {as_text(v) for v in values} - {""}
    return seen.pop() if len(seen) == 1 else None


def family_name(name: str) -> str | None:
    """A platform's attribute name as a tag family, or None when it cannot be one."""
    name = " ".join(name.split())
    return name if FAMILY_PATTERN.match(name) else None


def find_column(header: Sequence[str], *names: str) -> str | None:
    """The header's spelling of the first of ``names`` it has (case and spacing aside)."""
    folded = {" ".join(h.split()).casefold(): h for h in header}
    return next((folded[n.casefold()] for n in names if n.casefold() in folded), None)


class HeaderMap:
    """A platform's columns (role -> the names it has been spelled with) as one file's
    header spells them; ``cell`` reads a role's text from a row, "" where the file lacks it."""

    def __init__(self, header: Sequence[str], spec: dict[str, tuple[str, ...]]) -> None:
        self.header = list(header)
        self.col = {role: find_column(header, *names) for role, names in spec.items()}

    def cell(self, values: dict[str, Any], role: str) -> str:
        name = self.col[role]
        return as_text(values.get(name)) if name else ""

    def numbered(self, name: str, value: str, count: int) -> list[tuple[str | None, str | None]]:
        """The (name, value) column pairs of a numbered attribute ("Option{n} Name")."""
        return [
            (
                find_column(self.header, name.format(n=n)),
                find_column(self.header, value.format(n=n)),
            )
            for n in range(1, count + 1)
        ]
