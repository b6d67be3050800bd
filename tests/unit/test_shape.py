"""Shapes drawn with OpenCV get exactly the tags they should."""

import cv2
import numpy as np
import pytest

from shelfsight.tagging.pixels.foreground import segment
from shelfsight.tagging.pixels.shape import describe_shape, mirror_iou


def canvas(h=200, w=200):
    return np.zeros((h, w), np.uint8)


def circle():
    m = canvas()
    cv2.circle(m, (100, 100), 60, 1, -1)
    return m


def square():
    m = canvas()
    cv2.rectangle(m, (50, 50), (150, 150), 1, -1)
    return m


def tall_rectangle():
    m = canvas()
    cv2.rectangle(m, (75, 20), (125, 180), 1, -1)
    return m


def triangle():
    m = canvas()
    cv2.fillPoly(m, [np.array([[100, 60], [180, 160], [20, 160]], np.int32)], 1)
    return m


def off_centre_blob():
    m = canvas()
    cv2.ellipse(m, (70, 120), (50, 25), 30, 0, 360, 1, -1)
    cv2.circle(m, (110, 90), 22, 1, -1)
    cv2.rectangle(m, (40, 130), (60, 175), 1, -1)
    return m


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        (circle, {"outline": "rounded", "proportion": "square", "symmetry": "symmetric"}),
        (square, {"outline": "rectangular", "proportion": "square", "symmetry": "symmetric"}),
        (tall_rectangle, {"outline": "rectangular", "proportion": "tall", "symmetry": "symmetric"}),
        (triangle, {"outline": "triangular", "proportion": "wide", "symmetry": "symmetric"}),
        (
            off_centre_blob,
            {"outline": "irregular", "proportion": "square", "symmetry": "asymmetric"},
        ),
    ],
)
def test_drawn_shapes(draw, expected):
    result = describe_shape(draw().astype(bool))
    assert result.tags == expected, result.measures


def test_measures_are_reported():
    m = describe_shape(square().astype(bool)).measures
    assert m["extent"] == pytest.approx(1.0, abs=0.02)
    assert m["corners"] == 4 and m["aspect_ratio"] == pytest.approx(1.0, abs=0.02)


def test_empty_mask_is_unknown():
    assert describe_shape(canvas().astype(bool)).tags == {"outline": "unknown"}


def test_mirror_iou_of_a_half_disc_and_a_disc():
    assert mirror_iou(circle().astype(bool)) > 0.97
    half = circle()
    half[100:, :] = 0  # a dome: still mirror-symmetric left to right
    assert mirror_iou(half.astype(bool)) > 0.95
    half_side = circle()
    half_side[:, 100:] = 0  # a D shape: not
    assert mirror_iou(half_side.astype(bool)) < 0.7
    assert mirror_iou(off_centre_blob().astype(bool)) < 0.85


def test_product_on_white_is_separated_from_the_backdrop():
    img = np.full((120, 160, 3), 250, np.uint8)
    cv2.rectangle(img, (40, 30), (120, 90), (30, 40, 150), -1)
    cv2.putText(img, "LOGO", (50, 65), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (250, 250, 250), 2)
    fg = segment(img)
    assert fg.method == "border"
    # The white logo inside the product counts as product: holes are filled.
    assert fg.share == pytest.approx((81 * 61) / (120 * 160), abs=0.02)
    assert describe_shape(fg.mask).tags["outline"] == "rectangular"


def test_textured_backdrop_falls_back_to_grabcut():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)
    cv2.circle(img, (60, 60), 35, (200, 30, 30), -1)
    fg = segment(img)
    assert fg.method in ("grabcut", "whole")
    if fg.method == "grabcut":
        assert fg.mask[60, 60] and not fg.mask[2, 2]
