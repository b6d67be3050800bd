"""Add and remove products one at a time, without re-embedding or rebuilding the index.

A write works on a copy of the live FAISS index, saves it as a new version (atomic
``CURRENT`` swap) and only then hands it back, so a search running meanwhile keeps using
the old index and the next one sees the new; a crash mid-write leaves the old version
serving. Writers (service workers, CLI commands) take the workspace's writer lock, so
two writes never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from indexer.catalogue import Catalogue, Product
from indexer.embedders import Embedder, embed_images
from indexer.images import DecodedImage
from indexer.vector_index import VectorIndex
from indexer.workspace import Workspace


@contextlib.contextmanager
def writer_lock(workspace: Workspace) -> Iterator[None]:
    """An exclusive lock across processes (flock), held for one whole write."""
    path = workspace.home / ".writer.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _copy(index: VectorIndex) -> VectorIndex:
    return VectorIndex(faiss.clone_index(index.index), dict(index.manifest))


def _save(workspace: Workspace, index: VectorIndex) -> VectorIndex:
    index.manifest["count"] = len(index)
    index.save(workspace.index_dir)
    return index


def add_products(
    workspace: Workspace,
    catalogue: Catalogue,
    index: VectorIndex,
    embedder: Embedder,
    records: Sequence[dict[str, Any]],
    images: Sequence[DecodedImage],
) -> VectorIndex:
    """Upsert ``records`` (with their ``key``), embed their images, return the new index.

    Call under ``writer_lock``. The catalogue rows and vectors are committed before the
    index version that contains them, so a crash in between is repaired by
    ``shelfsight index`` (which embeds nothing new, only rebuilds).
    """
    if not records:
        return index
    if embedder.name != index.model:
        raise RuntimeError(f"index was built with {index.model}, embedder is {embedder.name}")
    vectors = embed_images(embedder, [im.image for im in images])
    keys = np.array([int(r["key"]) for r in records], dtype=np.int64)
    catalogue.upsert_products(records)
    catalogue.put_embeddings(embedder.name, list(keys), vectors)
    new = _copy(index)
    new.add(keys, vectors)  # an update replaces the old vector
    return _save(workspace, new)


def delete_product(
    workspace: Workspace, catalogue: Catalogue, index: VectorIndex, product_id: str
) -> tuple[Product | None, VectorIndex]:
    product = catalogue.delete_product(product_id)
    if product is None:
        return None, index
    new = _copy(index)
    new.remove(np.array([product.key], dtype=np.int64))
    return product, _save(workspace, new)


def stored_image_path(workspace: Workspace, sha256: str, fmt: str | None) -> Path:
    """Where an uploaded image lives: named by its hash, never by anything the client sent."""
    ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}.get(fmt or "", ".img")
    return workspace.home / "images" / sha256[:2] / f"{sha256}{ext}"
