"""Skin left out of the palette, or not, on the same photos in one run:

    python scripts/bench_skin.py --catalog ../shared/data/fashion/styles.csv \
        --images ../shared/data/fashion/images --limit 500 --skin-limit 200

For each setting of ``tagging.pixels.colour.MAX_SKIN_SHARE`` (0 = skin kept, as before issue 16):
the share of photos whose palette's top catalogue colour is the product's ``baseColour``;
the share of palettes with a skin-named swatch (Nude, Skin) on products that are not
skin-coloured; and, on products that are (Beige, Nude, Skin, Peach, Tan, Cream, Khaki,
Brown, Mushroom Brown), the share with their colour in the palette's top two.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from PIL import Image

from shelfsight.tagging.pixels import colour

SKIN_NAMES = {"Nude", "Skin"}
SKIN_COLOURED = {
    "Beige",
    "Nude",
    "Skin",
    "Peach",
    "Tan",
    "Mushroom Brown",
    "Cream",
    "Khaki",
    "Brown",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--skin-limit", type=int, default=200)
    ap.add_argument("--shares", default="0,0.3,0.4")
    args = ap.parse_args()
    with open(args.catalog, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (args.images / f"{r['id']}.jpg").is_file()]
    vocab = {r["baseColour"] for r in rows}
    sample = random.Random(1).sample(rows, args.limit)
    skinlike = [r for r in rows if r["baseColour"] in SKIN_COLOURED]
    skinlike = random.Random(2).sample(skinlike, min(args.skin_limit, len(skinlike)))
    out = {}
    for share in (float(s) for s in args.shares.split(",")):
        colour.MAX_SKIN_SHARE = share
        top1 = skin_swatch = 0
        for r in sample:
            p = colour.palette(Image.open(args.images / f"{r['id']}.jpg").convert("RGB"))
            names = [s.name for s in p.swatches if s.name in vocab]
            top1 += bool(names) and names[0] == r["baseColour"]
            skin_swatch += r["baseColour"] not in SKIN_COLOURED and any(
                s.name in SKIN_NAMES for s in p.swatches
            )
        kept = 0
        for r in skinlike:
            p = colour.palette(Image.open(args.images / f"{r['id']}.jpg").convert("RGB"))
            kept += r["baseColour"] in [s.name for s in p.swatches if s.name in vocab][:2]
        out[str(share)] = {
            "top1_accuracy": round(top1 / len(sample), 3),
            "skin_swatch_share": round(skin_swatch / len(sample), 3),
            "skin_coloured_in_top2": round(kept / len(skinlike), 3),
        }
        print(share, out[str(share)], flush=True)
    print(
        json.dumps(
            {"photos": len(sample), "skin_coloured": len(skinlike), "by_max_skin_share": out}
        )
    )


if __name__ == "__main__":
    main()
