"""A pixel's nearest named shade: every distance to every shade (the code before, kept
here as the baseline) against the k-d tree `colour_model` uses, side by side in one run:

    python scripts/bench_shades.py --home WS --images ../shared/data/fashion/images \
        [--photos 60] [--index]

On ``--photos`` of the workspace's products: the features of a photo, `tag` with the
default attributes (p50, two rounds alternating), and with ``--index`` a whole `index` of
copies of the workspace (a warm-up run first; the photo caches cleared before each).
Checks the answers are the same: the features of every photo and every `tag`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import shelfsight
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.images import decode_file
from shelfsight.tagging.neighbour_tags import colour_fit
from shelfsight.tagging.pixels import colour_model
from shelfsight.tagging.pixels.colour import pixel_features

TREE = colour_model.colour_features


def all_distances(lab: np.ndarray) -> np.ndarray:
    """``colour_features`` as it was: each pixel's distance to each of the shades."""
    if len(lab) == 0:
        return TREE(lab)
    hist, _ = np.histogramdd(lab, bins=colour_model.BINS, range=colour_model.RANGE)
    tree, owner = colour_model._shades()
    nearest = ((lab[:, None, :] - tree.data[None]) ** 2).sum(-1).argmin(1)
    names = np.bincount(owner[nearest], minlength=len(colour_model.NAMED_COLOURS))
    return np.sqrt(np.concatenate([hist.ravel(), names]) / len(lab)).astype(np.float32)


VARIANTS = {"all distances": all_distances, "k-d tree": TREE}


def _use(name: str) -> None:
    colour_model.colour_features = VARIANTS[name]
    colour_fit._features.cache_clear()
    colour_fit._palette_names.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", required=True, help="an indexed workspace")
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--index", action="store_true", help="also time `index` on copies")
    args = ap.parse_args()
    shelf = shelfsight.open(args.home)
    catalogue = Catalogue(Path(args.home) / "catalogue.db")
    ids = sorted(catalogue.keys_by_id())[: args.photos]
    catalogue.close()
    photos = [args.images / f"{i}.jpg" for i in ids]
    images = [decode_file(p).image for p in photos]
    shelf.tag(photos[0])  # warm: the model, the index, the colour model
    feats, times, tags = {}, {n: [] for n in VARIANTS}, {}
    for name in VARIANTS:
        _use(name)
        t = time.perf_counter()
        feats[name] = np.stack([pixel_features(im) for im in images])
        print(f"{name}: features {1000 * (time.perf_counter() - t) / len(images):.1f} ms/photo")
    for _ in range(2):
        for name in VARIANTS:
            _use(name)
            tags[name] = []
            for p in photos:
                t = time.perf_counter()
                r = shelf.tag(p)
                times[name].append(time.perf_counter() - t)
                tags[name].append({f: (v.value, round(v.score, 6)) for f, v in r.tags.items()})
    for name, ts in times.items():
        print(f"{name}: tag p50 {1000 * np.median(ts):.1f} ms over {len(ts)}")
    a, b = VARIANTS
    print("same features:", bool(np.array_equal(feats[a], feats[b])))
    print("same tags:", tags[a] == tags[b])
    if args.index:
        took: dict[str, list[float]] = {n: [] for n in VARIANTS}
        with tempfile.TemporaryDirectory() as tmp:
            for n, name in enumerate(["k-d tree", *VARIANTS, *VARIANTS]):
                home = Path(tmp) / str(n)
                shutil.copytree(args.home, home)
                _use(name)
                t = time.perf_counter()
                shelfsight.open(home).index()
                if n:  # the first is the warm-up
                    took[name].append(time.perf_counter() - t)
        for name, ts in took.items():
            print(f"{name}: index {np.mean(ts):.1f} s (mean of {len(ts)})")


if __name__ == "__main__":
    main()
