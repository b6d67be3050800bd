"""The listing words' pieces: the text model, its pooling with the photo, the
contradiction rule and the transforms that write a title as another house would."""

import pytest

from shelfsight.tagging.text_tags.fusion import contradicts, pooled
from shelfsight.tagging.text_tags.model import TextModel
from shelfsight.tagging.text_tags.perturb import TEXT_TRANSFORMS, transform_text
from shelfsight.tagging.text_tags.words import listing_text

TITLE = "Roadster Men Navy Blue Slim Fit Shirts"
COLOURS = ["Navy Blue", "Blue", "Black", "Red"]


def test_each_text_transform_changes_the_words_as_named():
    assert transform_text("drop-colour", TITLE, COLOURS) == "Roadster Men Slim Fit Shirts"
    assert transform_text("brand-only", TITLE, COLOURS) == "Roadster"
    assert transform_text("empty", TITLE, COLOURS) == ""
    shuffled = transform_text("shuffle", TITLE, COLOURS)
    assert sorted(shuffled.split()) == sorted(TITLE.split()) and shuffled != TITLE
    typo = transform_text("typos", TITLE, COLOURS).split()
    for was, now in zip(TITLE.split(), typo, strict=True):
        assert sorted(was) == sorted(now) and (was == now) == (len(was) < 5)
    assert transform_text("typos", TITLE, seed=1) == transform_text("typos", TITLE, seed=1)
    assert set(TEXT_TRANSFORMS) == {"drop-colour", "brand-only", "shuffle", "typos", "empty"}
    with pytest.raises(ValueError, match="unknown text transform"):
        transform_text("rot13", TITLE)


def test_pooling_weighs_the_words_by_the_learned_weight():
    photo = [("Shirts", 0.7), ("Tshirts", 0.3)]
    text = [("Tshirts", 0.9), ("Shirts", 0.1)]
    assert pooled(photo, text, 0.0)[0][0] == "Shirts"  # weight 0: the photo alone
    assert pooled(photo, text, 2.0)[0][0] == "Tshirts"
    assert sum(s for _, s in pooled(photo, text, 1.0)) == pytest.approx(1.0)
    # a value only the words name can win; one only the photo names keeps its share
    assert pooled([("Shirts", 1.0)], [("Kurtas", 1.0)], 3.0)[0][0] == "Kurtas"


def test_confident_photo_and_words_that_disagree_are_a_contradiction():
    assert contradicts([("Blue", 0.8)], [("Red", 0.9)])
    assert not contradicts([("Blue", 0.8)], [("Blue", 0.9)])
    assert not contradicts([("Blue", 0.3), ("Red", 0.2)], [("Red", 0.9)])  # photo unsure
    assert not contradicts([("Blue", 0.8)], [])


def test_the_text_model_learns_families_from_titles_and_names_its_words():
    titles, tags = [], []
    for brand in ("Roadster", "Puma", "Nike", "Levis", "Wrangler", "Adidas"):
        for gender, kind in (("Men", "Tshirts"), ("Women", "Tops"), ("Men", "Jeans")):
            titles.append(f"{brand} {gender} Casual {kind}")
            tags.append({"gender": gender, "articleType": kind, "masterCategory": "Apparel"})
    model = TextModel.fit(titles, tags, ["gender", "articleType", "masterCategory"])
    assert set(model.classifiers) == {"gender", "articleType"}  # one value teaches nothing
    ranked = model.ranked("Puma Women Tops")
    assert ranked["gender"][0][0] == "Women" and ranked["articleType"][0][0] == "Tops"
    assert "Women" in model.evidence("Puma Women Tops", "gender", "Women")
    assert model.ranked("???") == {}  # no word it knows: no answer, not the prior
    assert listing_text(" Title ", ["", "brand X"]) == "Title brand X"


def test_a_kind_no_value_covers_is_proposed_where_the_titles_name_kinds():
    from shelfsight.tagging.text_tags.kinds import KindSlot, same_kind

    titles = ["Puma Men Black Tshirts", "Nike Women Blue Tops", "Levis Men Jeans", "Red Kurtas"]
    tags = [
        {"articleType": "Tshirts", "baseColour": "Black"},
        {"articleType": "Tops", "baseColour": "Blue"},
        {"articleType": "Jeans", "baseColour": "Blue"},
        {"articleType": "Kurtas", "baseColour": "Red"},
    ]
    slot = KindSlot.fit("articleType", titles, tags)
    assert slot.share == 1.0 and slot.plural == 1.0
    assert slot.propose("Estelle Women Gold Earring") == "Earrings"  # spelt like the family
    assert slot.propose("Roadster Men Tshirt") is None  # a known kind, singular
    assert slot.propose("Roadster Men Tshrits") is None  # a known kind, misspelt
    assert slot.propose("Levis Men Jaens") is None  # two letters swapped in a short word
    assert slot.propose("Roadster Men Tshirts Black") is None  # a colour word ends it
    assert slot.propose("") is None
    assert same_kind("earring", "Earrings") and not same_kind("Earrings", "Rings")
    unsure = KindSlot.fit("articleType", ["Tshirts by Puma"] * 2, tags[:2])
    assert unsure.share < 0.5 and unsure.propose("Gold Earrings") is None


def test_words_the_model_is_unsure_of_get_their_own_weight():
    from shelfsight.tagging.text_tags.fusion import FamilyFusion

    fusion = FamilyFusion(1.0, None, 0.5, None, 0.5, by_band=[0.0, 0.5, 2.0])
    assert fusion.weight_for([("Tshirts", 0.3)]) == 0.0  # unsure words: the photo decides
    assert fusion.weight_for([("Tshirts", 0.6)]) == 0.5
    assert fusion.weight_for([("Tshirts", 0.95)]) == 2.0
    assert FamilyFusion(1.5, None, 0.5, None, 0.5).weight_for([("x", 0.1)]) == 1.5
