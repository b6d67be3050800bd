"""What the photos and the labels allow the colour tag and the palette (issue 28):

    python scripts/colour_ceiling.py --catalog ../shared/data/fashion/styles.csv \
        --images ../shared/data/fashion/images --since 2015 [--cache feats.npz] [--json out.json]

1. **Later products, photo alone.** The colour model's regression (``pixels.colour_model``:
   the whole product's and its core's colours and texture, ``C``; pixels only, without the
   neighbours' vote on the kind) trained three ways and scored on the products of
   ``--since`` and after: on up to ``COLOUR_SAMPLE`` earlier products (what `index` fits
   on a catalogue of the earlier years), on the later products' own labels (5-fold
   cross-validation: the house's later habits known), and on both. The second is what
   pixels can reach once the labels' habits are known; the first is what a catalogue
   of the earlier years can teach.
2. **Learning the colour model from decisions.** The later products replayed in year
   order, ``--batch`` at a time, the model refitted every second batch on the earlier
   sample plus every replayed product with its label, at weight 1, 3 and 10 (what a
   colour model refitted from the review inbox's decisions could gain), against the
   frozen model, over the second half of the stream.
3. **White products' largest colour.** For ``--per-colour`` random White-labelled photos
   (the sample `bench_colour.py` draws), the share whose palette's largest swatch is
   light and neutral (L* > 70, C* < 15), whatever it is named, and whose light-neutral
   swatches cover half the product: a bound for "the top swatch is White" that no naming
   of the same swatches can pass.
"""

from __future__ import annotations

import argparse
import csv
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from bench_colour import colour_samples  # this folder: run as scripts/colour_ceiling.py
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from shelfsight.tagging.neighbour_tags.colour_fit import COLOUR_SAMPLE
from shelfsight.tagging.pixels import colour
from shelfsight.tagging.pixels.colour_model import C

LIGHT_L, NEUTRAL_C = 70.0, 15.0


def _features(path: str) -> np.ndarray | None:
    try:
        with Image.open(path) as image:
            return colour.pixel_features(image.convert("RGB"))
    except OSError:
        return None


def _all_features(rows: list[dict[str, str]], images: Path, cache: Path | None) -> np.ndarray:
    ids = [r["id"] for r in rows]
    if cache and cache.is_file():
        stored = np.load(cache)
        if stored["ids"].tolist() == ids:
            return stored["x"]
    paths = [str(images / f"{i}.jpg") for i in ids]
    with ProcessPoolExecutor(2) as pool:
        found = list(pool.map(_features, paths, chunksize=64))
    dim = next(f.shape[0] for f in found if f is not None)
    x = np.stack([f if f is not None else np.full(dim, np.nan) for f in found])
    if cache:
        np.savez(cache, ids=np.array(ids), x=x)
    return x


def _fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=2000).fit(x, y, sample_weight=weight)


def later_products(x: np.ndarray, y: np.ndarray, old: np.ndarray, new: np.ndarray) -> dict:
    sample = np.random.default_rng(0).permutation(old)[:COLOUR_SAMPLE]
    out = {"earlier_photos": len(sample), "later_photos": len(new)}
    out["catalogue_trained"] = float((_fit(x[sample], y[sample]).predict(x[new]) == y[new]).mean())
    own, both = np.empty(len(new), object), np.empty(len(new), object)
    for train, test in KFold(5, shuffle=True, random_state=0).split(new):
        own[test] = _fit(x[new[train]], y[new[train]]).predict(x[new[test]])
        pooled = np.concatenate([sample, new[train]])
        both[test] = _fit(x[pooled], y[pooled]).predict(x[new[test]])
    out["own_labels_cv"] = float((own == y[new]).mean())
    out["earlier_and_own_cv"] = float((both == y[new]).mean())
    return out


def learning_stream(
    x: np.ndarray, y: np.ndarray, old: np.ndarray, stream: np.ndarray, batch: int
) -> dict:
    sample = np.random.default_rng(0).permutation(old)[:COLOUR_SAMPLE]
    frozen = _fit(x[sample], y[sample])
    batches = [stream[i : i + batch] for i in range(0, len(stream), batch)]
    half = len(batches) // 2
    right = {"frozen": 0}
    for b in batches[half:]:
        right["frozen"] += int((frozen.predict(x[b]) == y[b]).sum())
    for weight in (1.0, 3.0, 10.0):
        model, seen, hits = frozen, [], 0
        for n, b in enumerate(batches):
            if n >= half:
                hits += int((model.predict(x[b]) == y[b]).sum())
            seen.extend(b.tolist())
            if n % 2 == 1:
                rows = np.concatenate([sample, seen])
                w = np.concatenate([np.ones(len(sample)), np.full(len(seen), weight)])
                model = _fit(x[rows], y[rows], w)
        right[f"learning_w{weight:g}"] = hits
    scored = sum(len(b) for b in batches[half:])
    return {"second_half": scored, **{k: v / scored for k, v in right.items()}}


def white_bound(rows: list[dict[str, str]], images: Path, column: str, per_colour: int) -> dict:
    samples = colour_samples(rows, column, 12, per_colour)  # bench_colour.py's draw
    largest = half = 0
    for r in samples.get("White", []):
        with Image.open(images / f"{r['id']}.jpg") as image:
            pal = colour.palette(image.convert("RGB"))
        light = [s for s in pal.swatches if _light_neutral(s.lab)]
        largest += _light_neutral(pal.swatches[0].lab)
        half += sum(s.share for s in light) >= 0.5
    n = len(samples.get("White", []))
    return {"n": n, "largest_light_neutral": largest / max(n, 1), "half_light": half / max(n, 1)}


def _light_neutral(lab: tuple[float, float, float]) -> bool:
    return lab[0] > LIGHT_L and float(np.hypot(lab[1], lab[2])) < NEUTRAL_C


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--colour-column", default="baseColour")
    ap.add_argument("--time-column", default="year")
    ap.add_argument("--since", type=int, default=2015)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--per-colour", type=int, default=100)
    ap.add_argument("--cache", type=Path, help="Keep the photos' features here (.npz).")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with open(args.catalog, newline="", encoding="utf-8") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r.get(args.colour_column) and (args.images / f"{r['id']}.jpg").is_file()
        ]
    x = _all_features(rows, args.images, args.cache)
    ok = ~np.isnan(x).any(axis=1)
    y = np.array([r[args.colour_column] for r in rows])
    year = np.array([int(r.get(args.time_column) or 0) for r in rows])
    old = np.flatnonzero(ok & (year < args.since))
    new = np.flatnonzero(ok & (year >= args.since))
    stream = new[np.lexsort((new, year[new]))]  # year order, the file's within a year
    result = {
        "later_products": later_products(x, y, old, new),
        "learning_stream": learning_stream(x, y, old, stream, args.batch),
        "white_largest_swatch": white_bound(rows, args.images, args.colour_column, args.per_colour),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
