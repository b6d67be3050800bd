"""Text search over the catalogue, and the tag values it can be filtered by."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import Parameter

from shelfsight.library import Shelfsight
from shelfsight.service.http.deps import KParam, WhereParam, linked
from shelfsight.service.http.responses import ERROR_RESPONSES, Facets
from shelfsight.tagging.results import SearchResult

ModeParam = Annotated[
    Literal["hybrid", "keyword", "semantic"],
    Parameter(
        description="keyword: BM25 over titles and tags (any word, prefixes, more words "
        "first); semantic: titles nearest in meaning (MiniLM); hybrid: both, fused by "
        "reciprocal rank."
    ),
]


class SearchController(Controller):
    tags = ("search",)

    @get(
        "/search", sync_to_thread=True, responses=ERROR_RESPONSES, summary="Search products by text"
    )
    def search(
        self,
        shelf: Shelfsight,
        q: Annotated[str, Parameter(min_length=1, max_length=200, description="Words to find.")],
        k: KParam = 20,
        where: WhereParam = None,
        mode: ModeParam = "hybrid",
    ) -> SearchResult:
        """Products whose titles and tags match the words (keyword), or whose meaning
        does (semantic), or both (hybrid), with ``where`` filters family=value;
        ``total`` counts every match, not only the page returned."""
        result = shelf.search(q, k, where, mode)
        linked(result.results)
        return result

    @get("/facets", sync_to_thread=True, responses=ERROR_RESPONSES, summary="Tag facets")
    def facets(self, shelf: Shelfsight) -> Facets:
        """Every tag family's values with their product counts (filters, corrections)."""
        return Facets(shelf.facets())
