"""Re-render query photos the way other shoots and phones would, for
`shelfsight eval tagging --query-transform`.

The sample's photos are one studio's: centred product, white backdrop, one framing. A
merchant's new photos are not always. Each transform changes the pixels in one named
way; a spec chains them with commas and applies them in order:

    aspect:3x4     re-frame to that width:height, padding with white
    crop:0.8       keep the central 80 % of each side (tighter framing, cut edges)
    pad            a 20 % white margin all round (the product smaller in the frame)
    backdrop:grey  near-white backdrop pixels become grey (or black, beige, #rrggbb)
    jpeg:30        re-encode as JPEG at that quality (blocking, colour bleed)
    rotate:10      rotate by that many degrees, corners filled white
    downscale:0.5  shrink each side by that factor (a low-resolution photo)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor

from shelfsight.indexer.images import ImageError, decode_file

WHITE = (255, 255, 255)
# A backdrop pixel: every channel above this (studio white, as the foreground mask uses).
BACKDROP_MIN = 235
NAMED_BACKDROPS = {"grey": (128, 128, 128), "black": (20, 20, 20), "beige": (225, 205, 170)}


def _aspect(arg: str) -> Callable[[Image.Image], Image.Image]:
    w_s, sep, h_s = arg.partition("x")
    try:
        ratio = float(w_s) / float(h_s)
    except (ValueError, ZeroDivisionError):
        ratio = -1.0
    if not sep or ratio <= 0:
        raise ValueError(f"aspect:{arg}: give width x height, e.g. aspect:3x4")

    def run(im: Image.Image) -> Image.Image:
        w, h = im.size
        new = (max(w, round(h * ratio)), max(h, round(w / ratio)))
        canvas = Image.new("RGB", new, WHITE)
        canvas.paste(im, ((new[0] - w) // 2, (new[1] - h) // 2))
        return canvas

    return run


def _fraction(name: str, arg: str, low: float, high: float) -> float:
    try:
        value = float(arg)
    except ValueError:
        value = -1.0
    if not low < value <= high:
        raise ValueError(f"{name}:{arg}: give a number in ({low:g}, {high:g}]")
    return value


def _crop(arg: str) -> Callable[[Image.Image], Image.Image]:
    keep = _fraction("crop", arg, 0.0, 1.0)

    def run(im: Image.Image) -> Image.Image:
        w, h = im.size
        cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
        left, top = (w - cw) // 2, (h - ch) // 2
        return im.crop((left, top, left + cw, top + ch))

    return run


def _pad(arg: str) -> Callable[[Image.Image], Image.Image]:
    margin = _fraction("pad", arg, 0.0, 2.0) if arg else 0.2

    def run(im: Image.Image) -> Image.Image:
        w, h = im.size
        dx, dy = round(w * margin), round(h * margin)
        canvas = Image.new("RGB", (w + 2 * dx, h + 2 * dy), WHITE)
        canvas.paste(im, (dx, dy))
        return canvas

    return run


def _backdrop(arg: str) -> Callable[[Image.Image], Image.Image]:
    try:
        colour = NAMED_BACKDROPS.get(arg) or ImageColor.getrgb(arg)[:3]
    except ValueError:
        names = ", ".join(NAMED_BACKDROPS)
        raise ValueError(f"backdrop:{arg}: a colour name ({names}) or #rrggbb") from None

    def run(im: Image.Image) -> Image.Image:
        px = np.asarray(im).copy()
        px[(px > BACKDROP_MIN).all(axis=2)] = colour
        return Image.fromarray(px)

    return run


def _jpeg(arg: str) -> Callable[[Image.Image], Image.Image]:
    quality = round(_fraction("jpeg", arg, 0.0, 100.0))

    def run(im: Image.Image) -> Image.Image:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=quality)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    return run


def _rotate(arg: str) -> Callable[[Image.Image], Image.Image]:
    try:
        degrees = float(arg)
    except ValueError:
        raise ValueError(f"rotate:{arg}: give degrees, e.g. rotate:10") from None

    def run(im: Image.Image) -> Image.Image:
        return im.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=WHITE)

    return run


def _downscale(arg: str) -> Callable[[Image.Image], Image.Image]:
    factor = _fraction("downscale", arg, 0.0, 1.0)

    def run(im: Image.Image) -> Image.Image:
        w, h = im.size
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        return im.resize(size, Image.Resampling.BILINEAR)

    return run


TRANSFORMS: dict[str, Callable[[str], Callable[[Image.Image], Image.Image]]] = {
    "aspect": _aspect,
    "crop": _crop,
    "pad": _pad,
    "backdrop": _backdrop,
    "jpeg": _jpeg,
    "rotate": _rotate,
    "downscale": _downscale,
}


@dataclass(frozen=True)
class QueryTransform:
    spec: str
    steps: tuple[Callable[[Image.Image], Image.Image], ...]

    def __call__(self, image: Image.Image) -> Image.Image:
        for step in self.steps:
            image = step(image)
        return image


def parse_query_transform(spec: str) -> QueryTransform:
    """``"crop:0.8,backdrop:grey"`` -> one callable; an unknown name or a bad argument is
    a ``ValueError`` that lists what exists."""
    steps = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, _, arg = item.partition(":")
        if name not in TRANSFORMS:
            raise ValueError(
                f"unknown query transform {name!r}; choose from {', '.join(TRANSFORMS)}"
            )
        if name != "pad" and not arg:
            raise ValueError(f"query transform {name!r} needs an argument, e.g. {name}:...")
        steps.append(TRANSFORMS[name](arg))
    if not steps:
        raise ValueError("an empty query transform")
    return QueryTransform(spec, tuple(steps))


def transformed_paths(
    paths: dict[int, str], transform: QueryTransform, folder: Path
) -> dict[int, str]:
    """Each query photo re-rendered by ``transform``, written losslessly (PNG) so that only
    the transform changes the pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, path in paths.items():
        try:
            image = decode_file(Path(path)).image
        except ImageError:
            out[key] = path  # reported as a skipped query by the embedding loop
            continue
        target = folder / f"{key}.png"
        transform(image).save(target, format="PNG")
        out[key] = str(target)
    return out
