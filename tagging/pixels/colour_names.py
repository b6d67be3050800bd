"""Named colours in the merchant's vocabulary, matched by CIEDE2000.

The names are the fashion catalogue's own ``baseColour`` values (plus a few common
extras), so a palette reads like the listings. Where a name covers a range (Blue, Grey),
the hex is the typical product shade; several shades may share a name, and the nearest
shade decides. Non-colours in the vocabulary (Multi, NA, Metallic) are not listed: a
palette with several strong colours is reported as such instead.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

# name -> one or more representative sRGB hex shades
NAMED_COLOURS: dict[str, tuple[str, ...]] = {
    "Black": ("#111111", "#262626"),
    "White": ("#f7f7f7", "#ffffff"),
    "Off White": ("#ece6d6", "#f1ede2"),
    "Cream": ("#f0e2c0", "#efe3c8"),
    "Grey": ("#8c8c8c", "#a6a6a6", "#6e6e6e"),
    "Grey Melange": ("#b4b4b8",),
    "Charcoal": ("#3c3f44", "#45484d"),
    "Silver": ("#c0c0c4", "#d0d2d6"),
    "Steel": ("#7a8690", "#8a96a0"),
    "Blue": ("#2f5fb3", "#4a7fd0", "#6fa0dc", "#1f4a9a"),
    "Navy Blue": ("#1b2440", "#202c4f", "#141b33"),
    "Turquoise Blue": ("#2bb3c0", "#30c0d0"),
    "Teal": ("#1f7a7a", "#1b6b70"),
    "Green": ("#2e8b3e", "#3f9f4f", "#1f6b30"),
    "Sea Green": ("#2e8b57",),
    "Fluorescent Green": ("#7cfc00", "#9dff2e"),
    "Olive": ("#5b5f2a", "#6b6b35", "#4f5530"),
    "Khaki": ("#b5a878", "#a89c6b"),
    "Yellow": ("#f2d22e", "#f5e050"),
    "Mustard": ("#d1a320", "#c89b1c"),
    "Gold": ("#c9a54a", "#d4af37"),
    "Orange": ("#f07a1f", "#ff8c2e"),
    "Rust": ("#b4532a", "#a0461f"),
    "Copper": ("#b87333",),
    "Bronze": ("#8c6a3c", "#9c7a44"),
    "Peach": ("#f6b99b", "#f8c4a8"),
    "Red": ("#c8202a", "#d9302e", "#b01c24"),
    "Maroon": ("#6b1a26", "#7a1f2b", "#5a1620"),
    "Burgundy": ("#7a1e3a", "#6a1830"),
    "Pink": ("#f08cb4", "#e86a9a", "#f4a6c4"),
    "Magenta": ("#c2187a", "#d0208a"),
    "Purple": ("#6a3d9a", "#7b4aa8", "#5a2f84"),
    "Lavender": ("#b9a6d9", "#c4b4e0"),
    "Mauve": ("#b07a9a",),
    "Brown": ("#6b4226", "#7b4b2a", "#5a3820"),
    "Coffee Brown": ("#4a3426", "#3f2c20"),
    "Tan": ("#c19a6b", "#b38b5d"),
    "Beige": ("#d8c3a0", "#e0cdae"),
    "Taupe": ("#8b7d6b",),
    "Nude": ("#e3bc9a",),
    "Skin": ("#e8c0a0",),
}


def hex_to_rgb(h: str) -> tuple[int, int, int]:
    h = h.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def rgb_to_hex(rgb: np.ndarray | tuple[float, float, float]) -> str:
    r, g, b = (round(float(np.clip(c, 0, 255))) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


@lru_cache(maxsize=1)
def _table() -> tuple[list[str], np.ndarray]:
    names, rgbs = [], []
    for name, shades in NAMED_COLOURS.items():
        for h in shades:
            names.append(name)
            rgbs.append(hex_to_rgb(h))
    lab = rgb2lab(np.asarray(rgbs, dtype=np.float64)[None] / 255.0)[0]
    return names, lab


def nearest_names(lab: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
    """For each CIELAB colour (N, 3), the ``top`` nearest names with their CIEDE2000."""
    names, table = _table()
    lab = np.atleast_2d(np.asarray(lab, dtype=np.float64))
    out = []
    for c in lab:
        d = deltaE_ciede2000(np.broadcast_to(c, table.shape), table)
        best: dict[str, float] = {}
        for i in np.argsort(d):
            if names[i] not in best:
                best[names[i]] = float(d[i])
            if len(best) == top:
                break
        out.append(list(best.items()))
    return out


def colour_name(lab: np.ndarray) -> str:
    return nearest_names(lab, top=1)[0][0][0]
