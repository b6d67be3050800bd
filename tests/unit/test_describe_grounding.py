"""Every word a description states comes from the product's facts; a colour field the
title contradicts is not stated (issue 28)."""

from shelfsight.tagging.describe.clauses import Clause, split_clauses
from shelfsight.tagging.describe.facts import Facts, colours_the_title_allows, title_colours
from shelfsight.tagging.describe.grounding import fact_words, grounded, ungrounded_words
from shelfsight.tagging.describe.guard import tidy
from shelfsight.tagging.describe.lexicon import Lexicon
from shelfsight.tagging.describe.writer import DescribeOptions, DescriptionWriter

SHERWANI = Facts(title="SG YUVRAJ Boys Blue & Brown Sherwani Set", brand="SG YUVRAJ", gender="Boys")


def texts(clauses):
    return [c.text for c in clauses]


def test_a_clause_with_a_word_the_facts_lack_goes_whatever_the_lexicon_knows():
    # "brooch" and "case" are no colour, material, product or mined detail: the lexicon
    # guard let them through.
    clauses = split_clauses("Blue sherwani set for boys, comes with a brooch. Comes in a case.")
    assert texts(grounded(clauses, SHERWANI)) == ["Blue sherwani set for boys"]


def test_words_the_title_has_in_another_spelling_are_grounded():
    facts = Facts(title="Jompers Men Teal Blue & Golden Self Design Tshirt", gender="Men")
    clauses = split_clauses("Teal blue and gold-coloured self-design T-shirts for men")
    assert texts(grounded(clauses, facts)) == [clauses[0].text]


def test_a_field_line_is_judged_by_its_value_and_a_bare_label_goes():
    facts = Facts(title="Homesake Green Solid Table Lamp")
    clauses = split_clauses("Pattern: Solid. Shape: Octagonal. Features. Warranty:")
    assert texts(grounded(clauses, facts)) == ["Pattern: Solid"]


def test_a_sentence_that_lost_its_opening_clause_opens_at_the_next_kept_one():
    facts = Facts(title="Roadster Men Black Round Neck T-shirt", gender="Men")
    clauses = split_clauses("Black printed T-shirt, has a round neck, short sleeves")
    kept = grounded(clauses, facts)
    assert texts(kept) == ["Has a round neck"] and kept[0].sentence_start
    head = Clause("Black T-shirt for men", True)
    assert texts(grounded(clauses, facts, head)) == ["Black T-shirt for men", "has a round neck"]


def test_the_audit_counts_the_words_no_fact_says():
    facts = Facts(title="Titan Women Blue Analogue Watch", brand="Titan", gender="Women")
    loose = ungrounded_words(
        ["Blue analogue watch. Comes in a Titan case, water resistant."], [facts]
    )
    assert sorted(loose[0]) == ["case", "resistant", "water"]
    assert "blue" in fact_words(facts) and "watch" in fact_words(facts)


def test_the_describer_states_no_neighbour_detail_its_facts_do_not_have():
    from shelfsight.tagging.describe.facts import Listing

    neighbours = [
        Listing(
            str(i),
            "Manyavar Boys Cream Sherwani Set",
            "Cream sherwani set, comes with a brooch, has a mandarin collar",
            brand="Manyavar",
        )
        for i in range(3)
    ]
    writer = DescriptionWriter(lexicon=Lexicon(["SG YUVRAJ", "Manyavar"]))
    for length in ("house", "short", "medium", "long"):
        for tone in ("neutral", "premium", "playful"):
            d = writer.describe(SHERWANI, neighbours, DescribeOptions(length=length, tone=tone))
            low = d.text.lower()
            assert not {"brooch", "cream", "mandarin"} & set(low.replace(",", " ").split()), d.text
            assert "sherwani" in low, d.text
    loose = DescriptionWriter(lexicon=Lexicon(["SG YUVRAJ", "Manyavar"]), grounding=False)
    assert "brooch" in loose.describe(SHERWANI, neighbours, DescribeOptions()).text


def test_a_colour_field_the_title_contradicts_gives_way_to_the_title():
    # Myntra's Primary_Color was read out of title words ("Layered" -> Red).
    assert Facts(title="Ahalyaa Women Grey Printed Layered Kurta", colours=["Red"]).colours == [
        "Grey"
    ]
    assert colours_the_title_allows(["Red"], "Puma Unisex Cream-Coloured Sneakers") == ["Cream"]
    # a shade of a colour the title names, a colour the title names among others, no
    # colour in the title: the field stands
    assert colours_the_title_allows(["Blue"], "Roadster Men Navy Jeans") == ["Blue"]
    assert colours_the_title_allows(["Navy"], "Orange & Navy Pullover") == ["Navy"]
    assert colours_the_title_allows(["Red"], "Clovia Cotton Non-Wired Bra") == ["Red"]
    assert title_colours("DKNY Silver-Toned & Black Trolley Bag") == ["Silver", "Black"]


def test_a_word_twice_in_a_row_is_a_seam():
    assert tidy("Black printed dress dress for women") == "Black printed dress for women"
