"""Frozen-CNN feature maps (``embedders.trunk`` says what a map holds), computed once per
image and cached by content hash: training reads them for every epoch.

Entries are keyed by the image's SHA-256, so a re-ingested or renamed image reuses its map
and a changed image gets a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shelfsight.core.errors import BadInput
from shelfsight.indexer.embedders.batches import iter_embedded
from shelfsight.indexer.embedders.trunk import CnnTrunk


class FeatureCache:
    """SQLite blob store: sha256 -> float16 feature map of one image."""

    def __init__(self, path: Path, trunk: CnnTrunk) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.trunk = trunk
        self.conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self.conn.execute("pragma journal_mode=wal")
        self.conn.execute(
            "create table if not exists maps (sha256 text primary key, shape text, data blob)"
        )
        # Entries are keyed by image hash only, so one file must hold one trunk's maps: a
        # cache passed by path (`--feature-cache`) to a run with another CNN is refused.
        with self.conn:
            self.conn.execute("create table if not exists meta (key text primary key, value text)")
            self.conn.execute("insert or ignore into meta values ('layout', ?)", (trunk.layout,))
        (layout,) = self.conn.execute("select value from meta where key = 'layout'").fetchone()
        if layout != trunk.layout:
            self.conn.close()
            raise BadInput(
                f"{path}: feature cache of {layout}, this run needs {trunk.layout}; "
                "give another --feature-cache file"
            )

    def close(self) -> None:
        self.conn.close()

    def _missing(self, shas: Sequence[str]) -> set[str]:
        have: set[str] = set()
        uniq = list(dict.fromkeys(shas))
        for i in range(0, len(uniq), 500):
            chunk = uniq[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(f"select sha256 from maps where sha256 in ({marks})", chunk)
            have.update(r[0] for r in rows)
        return set(uniq) - have

    def ensure(
        self, items: Sequence[tuple[str, str]], batch_size: int = 8, progress: bool = True
    ) -> list[tuple[str, str, str]]:
        """Compute and store maps for (sha256, path) items not cached yet.

        Returns (sha256, path, reason) for images that could not be read.
        """
        missing = self._missing([s for s, _ in items])
        todo = [(s, p) for s, p in dict(items).items() if s in missing]
        failed: list[tuple[str, str, str]] = []
        if not todo:
            return failed
        index_of = {i: sha for i, (sha, _) in enumerate(todo)}
        adapter = _TrunkAsEmbedder(self.trunk)
        for keys, maps, bad in iter_embedded(
            adapter,
            [(i, p) for i, (_, p) in enumerate(todo)],
            batch_size=batch_size,
            progress=progress,
            desc="cnn features",
        ):
            rows = [
                (index_of[k], ",".join(map(str, m.shape)), m.astype(np.float16).tobytes())
                for k, m in zip(keys, maps, strict=True)
            ]
            with self.conn:
                self.conn.executemany("insert or replace into maps values (?, ?, ?)", rows)
            failed.extend((index_of[key], skip.path or "", skip.reason) for key, skip in bad)
        return failed

    def load(self, shas: Sequence[str]) -> np.ndarray:
        """float16 array (N, C, H, W) in the order of ``shas``; every sha must be cached."""
        out: list[np.ndarray | None] = [None] * len(shas)
        pos: dict[str, list[int]] = {}
        for i, s in enumerate(shas):
            pos.setdefault(s, []).append(i)
        uniq = list(pos)
        for i in range(0, len(uniq), 500):
            chunk = uniq[i : i + 500]
            marks = ",".join("?" * len(chunk))
            q = f"select sha256, shape, data from maps where sha256 in ({marks})"
            for sha, shape, data in self.conn.execute(q, chunk):
                arr = np.frombuffer(data, dtype=np.float16).reshape(
                    tuple(int(x) for x in shape.split(","))
                )
                for j in pos[sha]:
                    out[j] = arr
        missing = [shas[i] for i, a in enumerate(out) if a is None]
        if missing:
            raise KeyError(f"{len(missing)} feature maps not cached (first: {missing[0]})")
        return np.stack(out)  # type: ignore[arg-type]


class _TrunkAsEmbedder:
    """Lets ``iter_embedded`` drive the trunk: same decode overlap, maps instead of vectors."""

    def __init__(self, trunk: CnnTrunk) -> None:
        self.trunk = trunk
        self.name = f"trunk-{trunk.arch}"
        self.spec = self.name
        self.dim = trunk.channels

    def preprocess(self, image) -> np.ndarray:
        return self.trunk.preprocess(image)

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        return self.trunk(batch)
