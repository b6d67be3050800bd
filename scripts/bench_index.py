"""Every FAISS index type side by side at N vectors: recall@10 against exact search,
queries per second, build time and bytes per vector.

    python scripts/bench_index.py --n 1000000 --home shelfsight-data --json bench-out/index-1m.json

Vectors: the workspace's real embeddings (the live index's model), and synthetic ones for
the rest - drawn from a Gaussian mixture fitted to the real vectors (scikit-learn, 64
diagonal components) and L2-normalised like real ones, so they share the dimension and
the clustered distribution. Queries are real vectors held out of the database. Queries go
one at a time on one thread, as the service issues them (``faiss.omp_set_num_threads(1)``);
each type is built and searched with the settings ``shelfsight index --index-type`` uses.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import faiss
import numpy as np
from sklearn.mixture import GaussianMixture
from tqdm import tqdm

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.embedders.base import l2_normalise
from shelfsight.indexer.index_types import INDEX_TYPES, apply_search_params, build_index, plan_index
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace

K = 10


def vectors_for(home: Path, n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    ws = Workspace.open(home, create=False)
    model = VectorIndex.load(ws.index_dir).model
    _, real = Catalogue(ws.db_path).load_embeddings(model)
    rng = np.random.default_rng(seed)
    real = real[rng.permutation(len(real))]
    q, base = real[:queries], real[queries:]
    synthetic = max(0, n - len(base))
    if synthetic:
        gm = GaussianMixture(64, covariance_type="diag", random_state=seed).fit(base)
        extra, _ = gm.sample(synthetic)
        extra = l2_normalise(extra.astype(np.float32))[rng.permutation(synthetic)]
        base = np.concatenate([base, extra])
    return (
        np.ascontiguousarray(base[:n], np.float32),
        np.ascontiguousarray(q, np.float32),
        min(n, len(real) - queries),
    )


def timed_search(index: faiss.Index, queries: np.ndarray) -> tuple[np.ndarray, float]:
    out = np.empty((len(queries), K), dtype=np.int64)
    t0 = time.perf_counter()
    for i in range(len(queries)):
        out[i] = index.search(queries[i : i + 1], K)[1][0]
    return out, len(queries) / (time.perf_counter() - t0)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def size_of(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--home", type=Path, default=Path("shelfsight-data"))
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--types", default="flat,hnsw,ivf,ivfpq")
    ap.add_argument("--sweep", action="store_true", help="also try other nprobe/efSearch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)  # the service's setting: one query, one thread

    t0 = time.perf_counter()
    base, queries, n_real = vectors_for(args.home, args.n, args.queries, args.seed)
    keys = np.arange(len(base), dtype=np.int64)
    print(
        f"{len(base)} vectors ({n_real} real), dim {base.shape[1]}, {time.perf_counter() - t0:.0f}s"
    )

    exact = faiss.IndexFlatIP(base.shape[1])
    exact.add(base)
    truth, exact_qps = timed_search(exact, queries)
    result = {
        "n": len(base),
        "n_real": n_real,
        "dim": int(base.shape[1]),
        "queries": len(queries),
        "machine": f"{platform.machine()} {faiss.omp_get_max_threads()} search thread",
        "exact": {"qps": round(exact_qps, 1)},
        "types": {},
    }
    print(f"exact: {exact_qps:.1f} qps")
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # builds use every core
    for kind in tqdm(args.types.split(","), desc="index types", unit="type"):
        if kind not in INDEX_TYPES or kind == "auto":
            raise SystemExit(f"unknown index type {kind!r}")
        plan = plan_index(kind, len(base), base.shape[1])
        t0 = time.perf_counter()
        index = build_index(plan, keys, base)
        build_s = time.perf_counter() - t0
        faiss.omp_set_num_threads(1)
        found, qps = timed_search(index, queries)
        entry = {
            "recall_at_10": round(recall(found, truth), 4),
            "qps": round(qps, 1),
            "speedup_vs_exact": round(qps / exact_qps, 2),
            "build_s": round(build_s, 1),
            "bytes_per_vector": round(size_of(index) / len(base), 1),
            "factory": plan.factory,
            "search": plan.search,
        }
        if args.sweep and plan.search:
            name = "nprobe" if "nprobe" in plan.search else "efSearch"
            sweep = []
            for scale in (0.25, 0.5, 2, 4):
                value = max(1, int(plan.search[name] * scale))
                apply_search_params(index, {name: value})
                f, q = timed_search(index, queries)
                sweep.append(
                    {name: value, "recall_at_10": round(recall(f, truth), 4), "qps": round(q, 1)}
                )
            apply_search_params(index, plan.search)
            entry["sweep"] = sweep
        result["types"][kind] = entry
        print(kind, json.dumps(entry))
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        del index
    print(json.dumps(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
