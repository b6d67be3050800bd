"""IVF-PQ build time and recall with and without FAISS's polysemous training.

    python scripts/bench_ivfpq_build.py --n 100000

The index factory turns polysemous training on for ``PQ`` codes; Shelfsight never searches
with the Hamming pre-filter it trains for, and ``new_index`` turns it off. Same synthetic
clustered unit vectors (192-d, the hybrid's width), the plan ``index --index-type ivfpq``
uses, 200 of the vectors as queries against exact search.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from shelfsight.indexer.embedders import l2_normalise
from shelfsight.indexer.index_types import new_index, plan_index, train_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=192)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(300, args.dim))
    picks = centres[rng.integers(0, 300, args.n)]
    vectors = l2_normalise(picks + 0.5 * rng.normal(size=picks.shape)).astype("float32")
    queries = vectors[:200]
    exact = faiss.IndexFlatIP(args.dim)
    exact.add(vectors)
    truth = exact.search(queries, 10)[1]
    plan = plan_index("ivfpq", args.n, args.dim)
    print(f"{plan.factory}, trained on {plan.train_size:,} of {args.n:,}")
    for polysemous in (True, False):
        index = new_index(plan, args.dim)
        faiss.downcast_index(faiss.extract_index_ivf(index)).do_polysemous_training = polysemous
        t0 = time.perf_counter()
        index.train(train_sample(vectors, plan.train_size))
        index.add(vectors)
        build = time.perf_counter() - t0
        found = index.search(queries, 10)[1]
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
        print(f"polysemous training {polysemous!s:5}: build {build:6.1f} s, recall@10 {recall:.3f}")


if __name__ == "__main__":
    main()
