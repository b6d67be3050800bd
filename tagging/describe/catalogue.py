"""Describe a product of (or new to) a workspace's catalogue: an image or a product id
gets its facts from the tagging pipeline and its neighbours from the FAISS index; a
text-only product (a title, no photo) gets neighbours by title.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shelfsight.core.errors import BadInput, OutOfDomain
from shelfsight.indexer.plain_text import plain_text
from shelfsight.tagging.describe.facts import (
    Facts,
    Listing,
    facts_from_tagging,
    facts_of_product,
    listing_from_product,
    listings_from_neighbours,
)
from shelfsight.tagging.describe.lexicon import Lexicon, catalogue_nouns, words
from shelfsight.tagging.describe.vocabulary import Vocabulary
from shelfsight.tagging.describe.writer import (
    CLAUSE_POOL,
    DescribeOptions,
    Description,
    DescriptionWriter,
)
from shelfsight.tagging.neighbour_tags.pipeline import Pipeline, PipelineOptions
from shelfsight.tagging.search.semantic import TitleSearch
from shelfsight.tagging.search.visual import NeighbourSearch, Query

DEFAULT_MIN_CONFIDENCE = 0.5
# Tag families that name what a product is: their values are product nouns.
ARTICLE_TAGS = ("articleType", "article_type")


@dataclass
class DescribeRequest:
    target: str | None = None  # a product id or an image path
    fields: Mapping[str, Any] | None = None  # what the caller knows: title, brand, price...
    k: int = 5
    attributes: tuple[str, ...] = ("colour", "shape")
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    description_column: str | None = None
    force: bool = False  # describe a photo even when it is not like anything here


class CatalogueDescriber:
    def __init__(
        self,
        search: NeighbourSearch,
        describer: DescriptionWriter,
        pipeline: Pipeline | None = None,
        titles: TitleSearch | None = None,
    ) -> None:
        self.search = search
        self.pipeline = pipeline or Pipeline(search)
        self.describer = describer
        # Shared with the library's semantic search: one MiniLM, one set of title vectors.
        self.titles = titles or TitleSearch(search.workspace, search.catalogue)
        self._prepared: int | None = None  # the catalogue generation it was read at
        self._own_vocabulary = False  # built here (rebuilt on change), not given
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.describer.label

    def prepare(self) -> None:
        """Read the catalogue once: its words (the vocabulary guard), its product nouns
        and brands (the claim lexicon), its descriptions (none may be repeated verbatim),
        and load the language model if there is one. The service calls this at start-up;
        after a write to the catalogue (any process) the next call reads it again, so a
        product added online lends its words and nouns."""
        with self._lock:
            generation = self.search.catalogue.generation()
            if self._prepared == generation:
                return
            texts: list[str] = []
            titles: list[str] = []
            types: set[str] = set()
            existing: set[str] = set()
            described = self.roles()["description"]
            for p in self.search.catalogue.iter_products():
                titles.append(p.title)
                texts.append(p.title)
                texts.extend(plain_text(v) for v in (*p.tags.values(), *p.fields.values()) if v)
                types.update(str(v) for k, v in p.tags.items() if k in ARTICLE_TAGS and v)
                if described and p.fields.get(described):
                    existing.add(plain_text(p.fields[described]))
            brands = list(self.pipeline.brands.brands.values())
            # An article type's last word is its noun ("Casual Shoes" -> shoes).
            nouns = [*catalogue_nouns(titles), *(words(t)[-1][0] for t in types if words(t))]
            d = self.describer
            d.lexicon = Lexicon.for_catalogue(brands, nouns, existing)
            if d.vocabulary is None or self._own_vocabulary:
                # Titles and tags alone hold few descriptive words: general English counts.
                d.vocabulary = Vocabulary.from_texts(texts, general=not existing)
                self._own_vocabulary = True
            d.existing = existing
            load = getattr(d.backend, "load", None)
            if load is not None:
                load()
            self._prepared = generation

    def roles(self, description_column: str | None = None) -> dict[str, str | None]:
        """The catalogue's brand, colour and description columns, as ingest recorded them
        (``description_column`` overrides the last)."""
        cat = self.search.catalogue
        roles = {r: cat.column(r) for r in ("brand", "colour", "description")}
        if description_column:
            roles["description"] = description_column
        return roles

    def _pool(self, query: Query, column: str | None, k: int) -> list[Listing]:
        """The nearest k (at least CLAUSE_POOL) listings: the neighbours first, then those
        whose agreed details a longer text may add."""
        found = self.search.neighbours(query, max(k, CLAUSE_POOL))
        products = self.search.catalogue.by_keys(n.key for n in found if n.key)
        return listings_from_neighbours(found, products, self.roles(column))

    # -- neighbours by title ------------------------------------------------------------
    def _by_title(self, title: str, k: int, column: str | None) -> list[Listing]:
        found = self.titles.search(title, k)
        products = self.search.catalogue.by_keys(key for key, _ in found)
        roles = self.roles(column)
        return [
            listing_from_product(products[key], 1.0 - sim, roles)
            for key, sim in found
            if key in products
        ]

    # -- one product --------------------------------------------------------------------
    def describe(self, req: DescribeRequest, opts: DescribeOptions | None = None) -> Description:
        self.prepare()
        if req.target is None:
            given = Facts.from_fields(req.fields or {})
            if not given.title:
                raise BadInput("give an image, a product id, or at least a title")
            pool = self._by_title(given.title, max(req.k, CLAUSE_POOL), req.description_column)
            return self.describer.describe(given, pool[: req.k], opts, pool)

        return self.describe_query(self.search.query_for(req.target), req, opts)

    def describe_any(
        self, target: Any, req: DescribeRequest, opts: DescribeOptions | None = None
    ) -> Description:
        """Describe a catalogue product (its id), a photo (a path, bytes, an image) or, with
        ``target`` None, the title and fields of ``req``."""
        if target is None:
            if not (req.fields or {}).get("title"):
                raise BadInput("nothing to describe: give an image, a product id or a title")
            return self.describe(req, opts)
        if isinstance(target, str) and self.search.catalogue.get(target) is not None:
            return self.describe(dataclasses.replace(req, target=target), opts)
        return self.describe_query(self.search.query_any(target), req, opts)

    def describe_query(
        self, query: Query, req: DescribeRequest, opts: DescribeOptions | None = None
    ) -> Description:
        """Describe what a prepared query (an uploaded image, a stored product) shows."""
        self.prepare()
        given = Facts.from_fields(req.fields or {})
        result = self.pipeline.run(
            query, query.image, PipelineOptions(k=req.k, attributes=req.attributes)
        )
        m = result.match
        if m is not None and m.out_of_domain and query.product is None and not req.force:
            raise OutOfDomain(
                f"this photo is not like anything in the catalogue (nearest distance "
                f"{m.nearest_distance:.3f}, catalogue photos are within {m.ood_threshold:.3f}); "
                "a description would borrow facts from unrelated products. Force it to "
                "describe it anyway (--force, or force=true)"
            )
        swatches = [(s.name, s.share) for s in result.palette.swatches] if result.palette else []
        facts = facts_from_tagging(
            result.tags,
            swatches,
            result.shape.tags if result.shape else None,
            result.ocr.brand.brand if result.ocr and result.ocr.brand else None,
            req.min_confidence,
        )
        if query.product is not None:  # the catalogue's own record is truth, not inference
            p = query.product
            facts = facts.merge(facts_of_product(p, self.roles()))
        facts = facts.merge(given)
        # The tagging's k neighbours are the pool's first k (one search, read once).
        pool = self._pool(query, req.description_column, req.k)
        return self.describer.describe(facts, pool[: req.k], opts, pool)
