"""`shelfsight index --engine ray`: embedding on a Ray cluster, written as Parquet shards.

Ray Data spreads the (key, image path) rows over a pool of actors; each actor loads the
embedder once (on a GPU where the cluster has them) and embeds batches with the same
decode and compiled network as the local engine, so both engines give the same vectors.
Results go to Parquet shards under ``shards`` - a shared filesystem path or an object-store
URL (``s3://...``, ``gs://...``) every node can reach; the index build reads them back
into the catalogue and builds the index on the driver. Image paths must be readable by
every node (a shared filesystem or the same mount everywhere).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shelfsight.core.errors import Skip
from shelfsight.indexer.embedders.batches import embed_in_chunks, load_batch

log = logging.getLogger(__name__)

RAY_BATCH = 64


class EmbedActor:
    """One per Ray actor: holds the embedder, embeds batches of rows."""

    def __init__(self, spec: str, home: str, batch_size: int) -> None:
        from shelfsight.indexer.embedders import load_embedder

        self.embedder = load_embedder(spec, Path(home))
        self.batch_size = batch_size

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys = [int(k) for k in rows["key"]]
        items = list(zip(keys, (str(p) for p in rows["path"]), strict=True))
        good, arrays, failed = load_batch(self.embedder, items)  # the local engine's loop
        vectors = np.zeros((len(keys), self.embedder.dim), dtype=np.float32)
        where = {key: i for i, key in enumerate(keys)}
        if good:
            done = embed_in_chunks(self.embedder, arrays, self.batch_size)
            vectors[[where[k] for k in good]] = done
        reasons = {key: skip.reason for key, skip in failed}
        errors = [reasons.get(k, "") for k in keys]
        return {
            "key": np.asarray(keys, dtype=np.int64),
            "vector": vectors,
            "error": np.asarray(errors, dtype=object),
            "path": np.asarray([str(p) for p in rows["path"]], dtype=object),
        }


@dataclass
class RayEmbedding:
    shards: str
    actors: int
    gpus_per_actor: float


@contextlib.contextmanager
def _env_default(name: str, value: str) -> Iterator[None]:
    """``name`` is ``value`` for the block where the environment does not say."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Connected to the cluster at ``address`` (a new local one if None) for the block,
    and disconnected after it unless the caller was connected already.

    Ray's driver prints the raylet's warnings ("8 PYTHON worker processes have been
    started...", seen on a loaded 2-core machine) to stdout from a thread of its own,
    whatever ``log_to_driver`` says; inside the block stdout is stderr, so a command's
    ``--json`` stays JSON.

    Ray Data's usage collection (2.60) starts a driver thread on the first execution that
    lives as long as the process: every 10 s it asks Prometheus (localhost:9090) for
    cluster counters and formats the failure's traceback. In a process that outlives the
    session (the library in a service, the test suite) a traceback formatted beside
    another thread's ``ast.parse`` tripped CPython 3.11's gh-106905 (a failed CI run).
    The session turns Ray Data's usage collection off unless ``RAY_DATA_USAGE_DISABLED``
    is set; Ray's own usage stats stay the user's choice."""
    import ray

    ours = not ray.is_initialized()
    with _env_default("RAY_DATA_USAGE_DISABLED", "1"), contextlib.redirect_stdout(sys.stderr):
        if ours:
            # Quiet: Ray's own progress bars and INFO logs would drown ours.
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        try:
            yield
        finally:
            if ours:
                ray.shutdown()  # its listener thread ends with the session


def embed_to_shards(
    spec: str,
    home: Path,
    items: Sequence[tuple[int, str]],
    shards: str,
    address: str | None = None,
    actors: int | None = None,
    batch_size: int = 8,
) -> RayEmbedding:
    """Embed ``items`` on the cluster (inside ``ray_session``) into ``shards``."""
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 1))
    # One actor per GPU; on CPUs, one per core but one left for Ray Data's own tasks.
    actors = actors or (gpus if gpus else max(1, cpus - 1))
    if not shards.startswith(("s3://", "gs://", "abfs://", "hdfs://")):
        shutil.rmtree(shards, ignore_errors=True)  # a previous run's shards are stale
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    rows = [{"key": int(k), "path": str(p)} for k, p in items]
    items_ds = ray.data.from_items(
        rows, override_num_blocks=max(1, min(len(rows) // RAY_BATCH, 1000))
    )
    ds = items_ds.map_batches(
        EmbedActor,
        fn_constructor_kwargs={"spec": spec, "home": str(home), "batch_size": batch_size},
        batch_size=RAY_BATCH,
        batch_format="numpy",
        concurrency=actors,
        num_gpus=1 if gpus else 0,
        num_cpus=1,
    )
    ds.write_parquet(shards)
    return RayEmbedding(shards, actors, 1.0 if gpus else 0.0)


def read_shards(shards: str) -> tuple[np.ndarray, np.ndarray, list[Skip]]:
    """(keys, vectors, failures) from the Parquet shards of ``embed_to_shards``."""
    import ray

    keys: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    failed: list[Skip] = []
    for batch in ray.data.read_parquet(shards).iter_batches(batch_format="numpy"):
        ok = np.array([not e for e in batch["error"]], dtype=bool)
        keys.append(batch["key"][ok])
        vectors.append(np.asarray(batch["vector"], dtype=np.float32)[ok])
        failed.extend(
            Skip(str(e), path=str(p))
            for p, e in zip(batch["path"], batch["error"], strict=True)
            if e
        )
    if not keys:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), failed
    return np.concatenate(keys), np.concatenate(vectors), failed
