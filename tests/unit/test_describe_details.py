"""Details mined from a catalogue's descriptions, checked against a product's facts."""

from shelfsight.tagging.describe.details import DetailSlots, mine_details
from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.guard import build_support, remove_claims, unsupported
from shelfsight.tagging.describe.lexicon import Lexicon
from shelfsight.tagging.describe.writer import (
    DescribeOptions,
    DescriptionWriter,
    details_to_confirm,
)

HOUSE = [
    "Navy blue solid casual shirt, has a spread collar, long sleeves, curved hem",
    "White printed casual shirt, has a mandarin collar, short sleeves, straight hem",
    "Black checked casual shirt, has a button-down collar, long sleeves, curved hem",
    "Blue mid-rise slim fit jeans, clean look, light fade, has 5 pockets",
    "Grey high-rise skinny jeans, clean look, heavy fade, has 5 pockets",
    "Red printed kurta, sleeveless, has a V-neck, straight hem",
    "Green solid kurta, sleeveless, has a V-neck, curved hem",
    "Set content: 1 curtain. Pattern: Floral. Fitting: Eyelet",
    "Set content: 2 curtains. Pattern: Geometric. Fitting: Eyelet",
]


def lexicon(times=6):
    return Lexicon.for_catalogue(["Roadster"], ["shirt", "jeans", "kurta"], HOUSE * times)


def test_slots_and_values_come_from_the_text():
    d = lexicon().details
    assert {"long", "short"} <= set(d.slots["sleeve"])
    assert {"spread", "mandarin", "button-down"} <= set(d.slots["collar"])
    assert {"floral", "geometric"} <= set(d.slots["pattern"])  # a "Field: value" line
    assert "mid-rise" in d.slots["style"]  # a detail of the product in the head clause
    assert "sleeveless" in d.value_slot  # a one-word detail is its own slot
    assert "navy" not in d.value_slot and "shirt" not in d.value_slot  # claims of their own
    assert "pattern" not in d.value_slot  # a field's name is not a value
    assert DetailSlots.from_json(d.to_json()).slots == d.slots


def test_too_few_clauses_make_no_slot():
    assert not mine_details(HOUSE, ["shirt", "jeans", "kurta"], min_slot=10)


def test_a_detail_is_supported_only_by_this_products_facts():
    lx = lexicon()
    facts = Facts(title="Roadster Men Navy Blue Slim Fit Mid Rise Jeans", colours=["Navy Blue"])
    support = build_support(facts, [], lx)
    text = "Navy blue mid-rise slim fit jeans, clean look, heavy fade, has 5 pockets"
    bad = {c.text for c in unsupported(text, support, lx)}
    assert bad == {"clean", "heavy", "5"}  # "Mid Rise" and "Slim Fit" are in the title
    # an unsupported detail takes its clause; the head keeps what the title supports
    assert (
        remove_claims(text, unsupported(text, support, lx)) == "Navy blue mid-rise slim fit jeans"
    )


def test_a_medium_bag_is_never_large_and_a_floral_curtain_never_geometric():
    lx = Lexicon.for_catalogue(
        [],
        ["bag", "curtain"],
        [
            "Black printed large trolley bag, has a zip closure",
            "Grey medium trolley bag, has a zip closure",
            "Blue small trolley bag, has a zip closure",
        ]
        * 4
        + HOUSE * 6,
    )
    facts = Facts(title="DKNY Unisex Black & Grey Printed Medium Trolley Bag")
    support = build_support(facts, [], lx)
    text = "Black printed large trolley bag, has a zip closure"
    assert [c.text for c in unsupported(text, support, lx)] == ["large", "zip"]
    assert remove_claims(text, unsupported(text, support, lx)) == "Black printed trolley bag"
    curtain = build_support(Facts(title="Soumya Floral Single Door Curtain"), [], lx)
    sheet = "Set content: 1 curtain. Pattern: Geometric. Fitting: Eyelet"
    out = remove_claims(sheet, unsupported(sheet, curtain, lx))
    assert "Geometric" not in out and "Eyelet" not in out


def test_details_the_neighbours_agree_on_are_offered_to_confirm_never_stated():
    lx = lexicon()
    facts = Facts(title="Roadster Men Olive Casual Shirt", brand="Roadster", colours=["Olive"])
    nbrs = [
        Listing(str(i), f"Men Casual Shirt {i}", d)
        for i, d in enumerate(
            [
                "Black solid casual shirt, has a spread collar, long sleeves, curved hem",
                "Blue solid casual shirt, has a spread collar, long sleeves, straight hem",
                "Red solid casual shirt, has a mandarin collar, short sleeves, curved hem",
            ]
        )
    ]
    writer = DescriptionWriter(None, lx)
    for length in ("house", "short", "medium", "long"):
        for tone in ("neutral", "premium", "playful"):
            out = writer.describe(facts, nbrs, DescribeOptions(length=length, tone=tone), nbrs)
            low = out.text.lower()
            for word in ("spread", "long sleeves", "curved", "mandarin", "solid"):
                assert word not in low, (length, tone, out.text)
    offered = {(c["slot"], c["value"]) for c in out.to_confirm}
    assert {("collar", "spread"), ("sleeve", "long"), ("hem", "curved")} <= offered
    # confirmed (sent back as a fact), a detail is stated
    confirmed = Facts(title=facts.title, brand="Roadster", colours=["Olive"])
    confirmed.extra = {"sleeve": "long"}
    out = writer.describe(confirmed, nbrs, DescribeOptions(length="medium"), nbrs)
    assert "long sleeves" in out.text.lower()
    assert ("sleeve", "long") not in {(c["slot"], c["value"]) for c in out.to_confirm}


def test_details_to_confirm_need_two_listings():
    lx = lexicon()
    facts = Facts(title="Men Casual Shirt")
    one = [Listing("1", "Men Shirt", "White solid casual shirt, has a spread collar")]
    support = build_support(facts, [], lx)
    assert details_to_confirm(facts, one, lx, support) == []


def test_a_photos_facts_never_name_another_colour_than_its_colour_tag():
    from shelfsight.tagging.describe.facts import facts_from_tagging
    from shelfsight.tagging.describe.writer import template_text
    from shelfsight.tagging.results import TagScore

    palette = [("Black", 0.73), ("Brown", 0.27)]
    unsure = {
        "baseColour": TagScore("baseColour", "Brown", 0.35),
        "articleType": TagScore("articleType", "Handbags", 0.9),
    }
    facts = facts_from_tagging(unsure, palette)
    assert facts.colours == [] and facts.palette == []  # the card shows Brown, to check
    sure = {**unsure, "baseColour": TagScore("baseColour", "Black", 0.9)}
    facts = facts_from_tagging(sure, palette)
    assert facts.colours == ["Black"] and "Black" in facts.palette
    # no title: what the product is, in words, not its tag values in a row
    facts.gender = "Women"
    assert template_text(facts) == "Black handbag for women."
