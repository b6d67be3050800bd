"""Out-of-domain detection: how many non-product images are flagged, and how many real
held-out catalogue photos are (falsely) flagged, in one run.

    python scripts/bench_ood.py [--model cnn|hybrid] [--holdout 0.1] [--seed 0]
        [--workdir DIR] [--json OUT.json]

Builds a workspace from the sample catalogue less a seeded held-out share (CNN index, or
the hybrid trained on those rows), which fits the calibration as `shelfsight index`
does. Then tags, through the served pipeline, (a) every held-out catalogue photo and
(b) a set of non-product images made here: line drawings, text pages, noise,
UI screenshots and scikit-image's sample photographs (people, animals, space, texture).
Reports the flagged share of each, per kind, with the nearest distances.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FASHION = ROOT.parent / "shared" / "data" / "fashion"
CLI = str(Path(sys.executable).parent / "shelfsight")
WORDS = [
    "order",
    "delivery",
    "return",
    "policy",
    "size",
    "guide",
    "cart",
    "checkout",
    "total",
    "price",
    "offer",
    "sale",
]


def drawings(rng: random.Random) -> list[Image.Image]:
    out = []
    for i in range(10):
        im = Image.new("RGB", (600, 800), "white")
        d = ImageDraw.Draw(im)
        if i % 2 == 0:  # a stick figure, shifted and scaled
            x, y, s = rng.randint(200, 400), rng.randint(100, 250), rng.uniform(0.7, 1.3)
            d.ellipse((x - 50 * s, y - 50 * s, x + 50 * s, y + 50 * s), outline="black", width=5)
            for a, b in (
                ((0, 50), (0, 300)),
                ((0, 120), (-100, 220)),
                ((0, 120), (100, 220)),
                ((0, 300), (-80, 500)),
                ((0, 300), (80, 500)),
            ):
                d.line(
                    (x + a[0] * s, y + a[1] * s, x + b[0] * s, y + b[1] * s), fill="black", width=5
                )
        else:  # coloured geometric shapes
            for _ in range(rng.randint(3, 8)):
                box = sorted(rng.sample(range(0, 600), 2)) + sorted(rng.sample(range(0, 800), 2))
                colour = tuple(rng.randint(0, 255) for _ in range(3))
                shape = d.ellipse if rng.random() < 0.5 else d.rectangle
                shape((box[0], box[2], box[1], box[3]), outline=colour, width=6)
        out.append(im)
    return out


def text_pages(rng: random.Random) -> list[Image.Image]:
    out = []
    for _ in range(8):
        im = Image.new("RGB", (600, 800), "white")
        d = ImageDraw.Draw(im)
        for y in range(30, 780, rng.choice([18, 24, 32])):
            d.text((30, y), " ".join(rng.choice(WORDS) for _ in range(12)), fill="black")
        out.append(im)
    return out


def noise(rng: random.Random) -> list[Image.Image]:
    g = np.random.default_rng(rng.randint(0, 1 << 30))
    out = []
    for i in range(6):
        if i < 2:
            arr = g.integers(0, 256, (800, 600, 3), dtype=np.uint8)
        elif i < 4:
            arr = np.clip(g.normal(128, 50, (800, 600, 3)), 0, 255).astype(np.uint8)
        else:  # smooth blobs: low-frequency noise
            small = g.integers(0, 256, (8, 6, 3), dtype=np.uint8)
            arr = np.asarray(Image.fromarray(small).resize((600, 800), Image.Resampling.BICUBIC))
        out.append(Image.fromarray(arr))
    return out


def screenshots(rng: random.Random) -> list[Image.Image]:
    out = []
    for _ in range(6):
        im = Image.new("RGB", (600, 800), (245, 245, 245))
        d = ImageDraw.Draw(im)
        bar = tuple(rng.randint(0, 200) for _ in range(3))
        d.rectangle((0, 0, 600, 64), fill=bar)
        d.text((20, 24), "Account  Orders  Settings", fill="white")
        for y in range(90, 780, 70):
            d.rectangle((24, y, 576, y + 52), fill="white", outline=(200, 200, 200))
            d.text((40, y + 18), " ".join(rng.choice(WORDS) for _ in range(5)), fill="black")
            d.rectangle((470, y + 12, 560, y + 40), fill=bar)
        out.append(im)
    return out


def sample_photos() -> list[tuple[str, Image.Image]]:
    from skimage import data

    out = []
    for name in (
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "camera",
        "horse",
        "page",
        "text",
        "checkerboard",
        "moon",
        "hubble_deep_field",
        "immunohistochemistry",
        "grass",
        "gravel",
        "brick",
        "coins",
        "clock",
        "cat",
        "colorwheel",
        "retina",
    ):
        try:
            arr = getattr(data, name)()
        except Exception:  # some samples need optional downloads (pooch): skip those
            continue
        arr = (arr * 255).astype(np.uint8) if arr.dtype == bool else arr
        if arr.dtype != np.uint8:
            arr = (255 * (arr - arr.min()) / max(1e-9, float(np.ptp(arr)))).astype(np.uint8)
        out.append((name, Image.fromarray(arr).convert("RGB")))
    return out


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="cnn", choices=["cnn", "hybrid"])
    ap.add_argument("--holdout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from shelfsight.indexer.images import decode_bytes
    from shelfsight.indexer.workspace import Workspace
    from shelfsight.tagging.neighbour_tags.pipeline import Pipeline, PipelineOptions
    from shelfsight.tagging.search.visual import NeighbourSearch

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ood-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "ws"
    with open(FASHION / "styles.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(args.seed)
    rng.shuffle(rows)
    n_held = round(len(rows) * args.holdout)
    held, kept = rows[:n_held], rows[n_held:]
    if not (home / "catalogue.db").exists():
        with open(work / "catalogue.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(kept)
        run = [
            CLI,
            "ingest",
            str(work / "catalogue.csv"),
            "--images",
            str(FASHION / "images"),
            "--home",
            str(home),
        ]
        subprocess.run(run, check=True, stdout=subprocess.DEVNULL)
        step = "train" if args.model == "hybrid" else "index"
        subprocess.run([CLI, step, "--home", str(home)], check=True)
    search = NeighbourSearch(Workspace.open(home, create=False))
    pipeline = Pipeline(search)
    opts = PipelineOptions(attributes=())
    cal = pipeline.calibration()
    assert cal is not None, "the workspace has no calibration"

    def flag(data: bytes) -> tuple[bool, float]:
        image = decode_bytes(data)
        m = pipeline.run(search.query_for_image(image), image, opts).match
        assert m is not None
        return m.out_of_domain, float(m.nearest_distance or 0.0)

    held_flags = []
    for r in held:
        path = FASHION / "images" / f"{r['id']}.jpg"
        try:
            held_flags.append(flag(path.read_bytes()))
        except Exception:  # unreadable sample photos are skipped, as ingest does
            continue
    kinds = {
        "drawing": drawings(rng),
        "text page": text_pages(rng),
        "noise": noise(rng),
        "screenshot": screenshots(rng),
        "sample photo": [im for _, im in sample_photos()],
    }
    result: dict[str, object] = {
        "model": search.index.model,
        "catalogue": search.catalogue.count(),
        "ood_distance": round(cal.ood_distance, 4),
        "held_out_photos": len(held_flags),
        "held_out_flagged": round(float(np.mean([f for f, _ in held_flags])), 4),
        "held_out_nearest_median": round(float(np.median([d for _, d in held_flags])), 4),
        "kinds": {},
    }
    all_flags = []
    for kind, images in kinds.items():
        flags = [flag(png(im)) for im in images]
        all_flags += [f for f, _ in flags]
        result["kinds"][kind] = {  # type: ignore[index]
            "n": len(flags),
            "flagged": round(float(np.mean([f for f, _ in flags])), 4),
            "nearest_min": round(min(d for _, d in flags), 4),
            "nearest_median": round(float(np.median([d for _, d in flags])), 4),
        }
    result["non_product_images"] = len(all_flags)
    result["non_product_flagged"] = round(float(np.mean(all_flags)), 4)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
