"""Colour, shape and OCR on real images with the real EasyOCR weights."""

import csv
import json
import time

import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from shelfsight.service.cli import app
from shelfsight.tagging.pixels.ocr import BrandMatcher, brand_lexicon, read_text

pytestmark = pytest.mark.integration


def font(size):
    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    ):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)  # Pillow's bundled scalable font


def rendered(text, size=(420, 120)):
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).text((20, 30), text, fill=(20, 20, 20), font=font(48))
    return img


# torch warned on EasyOCR's behalf on every load and every read (pin_memory without a GPU)
@pytest.mark.filterwarnings("error::UserWarning")
def test_rendered_text_is_read_back():
    result = read_text(rendered("SHELFSIGHT"), timeout=120)
    assert not result.timed_out
    text = " ".join(ln.text for ln in result.lines).upper().replace(" ", "")
    assert "SHELFSIGHT" in text
    assert all(0 < ln.confidence <= 1 and len(ln.box) == 4 for ln in result.lines)


def test_brand_in_rendered_text_is_matched(fashion_dir):
    with open(fashion_dir / "styles.csv", newline="") as fh:
        titles = [r["productDisplayName"] for r in csv.DictReader(fh)]
    result = read_text(rendered("WRANGLER"), timeout=120)
    match = BrandMatcher(brand_lexicon(titles)).match([ln.text for ln in result.lines])
    assert match is not None and match.brand == "Wrangler"


def test_ocr_time_budget_is_honoured():
    read_text(rendered("warm"), timeout=120)  # the reader is loaded once, lazily
    t0 = time.perf_counter()
    result = read_text(Image.new("RGB", (1600, 1600), "white"), timeout=0.01)
    assert result.timed_out and result.lines == []
    assert time.perf_counter() - t0 < 1.0


def test_tag_with_all_attributes(home, fashion_slice, fashion_dir):
    with open(fashion_slice, newline="") as fh:
        rows = list(csv.DictReader(fh))
    runner = CliRunner()
    img = fashion_dir / "images" / "15970.jpg"  # navy blue shirt, not in this slice
    res = runner.invoke(
        app, ["tag", str(img), "--home", str(home), "--attributes", "colour,shape,ocr", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    shares = [s["share"] for s in out["colour"]["palette"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3)
    assert out["tags"]["baseColour"]["source"] == "knn+colour"
    assert out["tags"]["colour"]["source"] == "colour"
    # The catalogue's colour model names the swatches: in its own words, the first one
    # the colour attribute's value.
    palette_names = [s["name"] for s in out["colour"]["palette"]]
    assert set(palette_names) <= {r["baseColour"] for r in rows}, palette_names
    assert out["tags"]["colour"]["value"] == palette_names[0]
    assert {out["tags"][t]["source"] for t in ("outline", "proportion", "symmetry")} == {"shape"}
    assert out["shape"]["measures"]["solidity"] > 0
    assert out["ocr"] is not None and "seconds" in out["ocr"]
    bad = runner.invoke(app, ["tag", str(img), "--home", str(home), "--attributes", "smell"])
    assert bad.exit_code == 2 and "unknown attributes" in bad.output


def test_brand_printed_on_a_real_catalogue_photo_is_found(fashion_dir):
    """10563 is a Puma ringer tee with 'PUMA' across the chest (224 px, so the print is small)."""
    with open(fashion_dir / "styles.csv", newline="") as fh:
        titles = [r["productDisplayName"] for r in csv.DictReader(fh)]
    result = read_text(Image.open(fashion_dir / "images" / "10563.jpg"), timeout=120)
    match = BrandMatcher(brand_lexicon(titles)).match([ln.text for ln in result.lines])
    assert match is not None and match.brand == "Puma", result.as_dict()


def test_the_same_photo_always_gets_the_same_mask_palette_and_shape(fashion_dir):
    """GrabCut drew from OpenCV's per-thread random state, which every call advances:
    this photo (a bag held by a hand, no plain backdrop) got a different mask, palette
    and shape on each /tag, and tag-batch disagreed with /tag on it."""
    import numpy as np

    from shelfsight.tagging.pixels.colour import palette
    from shelfsight.tagging.pixels.foreground import grabcut_mask, segment

    img = Image.open(fashion_dir / "images" / "20284.jpg").convert("RGB")
    rgb = np.asarray(img)
    first = grabcut_mask(rgb)
    assert all((grabcut_mask(rgb) == first).all() for _ in range(4))
    fg = segment(img)
    assert fg.method == "grabcut"
    names = {tuple(s.name for s in palette(img, segment(img)).swatches) for _ in range(3)}
    assert len(names) == 1


# White products on a white backdrop (the backdrop rule cut the product out and named
# the model's skin and trousers: 10338 came back Black / Nude / Tan) and model shots.
WHITE_ON_WHITE = ["10338", "10015", "10019", "10027", "10040"]
MODEL_SHOTS = {"10009": "Red", "10075": "Red", "10045": "Blue"}


def test_white_on_white_and_model_shots_keep_their_catalogue_colour(fashion_dir):
    from shelfsight.tagging.pixels.colour import palette

    def names(pid):
        image = Image.open(fashion_dir / "images" / f"{pid}.jpg").convert("RGB")
        return [s.name for s in palette(image).swatches]

    for pid in WHITE_ON_WHITE:
        assert names(pid)[0] == "White", (pid, names(pid))
    for pid, colour in MODEL_SHOTS.items():
        assert colour in names(pid)[:2], (pid, names(pid))


def test_index_fits_a_colour_weight_for_photos_far_from_the_catalogue(cnn_home):
    """`index` judges the photo's colour weight apart on the catalogue's far photos (the
    farthest tenth from the rest), never below the near weight, and the calibration
    records the rule the pipeline serves (issue 28)."""
    from shelfsight.indexer.workspace import Workspace
    from shelfsight.tagging.neighbour_tags.calibration import load_calibration
    from shelfsight.tagging.neighbour_tags.colour_fit import MIN_FAR, load_colour_model
    from shelfsight.tagging.pixels.colour_model import (
        REGIONS,
        TEXTURE_DIM,
        pixel_dim,
        weight_from_settings,
    )
    from shelfsight.tagging.search.visual import NeighbourSearch

    search = NeighbourSearch(Workspace(cnn_home))
    model = load_colour_model(search.catalogue)
    assert model is not None and model.far_weight is not None
    assert model.far_weight >= model.weight and model.far_photos >= MIN_FAR
    assert model.far_distance is not None and model.far_distance > 0
    assert set(model.far_weights_tried) == set(model.weights_tried)
    # the model reads the product's core beside the whole, and the texture of each (the
    # meta round-trips it)
    assert model.regions == REGIONS and model.texture
    assert model.coef.shape[1] >= REGIONS * (pixel_dim() + TEXTURE_DIM)
    cal = load_calibration(search.catalogue, search.index.model)
    assert cal is not None
    assert weight_from_settings(cal.settings, 0.2) == model.pixel_weight
