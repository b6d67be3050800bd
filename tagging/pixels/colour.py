"""Dominant colours of the product (not the backdrop): K-Means in CIELAB.

The palette is a list of ``{name, hex, share}`` over the foreground, shares summing to 1,
named by the nearest reference shade (CIEDE2000), and, where the catalogue has a colour
model, renamed by it in the merchant's own words (``Palette.named_by``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, lab2rgb, rgb2lab
from sklearn.cluster import KMeans

from shelfsight.tagging.pixels.colour_model import (
    ColourModel,
    Pixels,
    PixelVote,
    Ranked,
    region_features,
    swatch_features,
)
from shelfsight.tagging.pixels.colour_names import nearest_names, rgb_to_hex
from shelfsight.tagging.pixels.foreground import Foreground, resized_rgb, segment, skin_mask

MAX_CLUSTERS = 5
MIN_SHARE = 0.05  # clusters covering less of the product are shading or noise
MERGE_DELTA = 8.0  # CIEDE2000 under which two clusters are the same colour to a shopper
SAMPLE = 4000
MAX_SKIN_SHARE = 0.3  # more skin-coloured foreground than this is the product itself


@dataclass
class Swatch:
    name: str
    hex: str
    share: float
    lab: tuple[float, float, float]
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    features: np.ndarray | None = None  # its own pixels, as the colour model reads them

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "hex": self.hex, "share": round(self.share, 4)}


@dataclass
class Palette:
    swatches: list[Swatch]
    foreground: str  # how the product was separated
    foreground_share: float
    skin_share: float = 0.0  # share of the foreground left out as skin
    features: np.ndarray | None = None  # what the catalogue's colour model reads

    def as_dict(self) -> dict[str, Any]:
        return {
            "palette": [s.as_dict() for s in self.swatches],
            "foreground": self.foreground,
            "foreground_share": round(self.foreground_share, 4),
            "skin_share": round(self.skin_share, 4),
        }

    def named_by(self, model: ColourModel, kind_vote: Ranked | None = None) -> Palette:
        """The swatches named in the catalogue's words: each by what the colour model says
        of its own pixels (with the neighbours' vote on the kind, as for the tag), swatches
        given one name merged. Named by the nearest reference shade, a white shirt's
        shaded white was "Silver" and a tan shoe "Copper": on 1,200 sample photos (100 of
        each of the 12 commonest colours) the top swatch was the catalogue's colour 0.30
        of the time, named by a model fitted on 3,000 other photos 0.51 (White 0.59 ->
        0.77, Brown 0.07 -> 0.67, Blue 0.31 -> 0.70; Maroon 0.21 -> 0.15, which the model
        calls Red; scripts/bench_colour.py, issue 28). A model that also reads the core
        (fitted on 6,000) names a swatch as its own core: White 0.79 -> 0.86, Navy Blue
        0.30 -> 0.25, all 0.509 -> 0.506."""
        merged: dict[str, list[Swatch]] = {}
        for s in self.swatches:
            if s.features is None:
                return self
            merged.setdefault(model.ranked(s.features, kind_vote)[0][0], []).append(s)
        swatches = []
        for name, members in merged.items():
            share = sum(s.share for s in members)
            lab = np.average([s.lab for s in members], axis=0, weights=[s.share for s in members])
            main = max(members, key=lambda s: s.share)
            hexv = rgb_to_hex(lab2rgb(lab[None, None])[0, 0] * 255)
            centre = (float(lab[0]), float(lab[1]), float(lab[2]))
            # alternatives stay the nearest reference shades of its main colour
            swatches.append(Swatch(name, hexv, share, centre, main.alternatives, main.features))
        swatches.sort(key=lambda s: -s.share)
        return replace(self, swatches=swatches)

    def name_scores(self) -> list[tuple[str, float]]:
        """Share of the product per colour name, best first (the pixel colour vote)."""
        acc: dict[str, float] = {}
        for s in self.swatches:
            acc[s.name] = acc.get(s.name, 0.0) + s.share
        return sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))


def _merge(centres: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedily merge clusters closer than MERGE_DELTA (count-weighted centres)."""
    cs, ns = list(centres), list(counts.astype(float))
    merged = True
    while merged and len(cs) > 1:
        merged = False
        best = None
        for i in range(len(cs)):
            for j in range(i + 1, len(cs)):
                d = float(deltaE_ciede2000(cs[i], cs[j]))
                if d < MERGE_DELTA and (best is None or d < best[0]):
                    best = (d, i, j)
        if best:
            _, i, j = best
            n = ns[i] + ns[j]
            cs[i] = (cs[i] * ns[i] + cs[j] * ns[j]) / n
            ns[i] = n
            del cs[j], ns[j]
            merged = True
    return np.array(cs), np.array(ns)


def _core(product: np.ndarray) -> np.ndarray:
    """The middle half of the product's extent, both ways (its 5th to 95th percentile
    rows and columns, so a stray strap does not stretch it): where a model shot's garment
    is, away from the hair, the shoes and the other half of the outfit."""
    ys, xs = np.nonzero(product)
    if len(ys) == 0:
        return product
    y0, y1 = np.percentile(ys, [5, 95])
    x0, x1 = np.percentile(xs, [5, 95])
    cy, cx, hy, hx = (y0 + y1) / 2, (x0 + x1) / 2, max((y1 - y0) / 4, 1), max((x1 - x0) / 4, 1)
    rows = np.abs(np.arange(product.shape[0]) - cy) <= hy
    cols = np.abs(np.arange(product.shape[1]) - cx) <= hx
    core = product & rows[:, None] & cols[None, :]
    return core if core.any() else product


def _gradient(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's L* change per pixel (Sobel, 3x3): the texture the colour model reads."""
    lightness = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 0]
    gx = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(np.hypot(gx, gy) / 8.0)  # the kernel spans 2 pixels, weights sum 4


def _sample(
    rgb: np.ndarray, gradient: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, Pixels]:
    """At most ``SAMPLE`` of the mask's pixels, as sRGB rows and ``Pixels``."""
    pixels, grads = rgb[mask].reshape(-1, 3), gradient[mask]
    if len(pixels) > SAMPLE:
        keep = rng.choice(len(pixels), SAMPLE, replace=False)
        pixels, grads = pixels[keep], grads[keep]
    lab = np.asarray(rgb2lab(pixels[None].astype(np.float64) / 255.0)[0])
    return pixels, Pixels(lab, grads)


def product_pixels(
    image: Image.Image, fg: Foreground | None = None, seed: int = 0
) -> tuple[np.ndarray, Pixels, float, Foreground, Pixels]:
    """A sample of the product's pixels (sRGB rows and ``Pixels``), skin left out (see
    below), the share of skin left out, the foreground they came from, and a sample of
    its core's pixels (``_core``)."""
    fg = fg or segment(image)
    rgb = resized_rgb(image, fg.mask)
    product = fg.mask
    # A model's face and arms are foreground too, and were named as a colour ("Nude 19 %").
    # Left out when they are a minority of it (scripts/bench_skin.py, 500 photos): skin
    # swatches on products that are not skin-coloured fell from 33 % of palettes to 11 %,
    # the top colour's accuracy held (0.312 -> 0.308); beige/nude/brown products keep
    # their colour in the top two a little less often (0.225 -> 0.195 of 200). 10-20 %
    # removed less skin for the same cost, 40 % cost those products more.
    skin = skin_mask(rgb) & product
    skin_share = float(skin.sum() / max(product.sum(), 1))
    if 0 < skin_share <= MAX_SKIN_SHARE:
        product = product & ~skin
    else:
        skin_share = 0.0
    if not product.any():
        product = np.ones(product.shape, bool)
    rng = np.random.default_rng(seed)
    gradient = _gradient(rgb)
    pixels, whole = _sample(rgb, gradient, product, rng)
    return pixels, whole, skin_share, fg, _sample(rgb, gradient, _core(product), rng)[1]


def pixel_features(image: Image.Image, fg: Foreground | None = None) -> np.ndarray:
    """The colour model's features of a photo (``colour_model.region_features``)."""
    _, whole, _, _, core = product_pixels(image, fg)
    return region_features(whole, core)


def palette(image: Image.Image, fg: Foreground | None = None, seed: int = 0) -> Palette:
    pixels, whole, skin_share, fg, core = product_pixels(image, fg, seed)
    features = region_features(whole, core)
    lab = whole.lab
    # Distinct colours counted as packed integers: np.unique(axis=0) sorts rows and took
    # 2 ms of a 28 ms /tag (profile of tag-batch).
    packed = pixels.astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.int32)
    k = int(min(MAX_CLUSTERS, len(np.unique(packed))))
    km = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(lab)
    counts = np.bincount(km.labels_, minlength=k)
    # The number of colours comes from the image: K clusters, merged where a shopper
    # would see one colour, then minor ones dropped.
    centres, counts = _merge(km.cluster_centers_, counts)
    shares = counts / counts.sum()
    keep = shares >= MIN_SHARE
    if not keep.any():
        keep = shares == shares.max()
    centres, shares = centres[keep], shares[keep] / shares[keep].sum()
    # Two shades with one name (light and dark grey) are one swatch to a shopper.
    by_name: dict[str, list[int]] = {}
    cands_of = nearest_names(centres, top=3)
    for i, cands in enumerate(cands_of):
        by_name.setdefault(cands[0][0], []).append(i)
    # Each pixel to its nearest kept colour: the swatch's own pixels, for the colour model.
    nearest = ((lab[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    swatches = []
    for name, idxs in by_name.items():
        share = float(shares[idxs].sum())
        c = (centres[idxs] * shares[idxs, None]).sum(0) / share
        main = idxs[int(np.argmax(shares[idxs]))]
        hexv = rgb_to_hex(lab2rgb(c[None, None])[0, 0] * 255)
        centre = (float(c[0]), float(c[1]), float(c[2]))
        # Named by its own pixels' colours and texture. With the whole product's texture
        # instead, White products' top swatch was right 0.89 of the time (own: 0.83),
        # but Blue 0.63 (0.73) and Brown 0.55 (0.65): a denim's or a leather's texture
        # is not its highlights' (scripts/bench_colour.py, issue 28).
        mine = np.isin(nearest, idxs)
        own = swatch_features(Pixels(lab[mine], whole.gradient[mine]))
        swatches.append(Swatch(name, hexv, share, centre, cands_of[main][1:], own))
    swatches.sort(key=lambda s: -s.share)
    return Palette(swatches, fg.method, fg.share, skin_share, features)


def colour_family(families: list[str], column: str | None) -> str | None:
    """The colour tag family: the column given (``--colour-column``, else the one ingest
    recorded, ``Catalogue.column("colour")``), if it is a tag family."""
    return column if column in families else None


def fuse_pixel_colour(
    scores: dict[str, list[tuple[str, float]]],
    family: str | None,
    pixel: PixelVote,
    weight: float,
    vocabulary: set[str] | None = None,
) -> dict[str, list[tuple[str, float]]]:
    """weight * pixel vote + (1 - weight) * neighbour vote, for the colour family only.

    A pixel vote that waits for the neighbours (``ColourModel.given``: the model also reads
    their vote on the product's kind) is asked here, with ``scores`` of every family.
    Pixel names outside the catalogue's colour vocabulary are dropped (they could never be
    right), so the fused tag always speaks the merchant's language.
    """
    if family is None or weight <= 0:
        return scores
    if callable(pixel):
        pixel = pixel(scores)
    if not pixel:
        return scores
    if vocabulary:
        pixel = [(n, s) for n, s in pixel if n in vocabulary]
        total = sum(s for _, s in pixel)
        pixel = [(n, s / total) for n, s in pixel] if total else []
    acc: dict[str, float] = {}
    for value, s in scores.get(family, []):
        acc[value] = acc.get(value, 0.0) + (1 - weight) * s
    for name, share in pixel:
        acc[name] = acc.get(name, 0.0) + weight * share
    out = dict(scores)
    if acc:
        out[family] = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))
    return out
