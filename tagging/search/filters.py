"""Tag filters as callers give them (``{"gender": ["Men"]}`` or ``["gender=Men"]``),
bounded, checked against the catalogue and put in its spelling; and refined by the tag
values a phrase names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shelfsight.core.errors import BadInput
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.tagging.search.keyword import filters_in_text
from shelfsight.tagging.search.visual import parse_where

Where = Mapping[str, Sequence[str]] | Sequence[str] | None
# Bounded whatever the way in (library, CLI, HTTP): each filter is a look-up, and a fuzzy
# one on a miss.
MAX_FILTERS = 50
MAX_FILTER_LENGTH = 200


def checked_filters(catalogue: Catalogue, where: Where) -> dict[str, list[str]]:
    """``where`` in the catalogue's spelling (OR within a family, AND across); a family or
    value no product holds is refused, naming what exists."""
    if where is None:
        return {}
    items = (
        [f"{f}={v}" for f, vs in where.items() for v in vs]
        if isinstance(where, Mapping)
        else [str(x) for x in where]
    )
    if len(items) > MAX_FILTERS:
        raise BadInput(f"at most {MAX_FILTERS} filters at once ({len(items)} given)")
    if any(len(x) > MAX_FILTER_LENGTH for x in items):
        raise BadInput(f"a filter is at most {MAX_FILTER_LENGTH} characters long")
    if isinstance(where, Mapping):
        filters = {str(f): [str(v) for v in vs] for f, vs in where.items()}
    else:
        filters = parse_where(list(where))
    return catalogue.resolve_where(filters)


def refined_filters(
    catalogue: Catalogue, where: Where, text: str | None
) -> tuple[dict[str, list[str]], list[str]]:
    """``where`` checked, with the tag values ``text`` names added (AND across families,
    OR within one); and the words of ``text`` that named no value."""
    filters = checked_filters(catalogue, where)
    if not text:
        return filters, []
    named, ignored = filters_in_text(catalogue, text)
    for family, values in named.items():
        have = filters.setdefault(family, [])
        have += [v for v in values if v not in have]
    return filters, ignored
