"""What one service process holds: the workspace, the live index, the models, and how it
applies writes (under the workspace's writer lock) and notices other processes' writes.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from indexer.catalogue import Catalogue, Product
from indexer.images import DecodedImage
from indexer.online import add_products, delete_product, stored_image_path, writer_lock
from indexer.vector_index import VectorIndex
from indexer.workspace import Workspace, atomic_path
from tagging.neighbours import NeighbourSearch
from tagging.pipeline import Pipeline

MB = 1024 * 1024
T = TypeVar("T")


@dataclass
class ServiceConfig:
    home: str | None = None
    api_key: str | None = None
    max_upload_bytes: int = 15 * MB
    max_pixels: int = 40_000_000
    slow_timeout: float = 30.0  # OCR and description generation
    similar_cache: int = 8192  # answers kept per worker; 0 turns the cache off
    describe_backend: str = "transformers"
    describe_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> ServiceConfig:
        env = os.environ
        opts = {
            k: v
            for k, v in {
                "model": env.get("SHELFSIGHT_LLM_MODEL") or env.get("SHELFSIGHT_OPENAI_MODEL"),
                "base_url": env.get("SHELFSIGHT_OPENAI_BASE_URL"),
            }.items()
            if v
        }
        return cls(
            home=env.get("SHELFSIGHT_HOME"),
            api_key=env.get("SHELFSIGHT_API_KEY") or None,
            max_upload_bytes=int(env.get("SHELFSIGHT_MAX_UPLOAD_BYTES", 15 * MB)),
            max_pixels=int(env.get("SHELFSIGHT_MAX_PIXELS", 40_000_000)),
            slow_timeout=float(env.get("SHELFSIGHT_SLOW_TIMEOUT", 30.0)),
            similar_cache=int(env.get("SHELFSIGHT_SIMILAR_CACHE", 8192)),
            describe_backend=env.get("SHELFSIGHT_DESCRIBE_BACKEND", "transformers"),
            describe_options=opts,
        )


class ServiceState:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.workspace = Workspace.open(config.home, create=False)
        self.catalogue = Catalogue(self.workspace.db_path)
        self.search = NeighbourSearch(self.workspace, self.catalogue)
        self.pipeline = Pipeline(self.search)
        self.version = VectorIndex.current_version(self.workspace.index_dir)
        self._write = threading.Lock()
        self._describer: Any = None
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._describer_lock = threading.Lock()

    # -- reads --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up an index version another process (a worker, the CLI) wrote."""
        current = VectorIndex.current_version(self.workspace.index_dir)
        if current != self.version:
            with self._write:
                if current != self.version:
                    self.search.index = VectorIndex.load(self.workspace.index_dir)
                    self.version = current

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """An answer that depends only on the index and the catalogue, reused until either
        changes (a new index version or catalogue generation, whoever wrote it)."""
        if self.config.similar_cache <= 0:
            return compute()
        full = (self.version, self.catalogue.generation(), *key)
        with self._cache_lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
        value = compute()
        with self._cache_lock:
            self._cache[full] = value
            while len(self._cache) > self.config.similar_cache:
                self._cache.popitem(last=False)
        return value

    def describer(self) -> Any:
        from tagging.describe.backends import load_backend
        from tagging.describe.catalogue import CatalogueDescriber
        from tagging.describe.writer import Describer

        with self._describer_lock:
            if self._describer is None:
                backend = load_backend(
                    self.config.describe_backend,
                    timeout=self.config.slow_timeout,
                    **self.config.describe_options,
                )
                self._describer = CatalogueDescriber(self.search, Describer(backend), self.pipeline)
        return self._describer

    # -- writes -------------------------------------------------------------------------
    def add(
        self, listings: list[dict[str, Any]], images: list[tuple[DecodedImage, bytes]]
    ) -> list[dict[str, Any]]:
        """Store images, upsert listings, embed and add them to the index; one result each."""
        with self._write, writer_lock(self.workspace):
            index = VectorIndex.load(self.workspace.index_dir)  # the newest, whoever wrote it
            records = []
            results = []
            existing = self.catalogue.keys_by_id(str(item["id"]) for item in listings)
            next_key = self.catalogue.next_key()
            for item, (image, data) in zip(listings, images, strict=True):
                path = stored_image_path(self.workspace, image.sha256, image.format)
                if not path.exists():
                    with atomic_path(path) as tmp:
                        tmp.write_bytes(data)
                pid = str(item["id"])
                key = existing.get(pid)
                if key is None:
                    key, next_key = next_key, next_key + 1
                records.append(
                    {
                        "key": key,
                        "id": pid,
                        "title": item.get("title", ""),
                        "image_path": str(path),
                        "image_sha256": image.sha256,
                        "width": image.width,
                        "height": image.height,
                        "tags": item.get("tags", {}),
                        "fields": item.get("fields", {}),
                    }
                )
                results.append({"id": pid, "status": "updated" if pid in existing else "added"})
            index = add_products(
                self.workspace,
                self.catalogue,
                index,
                self.search.embedder,
                records,
                [im for im, _ in images],
            )
            self._publish(index)
            families = self.catalogue.get_meta("tag_families", [])
            new = [f for r in records for f in r["tags"] if f not in families]
            if new:
                self.catalogue.set_meta("tag_families", list(dict.fromkeys(families + new)))
            return results

    def delete(self, product_id: str) -> Product | None:
        with self._write, writer_lock(self.workspace):
            index = VectorIndex.load(self.workspace.index_dir)
            product, index = delete_product(self.workspace, self.catalogue, index, product_id)
            if product is not None:
                self._publish(index)
            return product

    def _publish(self, index: VectorIndex) -> None:
        # One reference assignment: a search in flight keeps the index object it started with.
        self.search.index = index
        self.version = VectorIndex.current_version(self.workspace.index_dir)
