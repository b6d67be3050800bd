"""What one service process holds: the workspace, the live index, the models, and how it
applies writes (under the workspace's writer lock) and notices other processes' writes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from indexer.catalogue import Catalogue, Product
from indexer.images import DecodedImage
from indexer.online import (
    LockBusy,
    add_products,
    delete_product,
    reconcile,
    stored_image_path,
    writer_lock,
)
from indexer.vector_index import VectorIndex
from indexer.workspace import Workspace, atomic_path
from tagging.neighbours import NeighbourSearch
from tagging.pipeline import Pipeline

MB = 1024 * 1024
T = TypeVar("T")
log = logging.getLogger(__name__)
WRITE_MODES = ("replace", "merge")
_OFF = ("0", "false", "off", "no")


@dataclass
class ServiceConfig:
    home: str | None = None
    api_key: str | None = None
    max_upload_bytes: int = 15 * MB
    max_pixels: int = 40_000_000
    slow_timeout: float = 30.0  # OCR and description generation
    # A client gets this long to send its whole request body; a slow-loris upload would
    # otherwise hold a connection (and its buffers) forever. 15 MB at 2 Mbit/s fits.
    body_timeout: float = 60.0
    similar_cache: int = 8192  # answers kept per worker; 0 turns the cache off
    describe_backend: str = "edit"
    describe_options: dict[str, Any] = field(default_factory=dict)
    # Descriptions on: the describer (and its model, if any) is prepared at start-up, in
    # the background, so the first /describe does not pay for it (20-46 s with a model).
    describe_enabled: bool = True

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
            body_timeout=float(env.get("SHELFSIGHT_BODY_TIMEOUT", 60.0)),
            similar_cache=int(env.get("SHELFSIGHT_SIMILAR_CACHE", 8192)),
            describe_backend=env.get("SHELFSIGHT_DESCRIBE_BACKEND", "edit"),
            describe_options=opts,
            describe_enabled=env.get("SHELFSIGHT_DESCRIBE", "1").lower()
            not in ("0", "false", "off"),
        )


class ServiceState:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.workspace = Workspace.open(config.home, create=False)
        self.catalogue = Catalogue(self.workspace.db_path)
        self._recover()
        self.search = NeighbourSearch(self.workspace, self.catalogue)
        self.pipeline = Pipeline(self.search)
        self.version = VectorIndex.current_version(self.workspace.index_dir)
        self._write = threading.Lock()
        self._describer: Any = None
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._describer_lock = threading.Lock()
        # off | loading | ready | failed, with the time it took or the error
        self.describer_state: dict[str, Any] = {
            "state": "off" if not config.describe_enabled else "idle"
        }

    def _recover(self) -> None:
        """Repair what a write killed between its index swap and its catalogue commit left
        (index ids of products that never committed), like a database replaying its log.
        Skipped when another process is writing: its write publishes a fresh index."""
        try:
            with writer_lock(self.workspace, wait=False):
                index = VectorIndex.load(self.workspace.index_dir)
                _, report = reconcile(self.workspace, self.catalogue, index)
        except LockBusy:
            return
        if report.changed:
            log.warning(
                "recovered index: removed=%d added=%d", len(report.removed), len(report.added)
            )

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
        """The catalogue describer, prepared (vocabulary, lexicon, model) on first use."""
        from tagging.describe.backends import BackendError, load_backend
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
            describer = self._describer
        if self.describer_state["state"] != "ready":
            started = time.perf_counter()
            self.describer_state = {"state": "loading", "backend": describer.describer.label}
            try:
                describer.prepare()
            except BackendError as exc:
                self.describer_state = {
                    **self.describer_state,
                    "state": "failed",
                    "error": str(exc),
                }
                raise
            self.describer_state = {
                **self.describer_state,
                "state": "ready",
                "seconds": round(time.perf_counter() - started, 2),
            }
        return describer

    def warm_describer(self) -> None:
        """Prepare the describer now (start-up, in a background thread)."""
        if not self.config.describe_enabled:
            return
        try:
            self.describer()
        except Exception as exc:  # reported by /describe/status and on the next /describe
            log.warning("describer not ready: %s", exc)

    # -- writes -------------------------------------------------------------------------
    def add(
        self,
        listings: list[dict[str, Any]],
        images: list[tuple[DecodedImage, bytes] | None],
        mode: str = "replace",
    ) -> list[dict[str, Any]]:
        """Store images, upsert listings, embed and add them to the index; one result each.

        ``replace`` (default): a listing is the product's whole record, and fields it does
        not repeat are dropped. ``merge``: given fields overwrite, others (and the image,
        when none is sent) are kept.
        """
        if mode not in WRITE_MODES:
            raise ValueError(f"mode must be one of {', '.join(WRITE_MODES)}")
        with self._write, writer_lock(self.workspace):
            index = VectorIndex.load(self.workspace.index_dir)  # the newest, whoever wrote it
            records, results = [], []
            existing = self.catalogue.keys_by_id(str(item["id"]) for item in listings)
            current = self.catalogue.by_keys(existing.values())
            next_key = self.catalogue.next_key()
            for item, upload in zip(listings, images, strict=True):
                pid = str(item["id"])
                key = existing.get(pid)
                old = current.get(key) if key is not None else None
                if key is None:
                    key, next_key = next_key, next_key + 1
                record: dict[str, Any] = {"key": key, "id": pid}
                if mode == "merge" and old is not None:
                    record["title"] = item.get("title", old.title)
                    record["tags"] = {**old.tags, **item.get("tags", {})}
                    record["fields"] = {**old.fields, **item.get("fields", {})}
                else:
                    record["title"] = item.get("title", "")
                    record["tags"] = item.get("tags", {})
                    record["fields"] = item.get("fields", {})
                if upload is not None:
                    image, data = upload
                    path = stored_image_path(self.workspace, image.sha256, image.format)
                    if not path.exists():
                        with atomic_path(path) as tmp:
                            tmp.write_bytes(data)
                    record.update(
                        image_path=str(path),
                        image_sha256=image.sha256,
                        width=image.width,
                        height=image.height,
                    )
                elif old is None:
                    raise ValueError(f"{pid!r} is a new product and needs an image")
                records.append(record)
                results.append({"id": pid, "status": "updated" if old else "added"})
            index = add_products(
                self.workspace,
                self.catalogue,
                index,
                self.search.embedder,
                records,
                [u[0] if u is not None else None for u in images],
            )
            self._publish(index)
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
