"""End-to-end embedding throughput: decode + resize + model, images/s.

python scripts/bench_embed.py --images ../shared/data/fashion/images --limit 1000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from indexer.build import iter_embedded
from indexer.embedders import load_embedder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    paths = sorted(args.images.glob("*.jpg"))[: args.limit]
    items = [(i, str(p)) for i, p in enumerate(paths)]
    embedder = load_embedder(args.model)
    list(iter_embedded(embedder, items[:16], args.batch_size, progress=False))  # warm-up
    t0 = time.perf_counter()
    n = sum(len(k) for k, _, _ in iter_embedded(embedder, items, args.batch_size, progress=True))
    dt = time.perf_counter() - t0
    result = {
        "n": n,
        "model": embedder.name,
        "seconds": round(dt, 2),
        "images_per_s": round(n / dt, 1),
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
