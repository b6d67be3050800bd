"""Tagging quality, side by side: every model on one holdout split, every (k, p, alpha) scored.

    python scripts/bench_tagging.py --catalog ../shared/data/fashion/styles.csv \
        --images ../shared/data/fashion/images --models cnn,hybrid --ks 10 --powers 4 \
        --alphas 0,0.5,1 --json out.json

Each model embeds the queries once; ``hybrid`` trains on the catalogue rows only (its
training and feature-caching time is reported). The last table compares every model with
the first one, family by family, at the first (k, p) and each model's best alpha.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from shelfsight.tagging.evaluation.report import format_table
from shelfsight.tagging.evaluation.tagging import TaggingEvalOptions, evaluate_tagging


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--holdout-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="cnn")
    ap.add_argument("--ks", default="1,5,10,20")
    ap.add_argument("--powers", default="4")
    ap.add_argument("--alphas", default="0,0.5,1")
    ap.add_argument("--pixel-weights", default="0,0.3,1")
    ap.add_argument("--feature-cache", type=Path, help="reuse CNN maps (skews timing)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ks = [int(x) for x in args.ks.split(",")]
    all_results = []
    for model in args.models.split(","):
        options = TaggingEvalOptions(
            holdout_fraction=args.holdout_fraction,
            seed=args.seed,
            ks=ks,
            powers=_floats(args.powers),
            alphas=_floats(args.alphas),
            pixel_weights=_floats(args.pixel_weights),
            model=model,
            feature_cache=args.feature_cache,
        )
        results = evaluate_tagging(args.catalog, args.images, options)
        for r in results:
            print(
                f"\n## {model} k={r['k']} p={r['power']} alpha={r['alpha']} "
                f"pixel={r['pixel_weight']}"
            )
            print(format_table(r))
            if "train" in r:
                print("train:", json.dumps(r["train"]))
        all_results.extend({"model_spec": model, **r} for r in results)

    base_k, base_p = ks[0], _floats(args.powers)[0]
    best = {}
    for r in all_results:
        if r["k"] == base_k and r["power"] == base_p:
            cur = best.get(r["model_spec"])
            if cur is None or r["micro"]["f1"] > cur["micro"]["f1"]:
                best[r["model_spec"]] = r
    rows = list(best.values())
    fams = list(rows[0]["attributes"])
    print(f"\n## side by side (k={base_k}, p={base_p}, best alpha per model)")
    print("| model | alpha | " + " | ".join(fams) + " | micro F1 |")
    print("|---|---|" + "---|" * (len(fams) + 1))
    for r in rows:
        accs = " | ".join(f"{r['attributes'][f]['accuracy']:.3f}" for f in fams)
        print(f"| {r['model_spec']} | {r['alpha']} | {accs} | {r['micro']['f1']:.3f} |")
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            ratio = " | ".join(
                f"{r['attributes'][f]['accuracy'] / base['attributes'][f]['accuracy']:.3f}"
                for f in fams
            )
            print(
                f"| {r['model_spec']} / {base['model_spec']} | | {ratio} | "
                f"{r['micro']['f1'] / base['micro']['f1']:.3f} |"
            )
    if args.json:
        meta = {
            "machine": f"{platform.machine()} {platform.processor()}",
            "date": time.strftime("%F"),
            "args": {k: str(v) for k, v in vars(args).items()},
        }
        args.json.write_text(json.dumps({"meta": meta, "results": all_results}, indent=2))


if __name__ == "__main__":
    main()
