"""FAISS index of L2-normalised vectors keyed by catalogue product keys (a product's other
photos under ids that map back to it, ``indexer.photo_ids``: a search answers products,
each once, at its closest photo).

Each build goes into its own version folder; ``CURRENT`` names the live one and is
replaced atomically, so a crash mid-build leaves the previous index serving.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from shelfsight.core.errors import NotIndexed
from shelfsight.indexer.disk_full import disk_full_as_error
from shelfsight.indexer.index_types import (
    apply_search_params,
    build_index,
    gpu_count,
    plan_index,
    to_gpu,
)
from shelfsight.indexer.photo_ids import positions, product_keys
from shelfsight.indexer.workspace import atomic_path, atomic_write_text

KEEP_VERSIONS = 2


class IndexMissing(NotIndexed, FileNotFoundError):
    pass


@dataclass
class SearchHits:
    keys: np.ndarray  # (nq, k) int64, -1 where fewer than k matched
    distances: np.ndarray  # (nq, k) float32 Euclidean distance between unit vectors


# A product removed from an index type that cannot delete (HNSW) keeps its graph node,
# with its id set to this; searches skip it.
TOMBSTONE = -2
LIVE = faiss.IDSelectorRange(0, 2**62)


class VectorIndex:
    def __init__(self, index: faiss.Index, manifest: dict[str, Any]) -> None:
        self.index = index
        self.manifest = manifest
        self._gpu: faiss.Index | None = None
        self._extras: dict[int, np.ndarray] | None = None  # key -> its other photos' ids

    @property
    def index_type(self) -> str:
        return str(self.manifest.get("index_type", "flat"))

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:  # vectors (photos), not products
        return int(self.index.ntotal) - int(self.manifest.get("tombstones", 0))

    @property
    def photos_per_product(self) -> int:
        """The most photos any one product has in the index (1 before several photos)."""
        return int(self.manifest.get("photos_per_product", 1))

    @classmethod
    def build(
        cls,
        keys: np.ndarray,
        vectors: np.ndarray,
        model: str,
        model_spec: str | None = None,
        index_type: str = "auto",
    ) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(keys) != len(vectors):
            raise ValueError("keys and vectors must align")
        # Inner product on unit vectors is cosine similarity.
        plan = plan_index(index_type, len(vectors), vectors.shape[1])
        t0 = time.perf_counter()
        index = build_index(plan, keys, vectors)
        manifest = {
            "model": model,
            "model_spec": model_spec or model,
            "dim": int(vectors.shape[1]),
            "count": len(vectors),
            "metric": "inner_product",
            "index_type": plan.kind,
            "photos_per_product": _most_photos(np.asarray(keys, dtype=np.int64)),
            "requested_type": index_type,
            "plan": plan.as_dict(),
            "build_s": round(time.perf_counter() - t0, 2),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        return cls(index, manifest)

    # -- writes (online) ------------------------------------------------------------------
    def remove(self, keys: np.ndarray) -> None:
        """Remove products (every photo of each) or single photo ids."""
        keys = np.ascontiguousarray(self._with_photos(keys), dtype=np.int64)
        self._gpu = None
        self._extras = None
        if self.index_type != "hnsw":
            self.index.remove_ids(faiss.IDSelectorBatch(keys))
            return
        ids = faiss.vector_to_array(self.index.id_map)
        dead = np.isin(ids, keys)
        if dead.any():
            ids[dead] = TOMBSTONE
            faiss.copy_array_to_vector(ids, self.index.id_map)
            self.manifest["tombstones"] = int((ids == TOMBSTONE).sum())

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add (or replace) vectors under ``keys``."""
        self.remove(keys)
        ids = np.ascontiguousarray(keys, np.int64)
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._extras = None
        self.manifest["count"] = len(self)
        if (positions(ids) > 0).any():
            most = max(self.photos_per_product, _most_photos(self._raw_ids()))
            self.manifest["photos_per_product"] = most

    def _extra_ids(self) -> dict[int, np.ndarray]:
        if self._extras is None:
            raw = self._raw_ids()
            extra = raw[positions(raw) > 0]
            owners = product_keys(extra)
            order = np.argsort(owners, kind="stable")
            owners, extra = owners[order], extra[order]
            starts: list[int] = (
                np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]).tolist()
                if len(owners)
                else []
            )
            ends = [*starts[1:], len(owners)]
            self._extras = {int(owners[a]): extra[a:b] for a, b in zip(starts, ends, strict=True)}
        return self._extras

    def _with_photos(self, keys: np.ndarray | None) -> np.ndarray:
        """Product keys and the ids of their other photos."""
        keys = np.asarray([] if keys is None else keys, dtype=np.int64)
        if self.photos_per_product <= 1 or not len(keys):
            return keys
        extras = self._extra_ids()
        more = [extras[k] for k in keys.tolist() if k in extras]
        return np.concatenate([keys, *more]) if more else keys

    def _searcher(self, params: faiss.SearchParameters | None) -> faiss.Index:
        """The GPU copy for plain searches where faiss-gpu sees a GPU; else the index."""
        if params is not None or self.index_type == "hnsw" or gpu_count() == 0:
            return self.index
        if self._gpu is None:
            self._gpu = to_gpu(self.index)
            apply_search_params(self._gpu, self.manifest.get("plan", {}).get("search", {}))
        return self._gpu

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> SearchHits:
        """k nearest products per query, each once at its closest photo; ``allowed``
        restricts to those products, ``exclude`` drops products."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        exclude = np.asarray([] if exclude is None else exclude, dtype=np.int64)
        photos = self.photos_per_product
        dropped = self._with_photos(exclude)
        selector = LIVE if self.manifest.get("tombstones") else None
        # k products need at most k x photos hits, each product bringing all its photos.
        fetch = k * photos
        if allowed is not None:
            allowed = np.setdiff1d(np.asarray(allowed, dtype=np.int64), exclude)
            if len(allowed) == 0:
                empty = np.full((len(q), k), -1, dtype=np.int64)
                return SearchHits(empty, np.full((len(q), k), np.inf, dtype=np.float32))
            selector = faiss.IDSelectorBatch(self._with_photos(allowed))
        elif len(exclude):
            fetch = (k + len(exclude)) * photos
        fetch = max(1, min(fetch, max(len(self), 1)))
        params = self._search_params(selector)
        sims, keys = self._searcher(params).search(q, fetch, params=params)
        if allowed is None and len(exclude):
            keep = ~np.isin(keys, dropped)
            sims = np.where(keep, sims, -np.inf)
            order = np.argsort(~keep, axis=1, kind="stable")
            keys = np.take_along_axis(np.where(keep, keys, -1), order, axis=1)
            sims = np.take_along_axis(sims, order, axis=1)
        if photos > 1:
            keys, sims = _closest_photo(product_keys(keys), sims)
        keys, sims = keys[:, :k], sims[:, :k]
        if keys.shape[1] < k:
            pad = k - keys.shape[1]
            keys = np.pad(keys, ((0, 0), (0, pad)), constant_values=-1)
            sims = np.pad(sims, ((0, 0), (0, pad)), constant_values=-np.inf)
        found = keys >= 0
        sims = np.where(found, sims, 0.0)
        dist = np.sqrt(np.clip(2.0 - 2.0 * sims, 0.0, None)).astype(np.float32)
        dist[~found] = np.inf
        return SearchHits(keys, dist)

    def _search_params(self, selector: faiss.IDSelector | None) -> faiss.SearchParameters | None:
        """Parameters carrying a selector; the index's own nprobe/efSearch stay in force."""
        if selector is None:
            return None
        search = self.manifest.get("plan", {}).get("search", {})
        if self.index_type in ("ivf", "ivfpq"):
            return faiss.SearchParametersIVF(sel=selector, nprobe=int(search["nprobe"]))
        if self.index_type == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=int(search["efSearch"]))
        return faiss.SearchParameters(sel=selector)

    # -- persistence -----------------------------------------------------------------------
    def ids(self) -> np.ndarray:
        """Every product key the index holds (tombstones left out), sorted, each once."""
        return np.unique(product_keys(self._raw_ids()))

    def _raw_ids(self) -> np.ndarray:
        """Every id in the index: product keys and other photos' ids (no tombstones)."""
        index = self.index
        if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
            ids = faiss.vector_to_array(index.id_map)
        else:
            ivf = faiss.extract_index_ivf(index)
            invlists = ivf.invlists
            parts = []
            for lst in range(ivf.nlist):
                n = invlists.list_size(lst)
                if n:
                    ptr = invlists.get_ids(lst)
                    parts.append(faiss.rev_swig_ptr(ptr, n).copy())
                    invlists.release_ids(lst, ptr)
            ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return np.sort(ids[ids >= 0].astype(np.int64))

    def save(self, index_dir: Path) -> Path:
        """Write a new version folder and make it live (``CURRENT``), or leave all as it was."""
        with disk_full_as_error(f"a new index version in {index_dir}"):
            index_dir.mkdir(parents=True, exist_ok=True)
            # A sequence number orders versions: a time stamp has one-second resolution,
            # and three writes in one second pruned the wrong "previous" version.
            seq = max((_sequence(v) for v in index_dir.glob("v-*")), default=0) + 1
            self.manifest["sequence"] = seq
            version = f"v-{seq:09d}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
            staging = index_dir / f".{version}.partial"
            staging.mkdir()
            try:
                with atomic_path(staging / "index.faiss") as tmp:
                    faiss.write_index(self.index, str(tmp))
                atomic_write_text(staging / "manifest.json", json.dumps(self.manifest, indent=2))
                staging.rename(index_dir / version)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            try:
                atomic_write_text(index_dir / "CURRENT", version + "\n")
            except BaseException:
                shutil.rmtree(index_dir / version, ignore_errors=True)
                raise
        _prune(index_dir, keep=version)
        return index_dir / version

    @staticmethod
    def restore(index_dir: Path, previous: str | None, failed: Path) -> None:
        """Make ``previous`` live again after a write whose catalogue side failed, and
        drop the version that write published (first, to free the space it took)."""
        shutil.rmtree(failed, ignore_errors=True)
        if previous is not None:
            atomic_write_text(index_dir / "CURRENT", previous + "\n")

    @classmethod
    def load(cls, index_dir: Path) -> VectorIndex:
        pointer = index_dir / "CURRENT"
        for attempt in range(5):
            if not pointer.is_file():
                raise IndexMissing(f"no index in {index_dir}; run `shelfsight index` first")
            folder = index_dir / pointer.read_text().strip()
            try:
                manifest = json.loads((folder / "manifest.json").read_text())
                index = faiss.read_index(str(folder / "index.faiss"))
                apply_search_params(index, manifest.get("plan", {}).get("search", {}))
                return cls(index, manifest)
            except (FileNotFoundError, RuntimeError):
                # Another process published a newer version and pruned this one between
                # reading CURRENT and opening it: read CURRENT again.
                if attempt == 4:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    @staticmethod
    def requested_type(index_dir: Path) -> str:
        """The --index-type the live index was built with (``auto`` when none)."""
        version = VectorIndex.current_version(index_dir)
        manifest = index_dir / (version or "-") / "manifest.json"
        if version is None or not manifest.is_file():
            return "auto"
        return str(json.loads(manifest.read_text()).get("requested_type", "auto"))

    @staticmethod
    def current_version(index_dir: Path) -> str | None:
        pointer = index_dir / "CURRENT"
        return pointer.read_text().strip() if pointer.is_file() else None


def _most_photos(ids: np.ndarray) -> int:
    owners = product_keys(ids[ids >= 0])
    return int(np.unique(owners, return_counts=True)[1].max()) if len(owners) else 1


def _closest_photo(keys: np.ndarray, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's hits with every product once, at its first (closest) photo; the rows
    padded with -1 where products repeated."""
    out_keys = np.full_like(keys, -1)
    out_sims = np.full_like(sims, -np.inf)
    for row in range(len(keys)):
        live = np.flatnonzero(keys[row] >= 0)
        _, first = np.unique(keys[row][live], return_index=True)
        take = live[np.sort(first)]
        out_keys[row, : len(take)] = keys[row][take]
        out_sims[row, : len(take)] = sims[row][take]
    return out_keys, out_sims


def _sequence(version: Path) -> int:
    """The version's sequence number; 0 for versions named before sequences existed
    (``v-YYYYMMDD-HHMMSS-xxxxxx``), which therefore sort first."""
    parts = version.name.split("-")
    return int(parts[1]) if len(parts) == 5 and parts[1].isdigit() else 0


def _prune(index_dir: Path, keep: str) -> None:
    versions = sorted(
        (p for p in index_dir.glob("v-*") if p.is_dir()), key=lambda p: (_sequence(p), p.name)
    )
    for old in [v for v in versions if v.name != keep][: -(KEEP_VERSIONS - 1) or None]:
        shutil.rmtree(old, ignore_errors=True)
    for partial in index_dir.glob(".v-*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
