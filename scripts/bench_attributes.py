"""Pixel attributes on real catalogue photos: time per image, and what the shape tags say.

    python scripts/bench_attributes.py --catalog ../shared/data/fashion/styles.csv \
        --images ../shared/data/fashion/images --limit 600 --ocr-limit 40 --json out.json

Prints the time per image of foreground separation, palette, shape and OCR, and a study of
the shape tags per article type (which outlines and proportions real products get).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image

from shelfsight.tagging.pixels.colour import palette
from shelfsight.tagging.pixels.foreground import segment
from shelfsight.tagging.pixels.ocr import read_text
from shelfsight.tagging.pixels.shape import describe_shape


def _top(counts: Counter[str], prefix: str) -> tuple[str, int]:
    return max(
        ((k.split("=")[1], v) for k, v in counts.items() if k.startswith(prefix)),
        key=lambda kv: kv[1],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--ocr-limit", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with open(args.catalog, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    random.Random(args.seed).shuffle(rows)
    rows = rows[: args.limit]
    timings: dict[str, list[float]] = defaultdict(list)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    methods: Counter[str] = Counter()
    for r in rows:
        img = Image.open(args.images / f"{r['id']}.jpg").convert("RGB")
        t0 = time.perf_counter()
        fg = segment(img)
        t1 = time.perf_counter()
        palette(img, fg)
        t2 = time.perf_counter()
        shape = describe_shape(fg.mask)
        t3 = time.perf_counter()
        timings["foreground"].append(t1 - t0)
        timings["palette"].append(t2 - t1)
        timings["shape"].append(t3 - t2)
        methods[fg.method] += 1
        for k, v in shape.tags.items():
            by_type[r["articleType"]][f"{k}={v}"] += 1
    read_text(Image.new("RGB", (64, 64), "white"))  # load the reader outside the timing
    for r in rows[: args.ocr_limit]:
        img = Image.open(args.images / f"{r['id']}.jpg").convert("RGB")
        t0 = time.perf_counter()
        read_text(img, timeout=None)
        timings["ocr"].append(time.perf_counter() - t0)

    summary = {
        k: {
            "n": len(v),
            "mean_ms": round(1000 * sum(v) / len(v), 1),
            "p95_ms": round(1000 * sorted(v)[int(0.95 * (len(v) - 1))], 1),
        }
        for k, v in timings.items()
    }
    print("| step | images | mean ms | p95 ms |\n|---|---|---|---|")
    for k, s in summary.items():
        print(f"| {k} | {s['n']} | {s['mean_ms']} | {s['p95_ms']} |")
    print(f"\nforeground method: {dict(methods)}")
    print("\n| articleType | n | outline | proportion | symmetric |\n|---|---|---|---|---|")
    common = sorted(by_type, key=lambda t: -sum(by_type[t].values()) / 3)[:15]
    study = {}
    for t in common:
        c = by_type[t]
        n = sum(v for k, v in c.items() if k.startswith("proportion="))
        if not n:
            continue
        o, p = _top(c, "outline="), _top(c, "proportion=")
        sym = c.get("symmetry=symmetric", 0) / n
        study[t] = {"n": n, "outline": o, "proportion": p, "symmetric": round(sym, 2)}
        print(f"| {t} | {n} | {o[0]} {o[1] / n:.0%} | {p[0]} {p[1] / n:.0%} | {sym:.0%} |")
    if args.json:
        args.json.write_text(
            json.dumps({"timings": summary, "methods": dict(methods), "study": study}, indent=2)
        )


if __name__ == "__main__":
    main()
