"""Text search as users call it: keyword (BM25), semantic (MiniLM titles) or both fused
by reciprocal rank, which is the default."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from shelfsight.core.errors import BadInput
from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.tagging.search.keyword import keyword_search, search_terms
from shelfsight.tagging.search.semantic import TitleSearch

SEARCH_MODES = ("hybrid", "keyword", "semantic")
# Reciprocal rank fusion (Cormack et al. 2009): 60 is their constant; each list is read
# this deep, so a product ranked 100th by one and 1st by the other still surfaces.
RRF_K, RRF_DEPTH = 60, 100


class Found(NamedTuple):
    """A product a text search found: its BM25 ``rank`` (keyword, lower is better) and
    its ``score`` (cosine for semantic, the fused score for hybrid), where it has them."""

    product: Product
    rank: float | None = None
    score: float | None = None


def search_products(
    catalogue: Catalogue,
    titles: TitleSearch,
    q: str,
    k: int,
    allowed: np.ndarray | None = None,
    mode: str = "hybrid",
) -> list[Found]:
    """The ``k`` best products for ``q`` (only keys in ``allowed`` when given).

    ``hybrid`` fuses both lists: ``score`` = sum of 1 / (60 + rank), so a product both
    find comes first and either alone still counts."""
    if mode not in SEARCH_MODES:
        raise BadInput(f"mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
    depth = max(k, RRF_DEPTH) if mode == "hybrid" else k
    keyword = keyword_search(catalogue, q, depth, allowed) if mode != "semantic" else []
    if mode == "keyword":
        return [Found(h.product, rank=round(h.rank, 4)) for h in keyword]
    semantic = titles.search(q, depth, allowed) if q.strip() else []
    if mode == "semantic":
        products = catalogue.by_keys(key for key, _ in semantic)
        return [
            Found(products[key], score=round(sim, 4)) for key, sim in semantic if key in products
        ]
    fused: dict[int, float] = {}
    # A keyword hit counts for the share of the query's words it holds: one holding only
    # "for"-like side words of a query about meaning does not outvote the titles nearest
    # in meaning.
    words = max(1, len(search_terms(q)))
    for rank, hit in enumerate(keyword, start=1):
        fused[hit.product.key] = hit.matched / words / (RRF_K + rank)
    for rank, (key, _) in enumerate(semantic, start=1):
        fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(fused, key=lambda key: -fused[key])[:k]
    products = {h.product.key: h.product for h in keyword}
    products |= catalogue.by_keys(key for key in best if key not in products)
    bm25 = {h.product.key: h.rank for h in keyword}
    return [
        Found(
            products[key],
            rank=round(bm25[key], 4) if key in bm25 else None,
            score=round(fused[key], 5),
        )
        for key in best
        if key in products
    ]
