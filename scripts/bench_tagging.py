"""Tagging quality sweep: one holdout split, one embedding pass, every (k, power) scored.

    python scripts/bench_tagging.py --catalog ../shared/data/fashion/styles.csv \
        --images ../shared/data/fashion/images --ks 1,5,10,20 --powers 1,2,4 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from tagging.evaluate import evaluate_tagging, format_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--holdout-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ks", default="1,5,10,20")
    ap.add_argument("--powers", default="1")
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ks = [int(x) for x in args.ks.split(",")]
    powers = [float(x) for x in args.powers.split(",")]
    results = evaluate_tagging(
        args.catalog,
        args.images,
        holdout_fraction=args.holdout_fraction,
        seed=args.seed,
        ks=ks,
        powers=powers,
        model=args.model,
    )
    for r in results:
        print(f"\n## k={r['k']} power={r['power']}")
        print(format_table(r))
    if args.json:
        meta = {
            "machine": f"{platform.machine()} {platform.processor()}",
            "date": time.strftime("%F"),
        }
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
