"""Add and remove products one at a time, without re-embedding or rebuilding the index.

A write works on a copy of the live FAISS index, saves it as a new version (atomic
``CURRENT`` swap) and only then hands it back, so a search running meanwhile keeps using
the old index and the next one sees the new; a crash mid-write leaves the old version
serving. Writers (service workers, CLI commands) take the workspace's writer lock, so
two writes never interleave.

Catalogue and index are two stores, so one write has two commit points. The catalogue
transaction stays open while the new index version is published and commits last; if
anything fails (a full disk) the transaction rolls back and the previous index version
is made live again. Only a kill between the index swap and the COMMIT can leave them
apart, and in the harmless direction (index ids the catalogue lacks, which searches
skip); ``reconcile`` repairs that, and the service runs it at start-up.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from shelfsight.core.errors import Busy
from shelfsight.indexer import image_store
from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.indexer.embedders import Embedder, embed_images
from shelfsight.indexer.images import DecodedImage
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace

log = logging.getLogger(__name__)


class LockBusy(Busy, RuntimeError):
    """Another process holds the writer lock (only raised when not waiting for it)."""


@contextlib.contextmanager
def writer_lock(
    workspace: Workspace, wait: bool = True, timeout: float | None = None
) -> Iterator[None]:
    """An exclusive lock across processes (flock), held for one whole write.

    ``wait=False`` fails at once when another writer holds it; ``timeout`` waits at most
    that many seconds. Either way the failure is ``LockBusy`` and nothing was written: an
    HTTP client that gave up must not see its write land minutes later."""
    path = workspace.lock_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        if wait and timeout is None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        else:
            # flock has no timeout of its own: poll, quickly at first.
            deadline = time.monotonic() + ((timeout or 0.0) if wait else 0.0)
            pause = 0.01
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        waited = f" for {timeout:g} s" if wait and timeout else ""
                        raise LockBusy(
                            f"{path} is held by another writer{waited}; nothing was written, "
                            "try again"
                        ) from None
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, 0.25)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class WriteGate:
    """A workspace's writer lock for one process: its threads take turns (a thread lock),
    and the file lock covers other processes; both within one ``timeout`` (None: wait as
    long as it takes), else ``LockBusy``."""

    def __init__(self, workspace: Workspace, timeout: float | None = None) -> None:
        self.workspace = workspace
        self.timeout = timeout
        self._threads = threading.Lock()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        limit = self.timeout
        deadline = None if limit is None else time.monotonic() + limit
        if not self._threads.acquire(timeout=-1 if limit is None else limit):
            raise LockBusy(f"another write held {self.workspace.home} for {limit:g} s; try again")
        try:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with writer_lock(self.workspace, timeout=left):
                yield
        finally:
            self._threads.release()


def _copy(index: VectorIndex) -> VectorIndex:
    return VectorIndex(faiss.clone_index(index.index), dict(index.manifest))


def _save(workspace: Workspace, index: VectorIndex) -> VectorIndex:
    index.manifest["count"] = len(index)
    index.save(workspace.index_dir)
    return index


def _commit_with_index(
    workspace: Workspace, catalogue: Catalogue, write: Callable[[], VectorIndex]
) -> VectorIndex:
    """Run ``write`` (catalogue changes + publishing a new index version) so that either
    both land or neither does: the catalogue commits after the index swap, and a failed
    commit makes the previous index version live again."""
    previous = VectorIndex.current_version(workspace.index_dir)
    published: VectorIndex | None = None
    try:
        with catalogue.transaction():
            published = write()
    except BaseException:
        current = VectorIndex.current_version(workspace.index_dir)
        if published is not None and current != previous and current is not None:
            VectorIndex.restore(workspace.index_dir, previous, workspace.index_dir / current)
        raise
    return published


def add_products(
    workspace: Workspace,
    catalogue: Catalogue,
    index: VectorIndex,
    embedder: Embedder,
    records: Sequence[dict[str, Any]],
    images: Sequence[DecodedImage | None],
) -> VectorIndex:
    """Upsert ``records`` (with their ``key``), embed their images, return the new index.

    A record whose image is ``None`` keeps its stored vector (a merge that changed only
    the listing). Call under ``writer_lock``.
    """
    if not records:
        return index
    if embedder.name != index.model:
        raise RuntimeError(f"index was built with {index.model}, embedder is {embedder.name}")
    fresh = [i for i, im in enumerate(images) if im is not None]
    vectors = np.zeros((len(records), index.dim), dtype=np.float32)
    if fresh:
        vectors[fresh] = embed_images(embedder, [images[i].image for i in fresh])  # type: ignore[union-attr]
    keys = np.array([int(r["key"]) for r in records], dtype=np.int64)
    for i, key in enumerate(keys):
        if images[i] is None:
            stored = catalogue.embedding(index.model, int(key))
            if stored is None:
                raise RuntimeError(f"product key {key} has no stored vector and no new image")
            vectors[i] = stored

    def write() -> VectorIndex:
        catalogue.upsert_products(records)
        if fresh:
            catalogue.put_embeddings(embedder.name, list(keys[fresh]), vectors[fresh])
        catalogue.add_tag_families(f for r in records for f in r["tags"])
        new = _copy(index)
        new.add(keys, vectors)  # an update replaces the old vector (and drops its views)
        _add_other_photos(catalogue, new, keys.tolist())  # ...which come back as stored
        return _save(workspace, new)

    return _commit_with_index(workspace, catalogue, write)


def delete_product(
    workspace: Workspace, catalogue: Catalogue, index: VectorIndex, product_id: str
) -> tuple[Product | None, VectorIndex]:
    found: list[Product] = []

    def write() -> VectorIndex:
        product = catalogue.delete_product(product_id)
        if product is None:
            return index
        found.append(product)
        new = _copy(index)
        new.remove(np.array([product.key], dtype=np.int64))
        return _save(workspace, new)

    new = _commit_with_index(workspace, catalogue, write)
    return (found[0] if found else None), new


@dataclass
class Reconciled:
    removed: list[int]  # index ids with no catalogue product
    added: list[int]  # embedded products the index lacked

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.added)


def reconcile(
    workspace: Workspace, catalogue: Catalogue, index: VectorIndex
) -> tuple[VectorIndex, Reconciled]:
    """Make the index hold exactly the catalogue's embedded products: drop ids of
    products that are gone, add stored vectors of products it lacks. Call under
    ``writer_lock``; O(catalogue) reads, a new version only when something differs."""
    in_index = set(index.ids().tolist())
    report = Reconciled(
        removed=sorted(in_index - set(catalogue.keys_by_id().values())),
        added=sorted(set(catalogue.embedded_keys(index.model)) - in_index),
    )
    if not report.changed:
        return index, report
    new = _copy(index)
    if report.removed:
        new.remove(np.array(report.removed, dtype=np.int64))
    if report.added:
        stored = [catalogue.embedding(index.model, k) for k in report.added]
        vectors = np.stack([v for v in stored if v is not None])
        if len(vectors) != len(report.added):  # embedded_keys listed them a moment ago
            raise RuntimeError("a stored vector vanished while the index was reconciled")
        new.add(np.array(report.added, dtype=np.int64), vectors)
        _add_other_photos(catalogue, new, report.added)
    return _save(workspace, new), report


def _add_other_photos(catalogue: Catalogue, index: VectorIndex, keys: list[int]) -> None:
    """The stored vectors of these products' other views, into ``index``."""
    ids, vectors = catalogue.load_photo_embeddings(index.model, keys)
    if len(ids):
        index.add(ids, vectors)


def recover(workspace: Workspace, catalogue: Catalogue) -> tuple[Reconciled | None, int]:
    """Repair what a write killed between its index swap and its catalogue commit left
    (index ids of products that never committed), like a database replaying its log, and
    remove stored photos no product holds (a write killed after storing its photo).

    Skipped (``None``, 0) when there is no index yet or another process is writing: its
    write publishes a fresh index."""
    if VectorIndex.current_version(workspace.index_dir) is None:
        return None, 0
    try:
        with writer_lock(workspace, wait=False):
            index = VectorIndex.load(workspace.index_dir)
            _, report = reconcile(workspace, catalogue, index)
            swept = image_store.sweep(workspace, catalogue)
    except LockBusy:
        return None, 0
    if swept:
        log.info("removed %d stored photo files no product holds", swept)
    if report.changed:
        log.warning("recovered index: removed=%d added=%d", len(report.removed), len(report.added))
    return report, swept
