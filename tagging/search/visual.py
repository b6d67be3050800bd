"""Nearest catalogue products for an image or a product id, with tag filters.

One ``NeighbourSearch`` holds the catalogue, the live FAISS index and the embedder that
built it; ``tag`` and ``similar`` are built on it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shelfsight.core.errors import BadInput, ModelError, NotFound, NotIndexed
from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.indexer.embedders import Embedder, embed_images, load_embedder
from shelfsight.indexer.images import DecodedImage, ImageError, decode_file, decode_image
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace

SPARE_HITS = 8


log = logging.getLogger(__name__)


@dataclass
class Neighbour:
    """A catalogue product near the query; ``weight`` is its share of the tag vote."""

    id: str
    title: str
    distance: float
    tags: dict[str, str]
    key: int = -1
    weight: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "distance": round(float(self.distance), 4),
            "weight": round(float(self.weight), 4),
            "tags": self.tags,
        }


class NotEmbedded(NotIndexed, RuntimeError):
    """The product has no stored vector yet; answering needs the model (slow)."""


class UnknownProduct(NotFound, KeyError):
    error = "unknown product"

    def __str__(self) -> str:
        return f"no product with id {self.args[0]!r} in the catalogue"


@dataclass
class Query:
    """What to search from: a stored product, or a new image."""

    vector: np.ndarray
    exclude: list[int] = field(default_factory=list)
    product: Product | None = None
    image: DecodedImage | None = None
    # The same product's other photos (a new product sent with several views): each
    # catalogue product is then as near as its closest pair of photos.
    more: np.ndarray | None = None


def nearest_distance(neighbours: list[Neighbour]) -> float | None:
    """How far the closest of ``neighbours`` (nearest first, as searches return them) is."""
    return neighbours[0].distance if neighbours else None


class BadFilter(BadInput):
    error = "bad filter"


def parse_where(items: list[str] | None) -> dict[str, list[str]]:
    """``["gender=Men", "gender=Unisex", "usage=Casual"]`` -> {family: [values]}."""
    where: dict[str, list[str]] = {}
    for item in items or []:
        family, sep, value = item.partition("=")
        if not sep or not family.strip() or not value.strip():
            raise BadFilter(f"filter {item!r} is not of the form family=value")
        where.setdefault(family.strip(), []).append(value.strip())
    return where


def closest_of(keys: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Several queries' hits (one row each) as one list: every product once, at its
    smallest distance to any of them, nearest first."""
    best: dict[int, float] = {}
    for key, dist in zip(keys.ravel().tolist(), distances.ravel().tolist(), strict=True):
        if key >= 0 and dist < best.get(key, np.inf):
            best[key] = dist
    ranked = sorted(best.items(), key=lambda kv: kv[1])
    return (
        np.array([k for k, _ in ranked], dtype=np.int64),
        np.array([d for _, d in ranked], dtype=np.float32),
    )


class NeighbourSearch:
    def __init__(
        self,
        workspace: Workspace,
        catalogue: Catalogue | None = None,
        index: VectorIndex | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.workspace = workspace
        self.catalogue = catalogue or Catalogue(workspace.db_path)
        self.index = index or VectorIndex.load(workspace.index_dir)
        spec = self.index.manifest.get("model_spec", self.index.model)
        self._embedder = embedder
        self._spec = spec
        self._load_lock = threading.Lock()

    @property
    def embedder_loaded(self) -> bool:
        return self._embedder is not None

    @property
    def embedder(self) -> Embedder:
        # Loaded lazily: product-id queries read stored vectors and need no model.
        if self._embedder is None:
            # Concurrent first requests (the page asks /tag and /similar at once) must
            # load the model once, not race two loads.
            with self._load_lock:
                if self._embedder is None:
                    started = time.perf_counter()
                    self._embedder = load_embedder(self._spec, self.workspace.home)
                    seconds = round(time.perf_counter() - started, 2)
                    log.info(
                        "model loaded", extra={"fields": {"model": self._spec, "seconds": seconds}}
                    )
        if self._embedder.name != self.index.model:
            raise ModelError(
                f"index was built with {self.index.model}, embedder is {self._embedder.name}"
            )
        return self._embedder

    # -- queries ------------------------------------------------------------------------
    def query_for_image(self, image: DecodedImage, exclude_same_image: bool = True) -> Query:
        vector = embed_images(self.embedder, [image.image])[0]
        # A photo that is already in the catalogue must not vote for itself.
        exclude = self.catalogue.keys_with_sha(image.sha256) if exclude_same_image else []
        return Query(vector, exclude, image=image)

    def query_for_images(self, images: list[DecodedImage]) -> Query:
        """One new product seen in several photos: the first is its photo (its pixels give
        colour, shape and text), every one searches."""
        if not images:
            raise BadInput("no photo to search from")
        vectors = embed_images(self.embedder, [im.image for im in images])
        exclude = sorted({k for im in images for k in self.catalogue.keys_with_sha(im.sha256)})
        more = np.asarray(vectors[1:], dtype=np.float32) if len(images) > 1 else None
        return Query(vectors[0], exclude, image=images[0], more=more)

    def query_for_product(
        self, product_id: str, with_image: bool = True, embed: bool = True
    ) -> Query:
        """The stored vector of a product; its photo too, unless only neighbours are needed.

        A product not embedded yet is embedded now, unless ``embed`` is false: then
        ``NotEmbedded`` says the answer needs the model (the service does that off its
        event loop)."""
        product = self.catalogue.get(product_id)
        if product is None:
            raise UnknownProduct(product_id)
        image = None
        if product.image_path and with_image:
            try:
                image = decode_file(Path(product.image_path))
            except ImageError:  # the stored vector still answers; only pixel attributes go
                image = None
        # The exact stored vector (an IVF-PQ index only holds a compressed one).
        vector = self.catalogue.embedding(self.index.model, product.key)
        if vector is None:  # not embedded yet (ingested after the last index run)
            if not embed:
                raise NotEmbedded(product_id)
            if image is None and product.image_path:
                image = decode_file(Path(product.image_path))
            if image is None:
                raise NotEmbedded(f"product {product_id!r} has no vector and no image to embed")
            vector = embed_images(self.embedder, [image.image])[0]
        return Query(np.asarray(vector, dtype=np.float32), [product.key], product, image)

    def query_any(
        self, image_or_id: Any, with_image: bool = True, embed: bool = True, paths: bool = True
    ) -> Query:
        """A product id (a ``str`` the catalogue knows, else a file path unless ``paths``
        is off, as for ids from an HTTP client), a path, bytes, a PIL image or a numpy
        array, as something to search from."""
        if isinstance(image_or_id, str):
            try:
                return self.query_for_product(image_or_id, with_image=with_image, embed=embed)
            except UnknownProduct:
                if not paths:
                    raise
                if not Path(image_or_id).is_file():
                    raise NotFound(
                        f"{image_or_id!r} is neither a product id nor an image file"
                    ) from None
            except ImageError as exc:  # a stored product whose file can no longer be read
                raise NotEmbedded(f"{image_or_id!r} has no vector and {exc}") from None
        return self.query_for_image(decode_image(image_or_id))

    def query_for(self, target: str) -> Query:
        """A product id if the catalogue has one, else an image path."""
        if self.catalogue.get(target) is not None:
            return self.query_for_product(target)
        path = Path(target)
        if path.exists():
            return self.query_for_image(decode_file(path))
        raise UnknownProduct(target)

    def head_probs(self, vector: np.ndarray) -> dict[str, list[tuple[str, float]]] | None:
        """The hybrid model's own head predictions for a stored unit vector, if it has heads."""
        if not self._spec.startswith("hybrid"):  # only the hybrid has heads; skip loading
            return None
        head_probs = getattr(self.embedder, "head_probs", None)
        return head_probs(vector) if head_probs else None

    # -- search -------------------------------------------------------------------------
    def neighbours(
        self, query: Query, k: int, where: dict[str, list[str]] | None = None
    ) -> list[Neighbour]:
        allowed = self.catalogue.keys_matching(where) if where else None
        vectors = query.vector if query.more is None else np.vstack([query.vector, query.more])
        # A few spare hits: a product deleted after this index version was loaded (another
        # worker's write) is skipped without leaving the answer short.
        hits = self.index.search(
            vectors, k + SPARE_HITS, allowed=allowed, exclude=np.array(query.exclude)
        )
        if query.more is None:
            return self._found(hits.keys[0], hits.distances[0], k)
        keys, distances = closest_of(hits.keys, hits.distances)
        return self._found(keys, distances, k)

    def neighbours_many(self, queries: list[Query], k: int) -> list[list[Neighbour]]:
        """``neighbours`` for several queries, those that exclude nothing in one index pass:
        a flat search reads the whole index per pass, so 8 queries cost about what 1 does
        (BENCHMARKS.md, tag-batch)."""
        out: list[list[Neighbour] | None] = [None] * len(queries)
        plain = [i for i, q in enumerate(queries) if not len(q.exclude) and q.more is None]
        if plain:
            hits = self.index.search(np.stack([queries[i].vector for i in plain]), k + SPARE_HITS)
            for row, i in enumerate(plain):
                out[i] = self._found(hits.keys[row], hits.distances[row], k)
        return [
            found if found is not None else self.neighbours(q, k)
            for found, q in zip(out, queries, strict=True)
        ]

    def _found(self, hit_keys: np.ndarray, distances: np.ndarray, k: int) -> list[Neighbour]:
        keys = [int(key) for key in hit_keys if key >= 0]
        products = self.catalogue.summaries(keys[:k])
        if len(products) < min(k, len(keys)):  # some were deleted: read the spares too
            products.update(self.catalogue.summaries(keys[k:]))
        out = []
        for key, dist in zip(hit_keys, distances, strict=True):
            p = products.get(int(key))
            if p is None:  # deleted from the catalogue since the index was built
                continue
            out.append(Neighbour(p.id, p.title, float(dist), p.tags, key=p.key))
        return out[:k]
