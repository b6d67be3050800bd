"""Each --query-transform changes the pixels as it says."""

import numpy as np
import pytest
from PIL import Image

from shelfsight.tagging.evaluation.query_transforms import parse_query_transform


@pytest.fixture()
def product():
    """A red product on a white studio backdrop, 100 wide x 200 high."""
    im = Image.new("RGB", (100, 200), (255, 255, 255))
    im.paste((200, 20, 20), (30, 50, 70, 150))
    return im


def run(spec, im):
    return parse_query_transform(spec)(im)


def test_aspect_pads_to_the_ratio(product):
    out = run("aspect:3x4", product)
    assert out.size == (150, 200)
    assert out.getpixel((5, 100)) == (255, 255, 255) and out.getpixel((75, 100)) == (200, 20, 20)


def test_crop_keeps_the_centre(product):
    assert run("crop:0.5", product).size == (50, 100)


def test_pad_adds_a_white_margin(product):
    out = run("pad", product)
    assert out.size == (140, 280) and out.getpixel((0, 0)) == (255, 255, 255)


def test_backdrop_recolours_only_the_backdrop(product):
    out = run("backdrop:grey", product)
    assert out.getpixel((2, 2)) == (128, 128, 128) and out.getpixel((50, 100)) == (200, 20, 20)
    assert run("backdrop:#102030", product).getpixel((2, 2)) == (16, 32, 48)


def test_jpeg_degrades_the_pixels(product):
    out = run("jpeg:10", product)
    diff = np.abs(np.asarray(out, dtype=int) - np.asarray(product, dtype=int))
    assert out.size == product.size and diff.max() > 10


def test_rotate_expands_with_white_corners(product):
    out = run("rotate:10", product)
    assert out.size[0] > 100 and out.getpixel((0, 0)) == (255, 255, 255)


def test_downscale_and_chains(product):
    assert run("downscale:0.5", product).size == (50, 100)
    assert run("crop:0.5,downscale:0.5", product).size == (25, 50)


@pytest.mark.parametrize("bad", ["blur:3", "crop:1.5", "crop", "aspect:3", "jpeg:0", ""])
def test_bad_specs_are_clear_errors(bad):
    with pytest.raises(ValueError):
        parse_query_transform(bad)
