"""Batch tagging against the single-photo loop, in one run on the same photos:

    python scripts/bench_tag_batch.py --home WS --images ../shared/data/fashion/images -n 1000

The loop calls ``Shelfsight.tag`` once per photo (what a script over ``/tag`` or
``shelfsight tag`` does, minus HTTP); the batch is ``Shelfsight.tag_batch`` (what
``shelfsight tag-batch`` and ``POST /tag/batch`` run). The model is loaded and warmed
before either is timed, the two alternate (loop, batch, loop, batch) so drift hits both,
and every photo's answer is compared: batching must not change a tag.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import shelfsight


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    files = sorted(args.images.glob("*.jpg"))[-args.n :]  # the last n: not a warm-up photo
    shelf = shelfsight.open(args.home)
    for f in sorted(args.images.glob("*.jpg"))[:16]:  # load and warm the model
        shelf.tag(f)
    list(shelf.tag_batch(sorted(args.images.glob("*.jpg"))[:16]))
    times: dict[str, list[float]] = {"loop": [], "batch": []}
    loop = batch = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        loop = [shelf.tag(f) for f in files]
        times["loop"].append(time.perf_counter() - t)
        t = time.perf_counter()
        batch = list(shelf.tag_batch(files))
        times["batch"].append(time.perf_counter() - t)
    same = sum(
        b.result is not None and a.as_dict() == b.result.as_dict()
        for a, b in zip(loop, batch, strict=True)
    )
    differ = []
    for f, a, b in zip(files, loop, batch, strict=True):
        if b.result is None or a.as_dict() != b.result.as_dict():
            got = b.result.as_dict() if b.result else {}
            keys = [k for k, v in a.as_dict().items() if got.get(k) != v]
            differ.append({"photo": f.name, "fields": keys})
    best = {k: min(v) for k, v in times.items()}
    out = {
        "photos": len(files),
        "loop_img_s": round(len(files) / best["loop"], 1),
        "batch_img_s": round(len(files) / best["batch"], 1),
        "speedup": round(best["loop"] / best["batch"], 2),
        "identical_answers": same,
        "different": differ[:5],
        "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
