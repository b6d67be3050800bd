"""`shelfsight index`: embed what is not embedded yet, then rebuild the FAISS index."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shelfsight.core.errors import BadInput, Skip
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.embedders import Embedder
from shelfsight.indexer.embedders.batches import DEFAULT_BATCH, iter_embedded
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    model: str
    embedded: int = 0
    already_embedded: int = 0
    photos_embedded: int = 0  # products' other photos (second and later views)
    indexed: int = 0
    seconds: float = 0.0
    skipped: list[Skip] = field(default_factory=list)  # images that could not be read
    version: str | None = None
    index_type: str | None = None
    # The new index's tagging.neighbour_tags Calibration, fitted by the caller (a layer up)
    calibration: Any = None
    # Per family, the listing words' learned weight and held-out accuracies (text_fit).
    words: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["skipped"] = [s.as_dict() for s in self.skipped]
        out["calibration"] = self.calibration.summary() if self.calibration else None
        return out


def embed_pending(
    catalogue: Catalogue, embedder: Embedder, batch_size: int = DEFAULT_BATCH, progress: bool = True
) -> tuple[int, list[Skip]]:
    todo = catalogue.keys_needing_embedding(embedder.name)
    return _embed(todo, embedder, catalogue.put_embeddings, batch_size, progress)


def embed_pending_photos(
    catalogue: Catalogue, embedder: Embedder, batch_size: int = DEFAULT_BATCH, progress: bool = True
) -> tuple[int, list[Skip]]:
    """Products' other photos (the second and later views), under their photo ids."""
    todo = catalogue.photos_needing_embedding(embedder.name)
    return _embed(todo, embedder, catalogue.put_photo_embeddings, batch_size, progress)


def _embed(
    todo: list[tuple[int, str]],
    embedder: Embedder,
    put: Callable[[str, list[int], np.ndarray], None],
    batch_size: int,
    progress: bool,
) -> tuple[int, list[Skip]]:
    done = 0
    skipped: list[Skip] = []
    for keys, vectors, failed in iter_embedded(embedder, todo, batch_size, progress):
        if keys:
            # Committed batch by batch: an interrupted run resumes where it stopped.
            put(embedder.name, keys, vectors)
            done += len(keys)
        for key, skip in failed:
            log.info("not embedded key=%s path=%s reason=%r", key, skip.path, skip.reason)
            skipped.append(skip)
    return done, skipped


def rebuild_index(
    workspace: Workspace, catalogue: Catalogue, embedder: Embedder, index_type: str | None = None
) -> VectorIndex:
    """Build and publish a new index version; ``None`` keeps the live index's type choice."""
    keys, vectors = catalogue.load_embeddings(embedder.name)
    if len(keys) == 0:
        raise RuntimeError("nothing to index: the catalogue has no embedded products")
    photo_ids, photo_vectors = catalogue.load_photo_embeddings(embedder.name)
    if len(photo_ids):  # products' other photos, under ids that map back to them
        keys = np.concatenate([keys, photo_ids])
        vectors = np.concatenate([vectors, photo_vectors])
    if index_type is None:
        index_type = VectorIndex.requested_type(workspace.index_dir)
    index = VectorIndex.build(keys, vectors, embedder.name, embedder.spec, index_type)
    index.save(workspace.index_dir)
    return index


def embed_pending_on_ray(
    workspace: Workspace,
    catalogue: Catalogue,
    embedder: Embedder,
    engine: EngineOptions,
    batch_size: int = DEFAULT_BATCH,
) -> tuple[int, list[Skip]]:
    """The Ray engine's embed step: shards on the cluster, then into the catalogue here."""
    from shelfsight.indexer.ray_engine import embed_to_shards, ray_session, read_shards

    todo = catalogue.keys_needing_embedding(embedder.name)
    if not todo:
        return 0, []
    shards = engine.shards or str(workspace.shard_dir(embedder.name))
    with ray_session(engine.address):
        run = embed_to_shards(
            embedder.spec, workspace.home, todo, shards, engine.address, engine.actors, batch_size
        )
        log.info("ray embedded items=%d actors=%d shards=%s", len(todo), run.actors, shards)
        keys, vectors, failed = read_shards(shards)
    for start in range(0, len(keys), 1000):
        catalogue.put_embeddings(
            embedder.name, list(keys[start : start + 1000]), vectors[start : start + 1000]
        )
    return len(keys), failed


@dataclass
class EngineOptions:
    """Where the embedding runs: ``local`` (this process) or ``ray`` (a Ray cluster)."""

    name: str = "local"
    address: str | None = None  # ray: cluster address; None starts a local one
    shards: str | None = None  # ray: shard folder or object-store URL
    actors: int | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise BadInput(f"unknown engine {self.name!r}; choose one of {', '.join(ENGINES)}")
        if self.name == "ray" and importlib.util.find_spec("ray") is None:
            raise BadInput("the ray engine needs Ray: pip install 'ray[data]'")


def check_index_type(index_type: str | None) -> None:
    """Refuse an unknown index type before anything is embedded."""
    from shelfsight.indexer.index_types import INDEX_TYPES

    if index_type is not None and index_type not in INDEX_TYPES:
        raise BadInput(f"unknown index type {index_type!r}; choose {', '.join(INDEX_TYPES)}")


ENGINES = ("local", "ray")


def run_index(
    workspace: Workspace,
    catalogue: Catalogue,
    embedder: Embedder,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = True,
    index_type: str | None = None,
    engine: EngineOptions | None = None,
) -> IndexReport:
    t0 = time.perf_counter()
    report = IndexReport(model=embedder.name)
    total = catalogue.count()
    engine = engine or EngineOptions()
    if engine.name == "ray":
        report.embedded, report.skipped = embed_pending_on_ray(
            workspace, catalogue, embedder, engine, batch_size
        )

    else:
        report.embedded, report.skipped = embed_pending(catalogue, embedder, batch_size, progress)
    report.already_embedded = total - report.embedded - len(report.skipped)
    # Products' other photos: few beside the products, embedded here on either engine.
    report.photos_embedded, photo_skips = embed_pending_photos(
        catalogue, embedder, batch_size, progress
    )
    report.skipped += photo_skips
    index = rebuild_index(workspace, catalogue, embedder, index_type)
    report.indexed = len(index)
    report.index_type = index.index_type
    report.version = VectorIndex.current_version(workspace.index_dir)
    report.seconds = round(time.perf_counter() - t0, 2)
    return report
