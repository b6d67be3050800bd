"""What a tag family name and a tag value may be, for every way in (ingest, the API).

Families are matched without regard to case everywhere (``gender=men`` filters
``gender``), so a catalogue holds one family per case-folded name: a new spelling of a
known family (a ``Gender`` column, a posted ``GENDER`` tag) is stored under the
catalogue's own spelling, and two spellings of one family in one listing or file are
refused. A name or value that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
``@``, tab, CR first: OWASP's CSV-injection rule) is refused, as are control characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shelfsight.core.errors import BadInput

FAMILY_PATTERN = re.compile(r"^[^\W_][\w .()/&'-]{0,63}$")
FAMILY_RULE = "1-64 letters, digits, spaces or _.()/&'- starting with a letter or digit"
MAX_VALUE_LENGTH = 200
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class BadTag(BadInput):
    """A tag family name or value that cannot be stored."""

    error = "bad tag"


def check_family(name: str) -> str:
    if not isinstance(name, str) or not FAMILY_PATTERN.match(name):
        raise BadTag(f"tag family {name!r} is not a valid name: {FAMILY_RULE}")
    return name


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a tag value, or None."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"longer than {MAX_VALUE_LENGTH} characters"
    if value.startswith(FORMULA_START):
        return f"starts with {value[0]!r}, which a spreadsheet runs as a formula"
    if _CONTROL.search(value):
        return "holds control characters"
    return None


def check_value(family: str, value: str) -> str:
    problem = value_problem(value)
    if problem:
        raise BadTag(f"tag {family}={value[:40]!r} is refused: {problem}")
    return value


def canonical_families(names: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """Each name -> the family it is stored as: the known family of the same case-folded
    name, else itself. Invalid names and two spellings of one family are ``BadTag``."""
    by_fold: dict[str, str] = {}
    for family in known:
        by_fold.setdefault(family.casefold(), family)
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in names:
        check_family(name)
        fold = name.casefold()
        if fold in seen and seen[fold] != name:
            raise BadTag(f"tag families {seen[fold]!r} and {name!r} are the same family")
        seen[fold] = name
        out[name] = by_fold.get(fold, name)
    return out
