"""The palette's top colour against the catalogue's colour labels, per colour, on the same
photos in one run: ``before``, the foreground before issue 28 (every pixel near the
backdrop colour is backdrop); ``outline``, the backdrop stopped at the product's outline;
``named``, that palette's swatches named by a colour model (``Palette.named_by``) fitted
on ``--fit`` other labelled photos of the catalogue, as `index` fits it (pixels only: no
neighbours here); ``named_colours``, the same with a model of the regions' colours only
(before their texture was added, ``ColourModel.texture``):

    python scripts/bench_colour.py --catalog ../shared/data/fashion/styles.csv \
        --images ../shared/data/fashion/images --per-colour 100 [--json out.json]

For each of the catalogue's commonest colours, ``per-colour`` random photos: the share
whose palette's first swatch (in the catalogue's colour names) is the label, and the share
with the label among the first two. The colour *tag* (the colour model fused with the
neighbours) is measured by ``shelfsight eval tagging`` (its ``colour`` block).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from shelfsight.tagging.pixels import colour, foreground
from shelfsight.tagging.pixels.colour_model import (
    REGIONS,
    ColourModel,
    fit_colour_model,
    pixel_dim,
)

MODES = ("before", "outline", "named_colours", "named")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--colour-column", default="baseColour")
    ap.add_argument("--colours", type=int, default=12, help="The commonest N colours.")
    ap.add_argument("--per-colour", type=int, default=100)
    ap.add_argument("--fit", type=int, default=6000, help="Photos the colour model learns from.")
    ap.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="The foregrounds and namings to compare.",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with open(args.catalog, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (args.images / f"{r['id']}.jpg").is_file()]
    vocab = {r[args.colour_column] for r in rows if r[args.colour_column]}
    samples = colour_samples(rows, args.colour_column, args.colours, args.per_colour)
    common = list(samples)
    models = _fit(args, rows, {r["id"] for s in samples.values() for r in s})
    out: dict[str, dict[str, float]] = {}
    modes = args.modes
    totals = {mode: [0, 0] for mode in modes}
    n_all = 0
    for name in common:
        sample = samples[name]
        result: dict[str, float] = {"n": len(sample)}
        for mode in modes:
            foreground.OUTLINE = mode != "before"
            top1 = top2 = 0
            for r in sample:
                image = Image.open(args.images / f"{r['id']}.jpg").convert("RGB")
                pal = colour.palette(image)
                if mode in models:
                    pal = pal.named_by(models[mode])
                names = [s.name for s in pal.swatches if s.name in vocab]
                top1 += bool(names) and names[0] == name
                top2 += name in names[:2]
            result[f"{mode}_top1"] = round(top1 / len(sample), 3)
            result[f"{mode}_top2"] = round(top2 / len(sample), 3)
            totals[mode][0] += top1
            totals[mode][1] += top2
        n_all += len(sample)
        out[name] = result
        print(name, result, flush=True)
    foreground.OUTLINE = True
    summary = {
        mode: {"top1": round(t1 / n_all, 3), "top2": round(t2 / n_all, 3)}
        for mode, (t1, t2) in totals.items()
    }
    print("all", n_all, summary)
    if args.json:
        args.json.write_text(json.dumps({"per_colour": out, "all": summary, "n": n_all}))


def colour_samples(
    rows: list[dict[str, str]], column: str, colours: int, per_colour: int
) -> dict[str, list[dict[str, str]]]:
    """The commonest ``colours`` colours, commonest first, each with ``per_colour`` random
    rows labelled with it (seeded: the same draw every run, and in colour_ceiling.py)."""
    by_colour: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        if r[column]:
            by_colour[r[column]].append(r)
    common = sorted(by_colour, key=lambda c: -len(by_colour[c]))[:colours]
    rng = random.Random(0)
    return {c: rng.sample(by_colour[c], min(per_colour, len(by_colour[c]))) for c in common}


def _fit(
    args: argparse.Namespace, rows: list[dict[str, str]], held: set[str]
) -> dict[str, ColourModel]:
    """Colour models fitted on ``--fit`` labelled photos outside the benchmark's sample:
    ``named`` as `index` fits it, ``named_colours`` on the regions' colours only."""
    pool = [r for r in rows if r[args.colour_column] and r["id"] not in held]
    chosen = random.Random(1).sample(pool, min(args.fit, len(pool)))
    feats = []
    for r in chosen:
        image = Image.open(args.images / f"{r['id']}.jpg").convert("RGB")
        feats.append(colour.pixel_features(image))
    labels = [r[args.colour_column] for r in chosen]
    x = np.stack(feats)
    fitted = fit_colour_model(args.colour_column, x, labels, regions=REGIONS, texture=True)
    colours = x[:, : REGIONS * pixel_dim()]
    plain = fit_colour_model(args.colour_column, colours, labels, regions=REGIONS)
    if fitted is None or plain is None:
        raise SystemExit("too few colour labels to fit a colour model")
    print("colour models fitted on", len(chosen), "photos", flush=True)
    return {"named": fitted[0], "named_colours": plain[0]}


if __name__ == "__main__":
    main()
