"""The catalogue's colour model: pixels -> the merchant's own colour names."""

import numpy as np
import pytest

from shelfsight.tagging.pixels.colour import fuse_pixel_colour
from shelfsight.tagging.pixels.colour_model import (
    ColourModel,
    PixelWeight,
    colour_features,
    fit_colour_model,
    kind_features,
    weight_from_settings,
    weight_settings,
)

# CIELAB centres of three product colours, labelled the way a house might name them
# (not the reference names the palette uses).
HOUSE = {"Wine": (35.0, 45.0, 20.0), "Denim": (45.0, 0.0, -30.0), "Ivory": (95.0, 0.0, 8.0)}


def photos(n, seed=0):
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for i in range(n):
        name = list(HOUSE)[i % len(HOUSE)]
        lab = np.asarray(HOUSE[name]) + rng.normal(0, 6, size=(500, 3))
        feats.append(colour_features(lab))
        labels.append(name)
    return np.stack(feats), labels


def test_the_model_learns_the_houses_names_and_scores_unseen_photos():
    x, y = photos(60)
    fitted = fit_colour_model("colour", x, y)
    assert fitted is not None
    model, oof = fitted
    assert oof.shape == (60, 3) and np.allclose(oof.sum(1), 1)
    assert model.cv_accuracy > 0.9  # out of fold, not memorised
    test_x, test_y = photos(9, seed=1)
    for f, truth in zip(test_x, test_y, strict=True):
        ranked = model.ranked(f)
        assert ranked[0][0] == truth and ranked[0][1] > 0.5
        assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)
    again = ColourModel.from_json(model.to_json())
    assert again.ranked(test_x[0])[0][0] == test_y[0]


def test_two_colours_and_too_few_labels():
    x, y = photos(40)
    two = [i for i, v in enumerate(y) if v != "Ivory"]
    fitted = fit_colour_model("colour", x[two], [y[i] for i in two])
    assert fitted is not None
    model, _ = fitted
    assert model.coef.shape[0] == 2  # one row per class, as with more classes
    assert model.ranked(x[two[0]])[0][0] == y[two[0]]
    assert fit_colour_model("colour", x[:10], y[:10]) is None
    assert fit_colour_model("colour", x, ["Wine"] * len(y)) is None


def test_no_pixels_give_empty_features():
    f = colour_features(np.zeros((0, 3)))
    assert f.shape == colour_features(np.ones((5, 3)) * 50).shape and not f.any()


def test_each_pixel_counts_for_the_colour_of_its_nearest_named_shade():
    """The named shares, checked against every distance to every shade (what the k-d tree
    replaced): a shade owned by the wrong colour or a tree over other points fails it."""
    from skimage.color import rgb2lab

    from shelfsight.tagging.pixels.colour_names import NAMED_COLOURS

    shades, owner = [], []
    for i, hexes in enumerate(NAMED_COLOURS.values()):
        for h in hexes:
            shades.append([int(h[k : k + 2], 16) for k in (1, 3, 5)])
            owner.append(i)
    shade_lab = rgb2lab(np.asarray(shades, dtype=np.float64)[None] / 255.0)[0]
    rng = np.random.default_rng(3)
    lab = np.column_stack(
        [rng.uniform(0, 100, 3000), rng.uniform(-80, 80, 3000), rng.uniform(-80, 80, 3000)]
    )
    nearest = ((lab[:, None, :] - shade_lab[None]) ** 2).sum(-1).argmin(1)
    want = np.bincount(np.asarray(owner)[nearest], minlength=len(NAMED_COLOURS)) / len(lab)
    got = colour_features(lab)[-len(NAMED_COLOURS) :] ** 2
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("rare", [1, 3])
def test_a_colour_rarer_than_the_folds_still_fits(rare):
    x, y = photos(30)
    extra = colour_features(np.asarray([[60.0, 60.0, 60.0]] * 200))
    x = np.vstack([x, np.repeat(extra[None], rare, axis=0)])
    fitted = fit_colour_model("colour", x, [*y, *(["Orange"] * rare)])
    assert fitted is not None and "Orange" in fitted[0].classes


def test_the_kinds_habit_names_the_same_grey_twice():
    """Grey metal is "Steel" on a watch and "Grey" on a bag: with the neighbours' vote on
    the kind among its inputs the model names each as the house does; from the pixels
    alone it cannot tell them apart."""
    rng = np.random.default_rng(0)
    kinds = ["Watches", "Handbags"]
    feats, labels = [], []
    for i in range(80):
        kind = kinds[i % 2]
        lab = np.asarray((60.0, 0.0, 0.0)) + rng.normal(0, 5, size=(400, 3))
        vote = [(kind, 0.8), (kinds[1 - i % 2], 0.2)]
        feats.append(np.concatenate([colour_features(lab), kind_features(vote, kinds)]))
        labels.append("Steel" if kind == "Watches" else "Grey")
    fitted = fit_colour_model("colour", np.stack(feats), labels, 0, "articleType", kinds)
    assert fitted is not None
    model, _ = fitted
    assert model.cv_accuracy > 0.9
    grey = colour_features(np.asarray((60.0, 0.0, 0.0)) + rng.normal(0, 5, size=(400, 3)))
    assert model.ranked(grey, [("Watches", 1.0)])[0][0] == "Steel"
    assert model.ranked(grey, [("Handbags", 1.0)])[0][0] == "Grey"
    # Stored and read back, the model still reads the kind; served, its vote waits for
    # the neighbours' scores and the fusion asks it with them.
    again = ColourModel.from_json(model.to_json())
    assert again.kind_family == "articleType" and again.kinds == kinds
    waiting = again.given(grey)
    assert callable(waiting)
    scores = {
        "articleType": [("Watches", 0.9), ("Handbags", 0.1)],
        "colour": [("Grey", 0.5), ("Steel", 0.5)],
    }
    fused = fuse_pixel_colour(scores, "colour", waiting, 0.7)
    assert fused["colour"][0][0] == "Steel"
    assert kind_features(None, kinds).tolist() == [0.0, 0.0]  # no vote: no kind
    assert kind_features([("Belts", 1.0)], kinds).tolist() == [0.0, 0.0]


def test_a_model_fitted_without_the_kind_reads_pixels_only():
    x, y = photos(30)
    fitted = fit_colour_model("colour", x, y)
    assert fitted is not None
    model, _ = fitted
    assert model.kind_family is None and isinstance(model.given(x[0]), list)
    stored = model.to_json()
    del stored["kind_family"], stored["kinds"]  # a workspace indexed before the kind
    assert ColourModel.from_json(stored).ranked(x[0])[0][0] == y[0]


def _neighbours(distance):
    from shelfsight.tagging.search.visual import Neighbour

    return [Neighbour(str(i), "", distance + i * 0.01, {"colour": "Black"}) for i in range(4)]


def test_a_photo_far_from_the_catalogue_trusts_its_own_colour_more():
    """New stock lies far from the catalogue more often than the catalogue does from
    itself, and far neighbours' colour vote is worth less: the far weight applies beyond
    the fitted distance, the near one within it (issue 28)."""
    from shelfsight.tagging.neighbour_tags.scoring import combined_scores

    rule = PixelWeight(near=0.3, far=0.8, far_distance=0.6)
    pixel = [("White", 0.9), ("Black", 0.1)]
    for distance, colour in ((0.2, "Black"), (0.9, "White")):
        scores = combined_scores(_neighbours(distance), ["colour"], None, pixel, "colour", None)
        assert scores["colour"][0][0] == "Black"  # the default weight: the neighbours win
        ruled = combined_scores(
            _neighbours(distance), ["colour"], None, pixel, "colour", None, pixel_weight=rule
        )
        assert ruled["colour"][0][0] == colour
    assert rule.at(None) == 0.8  # no neighbour at all is as far as it gets
    assert PixelWeight(0.3).at(5.0) == 0.3  # no far weight fitted: one weight


def test_the_weight_rule_survives_the_settings_and_the_model_json():
    rule = PixelWeight(0.4, 0.9, 0.55)
    assert weight_from_settings(weight_settings(rule), 0.2) == rule
    assert weight_from_settings(weight_settings(0.4), 0.2) == 0.4
    assert weight_from_settings({}, 0.2) == 0.2
    x, y = photos(30)
    fitted = fit_colour_model("colour", x, y)
    assert fitted is not None
    model, _ = fitted
    model.weight, model.far_weight, model.far_distance = 0.4, 0.9, 0.55
    assert ColourModel.from_json(model.to_json()).pixel_weight == rule
    stored = model.to_json()
    for key in ("far_weight", "far_distance", "far_photos", "far_weights_tried"):
        del stored[key]  # a workspace indexed before far photos had their own weight
    assert ColourModel.from_json(stored).pixel_weight == PixelWeight(0.4)


def test_the_model_reads_the_products_core_beside_the_whole():
    """A model shot: the hair above and the trousers below are black, the shirt between
    them ivory. The whole product's pixels are mostly black; its core is the shirt."""
    from PIL import Image

    from shelfsight.tagging.pixels.colour import pixel_features
    from shelfsight.tagging.pixels.colour_model import REGIONS, TEXTURE_DIM, pixel_dim

    rgb = np.full((200, 120, 3), 255, np.uint8)  # a white backdrop
    rgb[20:200, 30:90] = (20, 20, 20)  # hair, arms and trousers
    rgb[80:140, 38:82] = (235, 225, 200)  # the ivory shirt, at the centre
    feats = pixel_features(Image.fromarray(rgb))
    dim = pixel_dim()
    assert feats.shape == (REGIONS * (dim + TEXTURE_DIM),)
    whole, core = feats[:dim], feats[dim : 2 * dim]
    # the share of pixels in the lightest L* bin (features are square-rooted shares):
    # a quarter of the whole product, most of its core
    light = range(5 * 49, 6 * 49)
    assert (whole[light] ** 2).sum() < 0.35 and (core[light] ** 2).sum() > 0.6


def test_a_two_region_model_reads_a_swatch_and_an_older_model_the_whole():
    x, y = photos(60)
    two = np.hstack([x, x])  # a uniform colour: its core is itself
    fitted = fit_colour_model("colour", two, y, regions=2)
    assert fitted is not None
    model = fitted[0]
    assert model.regions == 2 and model.coef.shape[1] == two.shape[1]
    assert model.ranked(x[0])[0][0] == y[0]  # one region (a palette swatch), tiled
    assert model.ranked(two[1])[0][0] == y[1]
    assert ColourModel.from_json(model.to_json()).regions == 2
    old = fit_colour_model("colour", x, y)
    assert old is not None
    raw = old[0].to_json()
    raw.pop("regions")  # stored before the core was added
    again = ColourModel.from_json(raw)
    assert again.regions == 1 and again.ranked(two[2])[0][0] == y[2]  # the whole only


def _grey_photo(striped: bool, seed: int) -> np.ndarray:
    """A grey product on white: half its pixels dark, half light, as two blocks (a flat
    two-tone) or as stripes two pixels wide (a heather): the same colours either way."""
    rng = np.random.default_rng(seed)
    dark, light = 90 + rng.integers(-6, 6), 150 + rng.integers(-6, 6)
    rgb = np.full((160, 120, 3), 255, np.uint8)
    product = np.full((120, 80), dark, np.uint8)
    if striped:
        product[(np.arange(120) // 2) % 2 == 1] = light
    else:
        product[60:] = light
    rgb[20:140, 20:100] = product[..., None]
    return rgb


def test_the_texture_tells_a_heather_from_a_flat_product_of_the_same_colours():
    from PIL import Image

    from shelfsight.tagging.pixels.colour import palette, pixel_features
    from shelfsight.tagging.pixels.colour_model import REGIONS, pixel_dim

    feats, labels = [], []
    for i in range(40):
        striped = i % 2 == 1
        feats.append(pixel_features(Image.fromarray(_grey_photo(striped, i))))
        labels.append("Grey Melange" if striped else "Grey")
    x = np.stack(feats)
    colours = x[:, : REGIONS * pixel_dim()]
    plain = fit_colour_model("colour", colours, labels, regions=REGIONS)
    textured = fit_colour_model("colour", x, labels, regions=REGIONS, texture=True)
    assert plain is not None and textured is not None
    assert plain[0].cv_accuracy < 0.8  # the colours alone cannot tell them apart
    assert textured[0].cv_accuracy == 1.0
    model = textured[0]
    assert ColourModel.from_json(model.to_json()).texture
    # a palette swatch of a heather is named by its own pixels' texture too
    heather = palette(Image.fromarray(_grey_photo(True, 99)))
    assert heather.named_by(model).swatches[0].name == "Grey Melange"
    with pytest.raises(ValueError, match="texture"):
        model.ranked(colours[0])  # a model that reads texture is given colours only
