"""Which FAISS index to build for a catalogue of a given size, and its settings.

| type    | structure                          | memory / vector (192-d) | for                     |
| ------- | ---------------------------------- | ----------------------- | ----------------------- |
| flat    | exact inner product                | 776 B                   | up to 100k: exact       |
| hnsw    | graph (HNSW32) over the raw vectors| ~1 KB                   | low latency, no deletes |
| ivf     | k-means lists, raw vectors         | ~780 B                  | 100k - 20M              |
| ivfpq   | k-means lists, 4 dims per PQ byte  | dim/4 + 8 B (56 B)      | over 20M                |

``auto`` picks by size (``auto_type``). Settings follow the FAISS guidelines: about
4 * sqrt(n) lists, trained on at most 64 vectors per list; search breadth (nprobe, efSearch)
chosen so that recall@10 stays >= 0.95 on the benchmark (scripts/bench_index.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import faiss
import numpy as np

INDEX_TYPES = ("auto", "flat", "hnsw", "ivf", "ivfpq")
# Exact search answers a query in about n * dim multiply-adds; past this many vectors an
# approximate index is worth its small recall loss (measured: BENCHMARKS.md, index types).
AUTO_FLAT_MAX = 100_000
AUTO_IVF_MAX = 20_000_000
TRAIN_PER_LIST = 64
HNSW_M = 32


@dataclass(frozen=True)
class IndexPlan:
    kind: str
    factory: str
    search: dict[str, int] = field(default_factory=dict)
    train_size: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def auto_type(n: int) -> str:
    if n <= AUTO_FLAT_MAX:
        return "flat"
    return "ivf" if n <= AUTO_IVF_MAX else "ivfpq"


def lists_for(n: int) -> int:
    """About 4 sqrt(n) lists, a power of two, with >= 39 training vectors per list."""
    target = 4 * math.sqrt(max(n, 1))
    nlist = 2 ** max(0, round(math.log2(target)))
    while nlist > 1 and n < 39 * nlist:
        nlist //= 2
    return nlist


def pq_bytes(dim: int) -> int:
    """PQ code bytes: 4 dimensions per byte, rounded down to a divisor of ``dim``."""
    m = max(1, dim // 4)
    while dim % m:
        m -= 1
    return m


def plan_index(kind: str, n: int, dim: int) -> IndexPlan:
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_TYPES)}")
    if kind == "auto":
        kind = auto_type(n)
    if kind == "flat":
        return IndexPlan("flat", "IDMap2,Flat")
    if kind == "hnsw":
        # HNSW takes no ids of its own; IDMap2 maps its sequential ids to product keys.
        return IndexPlan(
            "hnsw", f"IDMap2,HNSW{HNSW_M},Flat", {"efConstruction": 80, "efSearch": 96}
        )
    nlist = lists_for(n)
    # Search breadth: 1/32 of the lists, at least 8: recall@10 0.984 at 100k (1/64: 0.944).
    nprobe = min(nlist, max(8, nlist // 32))
    train = min(n, TRAIN_PER_LIST * nlist)
    if kind == "ivf":
        return IndexPlan("ivf", f"IVF{nlist},Flat", {"nprobe": nprobe}, train)
    return IndexPlan("ivfpq", f"IVF{nlist},PQ{pq_bytes(dim)}x8", {"nprobe": nprobe}, train)


def new_index(plan: IndexPlan, dim: int) -> faiss.Index:
    index = faiss.index_factory(dim, plan.factory, faiss.METRIC_INNER_PRODUCT)
    if plan.kind == "hnsw":
        faiss.downcast_index(index.index).hnsw.efConstruction = plan.search["efConstruction"]
    if plan.kind == "ivfpq":
        # The factory turns on polysemous training, for a Hamming pre-filter this index
        # never searches with: 14.7 s of a 14.7 s build of 4,000 32-d vectors (0.7 s
        # without), and the codes are the same PQ codes.
        faiss.downcast_index(faiss.extract_index_ivf(index)).do_polysemous_training = False
    apply_search_params(index, plan.search)
    return index


def apply_search_params(index: faiss.Index, search: dict[str, int]) -> None:
    if "nprobe" in search:
        faiss.extract_index_ivf(index).nprobe = int(search["nprobe"])
    if "efSearch" in search:
        inner = index.index if isinstance(index, faiss.IndexIDMap2) else index
        faiss.downcast_index(inner).hnsw.efSearch = int(search["efSearch"])


def train_sample(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    if size >= len(vectors):
        return vectors
    pick = np.random.default_rng(seed).choice(len(vectors), size, replace=False)
    return vectors[np.sort(pick)]


def gpu_count() -> int:
    """GPUs FAISS can use: 0 with faiss-cpu, which has no GPU functions at all."""
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None else 0


def to_gpu(index: faiss.Index) -> faiss.Index:
    """A GPU copy of a flat or IVF index (faiss-gpu); the CPU index stays the one saved."""
    resources = faiss.StandardGpuResources()
    options = faiss.GpuClonerOptions()
    options.useFloat16 = True  # halves GPU memory; inner products accumulate in fp32
    return faiss.index_cpu_to_gpu(resources, 0, index, options)


def build_index(
    plan: IndexPlan, keys: np.ndarray, vectors: np.ndarray, use_gpu: bool | None = None
) -> faiss.Index:
    """Train (on a sample) and fill an index of ``plan``; k-means on the GPU when present."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    index = new_index(plan, vectors.shape[1])
    use_gpu = gpu_count() > 0 if use_gpu is None else use_gpu
    if not index.is_trained:
        sample = train_sample(vectors, plan.train_size or len(vectors))
        ivf = faiss.extract_index_ivf(index)
        if use_gpu:
            # Train the coarse quantiser's k-means on the GPU (the slow part of a build).
            clustering = faiss.Clustering(ivf.d, ivf.nlist)
            gpu_quantiser = to_gpu(faiss.IndexFlatIP(ivf.d))
            clustering.train(sample, gpu_quantiser)
            ivf.quantizer.add(faiss.vector_to_array(clustering.centroids).reshape(ivf.nlist, -1))
        index.train(sample)
    if len(vectors):
        index.add_with_ids(vectors, keys)
    return index
