"""The faithfulness guard: claims, support, removal, copy cap."""

import pytest

from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.guard import (
    banned_words,
    build_support,
    cut_copied,
    longest_shared_ngram,
    remove_claims,
    unsupported,
)
from shelfsight.tagging.describe.lexicon import Lexicon
from shelfsight.tagging.describe.prompt import build_messages, system_prompt

LEX = Lexicon(["Puma", "Roadster", "Red Tape", "Park Avenue"])


def check(text, facts, neighbours=()):
    support = build_support(facts, list(neighbours), LEX)
    bad = unsupported(text, support, LEX)
    return [c.text for c in bad], remove_claims(text, bad)


def test_claims_are_canonical_across_spellings_and_plurals():
    found = {(c.category, c.canonical) for c in LEX.claims("Grey tees, gray Shoes; navy-blue")}
    assert found == {
        ("colour", "grey"),
        ("article", "t-shirt"),
        ("article", "shoe"),
        ("colour", "navy"),
        ("colour", "blue"),
    }


def test_compound_words_claim_only_colours_and_materials():
    assert [c.category for c in LEX.claims("man-made black-and-white")] == ["colour", "colour"]


def test_planted_false_colour_is_removed_and_true_ones_kept():
    facts = Facts(title="Roadster Men Blue & White Striped Shirt", brand="Roadster", gender="Men")
    removed, text = check("A blue and red striped shirt with white buttons.", facts)
    assert removed == ["red"]
    assert text == "A blue striped shirt with white buttons."


def test_a_shade_supports_its_family_not_the_reverse():
    assert check("A blue tee.", Facts(title="Navy Blue T-shirt"))[0] == []
    assert check("A navy tee.", Facts(title="Blue T-shirt"))[0] == ["navy"]


def test_gender_brand_and_material_claims():
    facts = Facts(title="Roadster Women Blue Jeans", brand="Roadster", gender="Women")
    removed, text = check("Roadster blue jeans for her, not for men, by Puma, in cotton.", facts)
    assert set(removed) == {"men", "Puma", "cotton"}
    assert "Roadster" in text and "her" in text and "Puma" not in text


def test_a_sentence_about_another_product_goes_whole():
    facts = Facts(title="Blue Shirt", gender="Men")
    removed, text = check("A blue shirt with a collar. Pair it with jeans.", facts)
    assert removed == ["jeans"]
    assert text == "A blue shirt with a collar."


def test_an_is_fixed_only_where_a_word_was_removed():
    facts = Facts(title="White Shirt")
    assert check("An orange and white shirt, a unique fit.", facts)[1] == (
        "A white shirt, a unique fit."
    )


def test_neighbour_majority_fills_only_silent_categories():
    facts = Facts(title="Blue Running Shoes")
    nbrs = [Listing(str(i), "Black Running Shoes", "Leather upper, black sole.") for i in range(4)]
    removed, _ = check("Blue running shoes with a leather upper and black laces.", facts, nbrs)
    assert removed == ["black"]  # leather is borrowed (facts silent); colours never are


def test_banned_words_leave_the_supported_ones():
    facts = Facts(title="Roadster Men Blue Shirt", brand="Roadster", gender="Men")
    support = build_support(facts, [], LEX)
    nbr = Listing("1", "Puma Men Red Shirt", "A red shirt by Puma.")
    banned = banned_words(support, [nbr], LEX)
    assert {"red", "women", "her", "jeans", "Puma"} <= set(banned)
    assert not {"blue", "men", "shirt", "Roadster"} & set(banned)


def test_longest_shared_ngram_and_copy_cap():
    src = "Maroon printed casual shirt, has a spread collar, short sleeves, button placket"
    text = "Blue shirt, has a spread collar, short sleeves, button placket. Slim fit."
    n, (start, end) = longest_shared_ngram(text, [src])
    assert n == 9 and text[start:end].startswith("shirt, has")
    cut, removed = cut_copied(text, [src], cap=4)
    assert longest_shared_ngram(cut, [src])[0] <= 4 and removed
    assert cut_copied(text, [src], cap=9) == (text, [])


def test_prompt_controls_and_example_order():
    with pytest.raises(ValueError, match="length"):
        system_prompt("huge", "neutral", None)
    with pytest.raises(ValueError, match="tone"):
        system_prompt("short", "grumpy", None)
    nbrs = [Listing("a", "Closest", "closest text"), Listing("b", "Second", "second text")]
    msgs = build_messages(Facts(title="Mine"), nbrs, "short", "premium", "French", ["red"])
    assert "luxury" in msgs[0]["content"] and "French" in msgs[0]["content"]
    assert msgs[-2]["content"] == "closest text"  # the closest example sits next to the answer
    assert "Mine" in msgs[-1]["content"] and "Do not mention: red" in msgs[-1]["content"]


def test_a_removed_field_value_takes_its_label_and_glued_bullets_stay_apart():
    from shelfsight.tagging.describe.guard import remove_claims
    from shelfsight.tagging.describe.lexicon import Lexicon

    lx = Lexicon()

    def without(text, *values):
        return remove_claims(text, [c for c in lx.claims(text) if c.canonical in values])

    sheet = "Pattern: Printed. Finish: Matte. Material: Ceramic. Features: Dishwasher Safe"
    assert without(sheet, "ceramic") == "Pattern: Printed. Finish: Matte. Features: Dishwasher Safe"
    glued = "Finish: MatteMaterial: CeramicFeatures: Dishwasher Safe"
    assert without(glued, "ceramic") == "Finish: MatteFeatures: Dishwasher Safe"
    bullets = "A pair of sneakers, lace-up detailSynthetic upperCushioned footbed"
    kept = "A pair of sneakers, lace-up detail upperCushioned footbed"
    assert without(bullets, "synthetic") == kept


def test_a_field_whose_value_was_false_goes_whole_and_a_listed_one_loses_one_word():
    """Myntra's curtains: "Pattern: Floral DoorLight blocking: Regular" from a floral
    neighbour, for a plain curtain, once became "Pattern: Door", a pattern no one has."""
    from shelfsight.tagging.describe.details import DetailSlots

    lx = Lexicon(details=DetailSlots({"pattern": {"floral": 9, "solid": 4}}))

    def without(text, *values):
        return remove_claims(text, [c for c in lx.claims(text) if c.canonical in values])

    sheet = "Set content: 2 Door curtainsPattern: Floral DoorLight blocking: Regular"
    assert without(sheet, "floral") == "Set content: 2 Door curtainsLight blocking: Regular"
    assert without("Pattern: Floral Window. Lining: No", "floral") == "Lining: No"
    assert without("Colour: Red and White. Lining: No", "red") == "Colour: White. Lining: No"
