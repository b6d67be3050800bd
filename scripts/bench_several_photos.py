"""What a product's second photo buys (issue 29): tagging and finding products with one
photo per product vs two, on a catalogue built by giving each sample product a second view.

    python scripts/bench_several_photos.py --catalog ../shared/data/fashion/styles.csv \
        --images ../shared/data/fashion/images --catalogue-size 2000 --queries 500 \
        --json bench-out/several_photos.json

No data set we can reach has several shots of one product, so each product gets a
re-shot of its own photo, made once with a seeded generator: a random crop keeping 65-85 %
of each side at a random offset, mirrored, turned up to 8 degrees either way on white,
brightness and saturation each scaled by 0.85-1.15. That is an easier second view than a
real back or detail shot (the same side of the same product) and a harder one than a
plain flip; read the gains as an upper bound for "another angle".

Two workspaces from the same rows: ``one`` (each product's photo) and ``two`` (the photo
and its re-shot, both indexed). New products (queries, none in either catalogue) are
tagged from their photo alone and from their photo + their own re-shot: four arms, the
plain CNN (no training), k=10, the neighbours' vote only (no pixel attributes). Finding:
for catalogue products, a third, fresh re-shot searched in each workspace: is the
product first (or in the first five)?
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

import shelfsight

FAMILIES = ("articleType", "subCategory", "masterCategory", "gender", "baseColour", "usage")


def reshoot(src: Path, dst: Path, rng: random.Random) -> Path:
    with Image.open(src) as opened:
        im = opened.convert("RGB")
    w, h = im.size
    s = rng.uniform(0.65, 0.85)
    cw, ch = max(1, int(w * s)), max(1, int(h * s))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = ImageOps.mirror(im.crop((x, y, x + cw, y + ch)))
    im = im.rotate(rng.uniform(-8, 8), Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.85, 1.15))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.85, 1.15))
    im.save(dst, quality=90)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--catalogue-size", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--finds", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    with open(args.catalog, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if (args.images / f"{r['id']}.jpg").is_file()]
    rng = random.Random(args.seed)
    rng.shuffle(rows)
    cat_rows = rows[: args.catalogue_size]
    query_rows = rows[args.catalogue_size : args.catalogue_size + args.queries]
    work = Path(tempfile.mkdtemp(prefix="bench-several-"))
    views = work / "views"
    views.mkdir()
    t0 = time.perf_counter()
    second = {
        r["id"]: reshoot(args.images / f"{r['id']}.jpg", views / f"{r['id']}-2.jpg", rng)
        for r in cat_rows + query_rows
    }
    third = {
        r["id"]: reshoot(args.images / f"{r['id']}.jpg", views / f"{r['id']}-3.jpg", rng)
        for r in cat_rows[: args.finds]
    }
    print(f"views made in {time.perf_counter() - t0:.1f}s", flush=True)

    shelves = {}
    for arm, with_views in (("one", False), ("two", True)):
        lines = []
        for r in cat_rows:
            first = str(args.images / f"{r['id']}.jpg")
            rec = {"id": r["id"], "title": r["productDisplayName"], "image": first}
            rec.update({f: r[f] for f in FAMILIES if r.get(f)})
            if with_views:
                rec["photos"] = [first, str(second[r["id"]])]
            lines.append(json.dumps(rec))
        (work / f"{arm}.jsonl").write_text("\n".join(lines) + "\n")
        shelf = shelfsight.open(work / f"ws-{arm}", create=True)
        report = shelf.ingest(
            work / f"{arm}.jsonl",
            columns=shelfsight.ColumnOptions(image_column="image", tag_columns=list(FAMILIES)),
        )
        t = time.perf_counter()
        index = shelf.index(model="cnn")
        print(
            f"{arm}: {report.added} products, {report.other_photos} other photos, "
            f"{index.embedded + index.photos_embedded} embedded in "
            f"{time.perf_counter() - t:.0f}s",
            flush=True,
        )
        shelves[arm] = shelf

    arms = {
        "catalogue 1 photo, new product 1 photo": ("one", False),
        "catalogue 2 photos, new product 1 photo": ("two", False),
        "catalogue 1 photo, new product 2 photos": ("one", True),
        "catalogue 2 photos, new product 2 photos": ("two", True),
    }
    tagging: dict[str, dict[str, float]] = {}
    for name, (ws, both) in arms.items():
        right = {f: [] for f in FAMILIES}
        for r in query_rows:
            first = str(args.images / f"{r['id']}.jpg")
            photo = [first, str(second[r["id"]])] if both else first
            result = shelves[ws].tag(photo, k=10, attributes="", alpha=0.0)
            for f in FAMILIES:
                if r.get(f):
                    right[f].append(result.tags.get(f) is not None and result.tags[f].value == r[f])
        tagging[name] = {f: round(float(np.mean(v)), 4) for f, v in right.items()}
        print(name, json.dumps(tagging[name]), flush=True)

    finding: dict[str, dict[str, float]] = {}
    for ws in ("one", "two"):
        top1, top5 = [], []
        for r in cat_rows[: args.finds]:
            found = [p.id for p in shelves[ws].similar(str(third[r["id"]]), k=5).results]
            top1.append(found[:1] == [r["id"]])
            top5.append(r["id"] in found)
        finding[ws] = {
            "top1": round(float(np.mean(top1)), 4),
            "top5": round(float(np.mean(top5)), 4),
        }
        print(f"find a fresh re-shot, catalogue {ws}:", finding[ws], flush=True)

    out = {
        "catalogue": len(cat_rows),
        "queries": len(query_rows),
        "finds": args.finds,
        "seed": args.seed,
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "tagging_accuracy": tagging,
        "finding": finding,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
