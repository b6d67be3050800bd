"""Outline tags from the foreground mask (OpenCV contour features).

Every tag comes with the measured values behind it, so a merchant can see why a product
was called rectangular or tall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# Thresholds, chosen on drawn shapes and checked on catalogue photos (see docs in README).
ROUND_CIRCULARITY = 0.80
RECT_EXTENT = 0.85
POLY_EPSILON = 0.03  # polygon approximation tolerance, as a share of the perimeter
TALL_RATIO, WIDE_RATIO = 0.8, 1.25  # width / height
SYMMETRY_IOU = 0.85


@dataclass
class ShapeResult:
    tags: dict[str, str] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"tags": self.tags, "measures": {k: round(v, 4) for k, v in self.measures.items()}}


def largest_contour(mask: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=cv2.contourArea) if contours else None


def mirror_iou(mask: np.ndarray) -> float:
    """IoU of the mask with its mirror image about the mask's own vertical centre line."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0.0
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    flipped = crop[:, ::-1]
    inter = np.logical_and(crop, flipped).sum()
    union = np.logical_or(crop, flipped).sum()
    return float(inter / union) if union else 0.0


def describe_shape(mask: np.ndarray) -> ShapeResult:
    contour = largest_contour(mask)
    if contour is None or cv2.contourArea(contour) < 16:
        return ShapeResult({"outline": "unknown"}, {})
    area = float(cv2.contourArea(contour))
    perimeter = float(cv2.arcLength(contour, True))
    _, _, w, h = cv2.boundingRect(contour)
    hull_area = float(cv2.contourArea(cv2.convexHull(contour)))
    corners = len(cv2.approxPolyDP(contour, POLY_EPSILON * perimeter, True))
    filled = np.zeros_like(mask, dtype=np.uint8)
    cv2.drawContours(filled, [contour], -1, 1, thickness=cv2.FILLED)
    m = {
        "aspect_ratio": w / h,
        "extent": area / (w * h),
        "solidity": area / hull_area if hull_area else 0.0,
        "circularity": 4 * math.pi * area / (perimeter**2) if perimeter else 0.0,
        "corners": float(corners),
        "symmetry_iou": mirror_iou(filled.astype(bool)),
        "area_share": area / mask.size,
    }
    if corners == 3 and m["solidity"] > 0.9:
        outline = "triangular"
    elif corners == 4 and m["extent"] >= RECT_EXTENT:
        outline = "rectangular"
    elif m["circularity"] >= ROUND_CIRCULARITY and m["solidity"] > 0.9:
        outline = "rounded"
    else:
        outline = "irregular"
    ar = m["aspect_ratio"]
    proportion = "tall" if ar < TALL_RATIO else "wide" if ar > WIDE_RATIO else "square"
    symmetry = "symmetric" if m["symmetry_iou"] >= SYMMETRY_IOU else "asymmetric"
    return ShapeResult({"outline": outline, "proportion": proportion, "symmetry": symmetry}, m)
