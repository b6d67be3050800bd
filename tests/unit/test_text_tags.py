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


def test_the_catalogues_titles_say_which_last_words_and_pairs_name_its_kinds():
    from shelfsight.tagging.text_tags.kinds import KindSlot, same_kind

    rows = [
        ("Puma Men Black Casual Shoes", "Casual Shoes", "Casual", "Men", "Black"),
        ("Nike Women White Casual Shoes", "Casual Shoes", "Casual", "Women", "White"),
        ("Nike Men Blue Sports Shoes", "Sports Shoes", "Sports", "Men", "Blue"),
        ("Adidas Women Red Sports Shoes", "Sports Shoes", "Sports", "Women", "Red"),
        ("Jockey Men White Innerwear Tshirt", "Innerwear Vests", "Casual", "Men", "White"),
        ("Jockey Men Grey Innerwear Tshirt", "Innerwear Vests", "Casual", "Men", "Grey"),
        ("Biba Women Red Kurtas", "Kurtas", "Ethnic", "Women", "Red"),
        ("Biba Women Blue Kurtas", "Kurtas", "Ethnic", "Women", "Blue"),
        ("Casio Men Black Watch W13582L2", "Watches", "Casual", "Men", "Black"),
        ("Casio Women Gold Watch W1358", "Watches", "Formal", "Women", "Gold"),
    ]
    slot = KindSlot.fit(
        "articleType",
        [r[0] for r in rows],
        [{"articleType": r[1], "usage": r[2], "gender": r[3], "baseColour": r[4]} for r in rows],
    )
    # The vests' titles end in "Tshirt"; the watches' in "Watch", the model number aside.
    assert slot.share == 0.8
    assert slot.propose("Roadster Men Blue Tshirt") == "Tshirts"  # only vests say it, after
    assert slot.propose("Jockey Men Blue Innerwear Tshirt") is None  # "Innerwear"
    assert slot.propose("Aurelia Women Red Kurti") == "Kurtis"  # a kind, not a typo of Kurta
    assert slot.propose("Aurelia Women Red Kurtsa") is None  # two letters swapped
    assert slot.propose("Franco Men Black Formal Shoes") == "Formal Shoes"  # a new modifier
    assert slot.propose("Franco Men Black Leather Shoes") is None  # no kind's modifier
    assert slot.propose("Disney Kids Blue Flip Flops") == "Flip Flops"  # a rare word joins
    assert slot.propose("Titan Men Black Watch Kurti") is None  # a known kind elsewhere
    assert slot.propose("Fastrack Men Black Watch W1478") is None
    assert same_kind("T-shirts", "Tshirts") and not same_kind("Shirts", "Tshirts")


def test_words_the_model_is_unsure_of_get_their_own_weight():
    from shelfsight.tagging.text_tags.fusion import FamilyFusion

    fusion = FamilyFusion(1.0, None, 0.5, None, 0.5, by_band=[0.0, 0.25, 0.5, 0.5, 1.0, 2.0])
    assert fusion.weight_for([("Tshirts", 0.3)]) == 0.0  # unsure words: the photo decides
    assert fusion.weight_for([("Tshirts", 0.6)]) == 0.25
    assert fusion.weight_for([("Tshirts", 0.95)]) == 0.5  # sure, but naming no value
    assert fusion.weight_for([("Tshirts", 0.95)], named=True) == 2.0
    assert FamilyFusion(1.5, None, 0.5, None, 0.5).weight_for([("x", 0.1)]) == 1.5


def test_a_band_weight_never_makes_the_answers_worse_than_the_photos():
    import numpy as np

    from shelfsight.tagging.neighbour_tags.text_fit import _Scored

    def _best_weight(rows, fallback):
        scored = _Scored([(*r, "as written") for r in rows])
        return scored.best_weight(np.arange(len(rows)), fallback)

    photo = [("Men", 0.6), ("Women", 0.4)]
    # Words sure of the wrong value 70 times, unsure of the right one 30: any weight
    # that moves an answer moves the 70 first.
    loud = [(photo, [("Women", 0.9), ("Men", 0.1)], "Men", False)]
    soft = [(photo, [("Women", 0.55), ("Men", 0.45)], "Women", False)]
    assert _best_weight(loud * 70 + soft * 30, 1.0) == 0.0
    # Sure and right 70 times: the words are used.
    right = [(photo, [("Women", 0.9), ("Men", 0.1)], "Women", False)]
    assert _best_weight(right * 70 + soft * 30, 0.0) > 0.0
    assert _best_weight(right * 5, 0.75) == 0.75  # too few rows: the family's weight
    # One way of writing may not pay for another: brand-only words that lose veto a
    # weight the titles as written would earn.
    written = [(*r, "as written") for r in right * 70]
    brand = [(*r, "brand-only") for r in loud * 20]
    both = _Scored(written + brand)
    assert both.best_weight(np.arange(90), 0.0) == 0.0
    assert both.best_weight(np.arange(70), 0.0) > 0.0


def test_words_that_name_a_value_are_told_from_words_that_go_with_one():
    from shelfsight.tagging.text_tags.fusion import TextTags
    from shelfsight.tagging.text_tags.words import word_set

    tags = TextTags(model=None, value_words={"gender": word_set(["Men", "Women"])})  # type: ignore[arg-type]
    assert tags.names("Roadster Men's Blue Tshirt", "gender")
    assert tags.names("Roadster WOMEN Tshirt", "gender")
    assert tags.names("Roadster Wmoen Tshirt", "gender")  # two letters swapped
    assert not tags.names("Roadster Wo Tshirt", "gender")
    from shelfsight.tagging.text_tags.kinds import KindSlot

    tags.value_words["colour"] = word_set(["Red", "Black"])
    tags.kind = KindSlot("articleType", 1.0, 1.0, brands={"red"})
    assert not tags.names("Red Tape", "colour")  # the brand's word, where brands stand
    assert tags.names("Red Tape Men Black Shoes", "colour")
    assert tags.names("Nike Men Red Shoes", "colour")
    assert not tags.names("Roadster Tshirt", "gender") and not tags.names("Roadster", "colour")


def test_a_new_kind_sends_the_tags_no_word_names_to_review_with_it():
    from shelfsight.tagging.results import TagScore
    from shelfsight.tagging.text_tags.apply import with_words
    from shelfsight.tagging.text_tags.fusion import TextTags
    from shelfsight.tagging.text_tags.kinds import KindSlot
    from shelfsight.tagging.text_tags.model import TextModel
    from shelfsight.tagging.text_tags.words import word_set

    titles = ["Puma Men Black Tshirts", "Nike Women Blue Tops", "Levis Men Blue Jeans"] * 3
    seasons = ["Summer", "Fall", "Winter", "Fall", "Winter", "Summer", "Winter", "Summer", "Fall"]
    tags = [
        {"articleType": t.split()[-1], "gender": t.split()[1], "season": s, "master": "Apparel"}
        for t, s in zip(titles, seasons, strict=True)
    ]
    families = ["articleType", "gender", "season", "master"]
    words = TextTags(TextModel.fit(titles, tags, families))
    words.kind = KindSlot.fit("articleType", titles, tags)
    words.value_words = {f: word_set(t[f] for t in tags) for f in families}
    photo = {
        f: TagScore(f, v, 0.99, source="knn", review=False)
        for f, v in {
            "articleType": "Tops",
            "gender": "Women",
            "season": "Summer",
            "master": "Apparel",
        }.items()
    }
    out = with_words(photo, {}, words, "Estelle Women Gold Earrings")
    assert out["articleType"].value == "Earrings" and out["articleType"].new_value
    assert out["articleType"].evidence == ["Earrings"] and out["articleType"].review
    assert not out["gender"].review  # "Women" names it
    assert out["season"].review  # a season the catalogue's other kinds suggest
    assert not out["master"].review  # a category the type decides keeps its own rule
    same = with_words(photo, {}, words, "Nike Women Blue Tops")
    assert not any(t.review for t in same.values())
    # Earrings written into the catalogue since the fit: its spelling, not new, reviewed.
    gained = with_words(photo, {}, words, "Estelle Women Gold Earring", known_kinds=["Earrings"])
    assert gained["articleType"].value == "Earrings" and not gained["articleType"].new_value
    assert gained["articleType"].review and not gained["articleType"].held
    # Its own route, whose threshold the merchant's outcomes learn; the other families
    # borrow from its products now, with their own rules.
    assert gained["articleType"].source.endswith("+kind") and not gained["season"].review
    photo["articleType"] = TagScore("articleType", "Earrings", 0.9, source="knn")
    agreed = with_words(photo, {}, words, "Estelle Women Gold Earring", known_kinds=["Earrings"])
    assert agreed["articleType"] is photo["articleType"]  # the photo already says it


def test_a_words_model_file_of_another_format_is_not_misread(tmp_path):
    import joblib

    from shelfsight.tagging.text_tags.fusion import TextTags

    path = tmp_path / "text-tags.joblib"
    TextTags(model=None).save(path)  # type: ignore[arg-type]
    assert TextTags.load(path) is not None
    old = TextTags(model=None)  # type: ignore[arg-type]
    del old.__dict__["format"]  # as pickled before the field existed
    joblib.dump(old, path)
    assert TextTags.load(path) is None


def test_the_words_probabilities_are_the_classifiers_own():
    import numpy as np

    from shelfsight.tagging.text_tags.model import TextModel

    titles = ["Puma Men Black Tshirts", "Nike Women Blue Tops", "Levis Men Blue Jeans"] * 4
    tags = [{"type": t.split()[-1], "gender": t.split()[1]} for t in titles]  # 3 and 2 values
    model = TextModel.fit(titles, tags, ["type", "gender"])
    x = model.vectoriser.transform([*titles[:3], "Nike Men Tops", "nothing known"])
    for family, clf in model.classifiers.items():
        assert np.allclose(model._proba(family, x), clf.predict_proba(x))
