import cv2
import numpy as np
import pytest
from PIL import Image

from shelfsight.tagging.pixels.colour import palette
from shelfsight.tagging.pixels.colour_names import NAMED_COLOURS, colour_name, nearest_names


def product(colour, second=None, bg=(255, 255, 255)):
    img = np.full((160, 160, 3), bg, np.uint8)
    cv2.rectangle(img, (30, 30), (130, 130), colour, -1)
    if second is not None:
        cv2.rectangle(img, (30, 100), (130, 130), second, -1)
    return Image.fromarray(img)


def test_table_speaks_the_catalogue_vocabulary():
    for name in ("Navy Blue", "Off White", "Charcoal", "Mustard", "Teal", "Maroon", "Olive"):
        assert name in NAMED_COLOURS


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((200, 30, 40), "Red"),
        ((25, 35, 65), "Navy Blue"),
        ((110, 25, 40), "Maroon"),
        ((20, 20, 20), "Black"),
        ((210, 163, 32), "Mustard"),
        ((31, 122, 122), "Teal"),
    ],
)
def test_named_by_ciede2000(rgb, name):
    from skimage.color import rgb2lab

    lab = rgb2lab(np.array([[rgb]], dtype=float) / 255)[0, 0]
    assert colour_name(lab) == name
    assert nearest_names(lab, top=3)[0][0][0] == name


def test_palette_ignores_the_white_backdrop():
    p = palette(product((200, 30, 40)))
    assert [s.name for s in p.swatches] == ["Red"]
    assert p.swatches[0].share == pytest.approx(1.0)
    assert p.foreground == "border"


def test_two_colour_product_shares_sum_to_one():
    p = palette(product((25, 35, 65), second=(240, 210, 40)))
    names = {s.name: s.share for s in p.swatches}
    assert set(names) == {"Navy Blue", "Yellow"}
    assert names["Navy Blue"] == pytest.approx(0.7, abs=0.05)
    assert sum(names.values()) == pytest.approx(1.0)
    assert all(s.hex.startswith("#") and len(s.hex) == 7 for s in p.swatches)


def test_white_product_on_grey_backdrop():
    p = palette(product((250, 250, 250), bg=(190, 190, 190)))
    assert p.swatches[0].name == "White"


def test_name_scores_are_the_pixel_vote():
    p = palette(product((25, 35, 65), second=(240, 210, 40)))
    scores = dict(p.name_scores())
    assert max(scores, key=scores.get) == "Navy Blue"


def test_a_models_skin_is_left_out_of_the_palette_but_a_skin_coloured_product_keeps_it():
    skin = (224, 172, 138)
    img = Image.new("RGB", (200, 260), "white")
    px = img.load()
    for y in range(20, 60):  # a face above a navy shirt: 40 x 60 of 240 x 160 foreground
        for x in range(70, 130):
            px[x, y] = skin
    for y in range(60, 240):
        for x in range(30, 170):
            px[x, y] = (30, 40, 90)
    p = palette(img)
    assert 0.05 < p.skin_share <= 0.3
    assert all(s.name not in ("Nude", "Skin", "Peach", "Beige") for s in p.swatches)
    assert p.swatches[0].name == "Navy Blue"
    bag = Image.new("RGB", (200, 200), "white")
    bag.paste(Image.new("RGB", (120, 120), skin), (40, 40))
    p = palette(bag)
    assert p.skin_share == 0.0 and p.swatches[0].share > 0.9  # the product is the colour


def test_swatches_are_named_in_the_catalogues_words_by_its_colour_model():
    """A white shirt photographed in shade is light grey: the nearest reference shade calls
    it grey or silver, a house that labels such photos "White" does not."""
    from skimage.color import rgb2lab

    from shelfsight.tagging.pixels.colour_model import colour_features, fit_colour_model

    rng = np.random.default_rng(0)
    house = {"White": (185, 185, 190), "Wine": (110, 25, 40), "Ink": (25, 35, 65)}
    feats, labels = [], []
    for i in range(60):
        name = list(house)[i % 3]
        rgb = np.clip(np.asarray(house[name]) + rng.normal(0, 6, (400, 3)), 0, 255)
        feats.append(colour_features(rgb2lab(rgb[None] / 255)[0]))
        labels.append(name)
    fitted = fit_colour_model("colour", np.stack(feats), labels)
    assert fitted is not None
    model = fitted[0]
    # shaded white on top, wine below; the reference shades do not call the white White
    p = palette(product((185, 185, 190), second=(110, 25, 40)))
    shaded = palette(product((170, 170, 176)))
    assert p.swatches[0].name != "White" and all(s.features is not None for s in p.swatches)
    named = p.named_by(model)
    assert [s.name for s in named.swatches] == ["White", "Wine"]
    assert sum(s.share for s in named.swatches) == pytest.approx(1.0)
    assert named.swatches[0].share == pytest.approx(0.7, abs=0.05)
    assert shaded.named_by(model).swatches[0].name == "White"
    assert p.swatches[0].name != "White"  # the palette itself is left as it was
