"""Length and tone controls, clauses, facts-only composition and the product-noun guard."""

from shelfsight.tagging.describe.clauses import Clause, join_clauses, split_clauses, uses_final_and
from shelfsight.tagging.describe.compose import (
    fact_clauses,
    head_clause,
    listing_name,
    name_sentence,
    summary_sentence,
)
from shelfsight.tagging.describe.controls import WORD_RANGES, apply_tone, fit_length, total_words
from shelfsight.tagging.describe.edit import drop_foreign_products
from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.grounding import ungrounded_words
from shelfsight.tagging.describe.guard import build_support
from shelfsight.tagging.describe.lexicon import Lexicon, catalogue_nouns
from shelfsight.tagging.describe.vocabulary import Vocabulary
from shelfsight.tagging.describe.writer import DescribeOptions, DescriptionWriter

HOUSE = "Navy blue checked casual shirt, has a spread collar, long sleeves, and curved hem"


def test_clauses_split_and_join_in_the_house_style():
    clauses = split_clauses(HOUSE)
    assert [c.text for c in clauses] == [
        "Navy blue checked casual shirt",
        "has a spread collar",
        "long sleeves",
        "curved hem",
    ]
    assert [sorted(c.slots) for c in clauses[1:]] == [["neck"], ["sleeves"], ["hem"]]
    assert uses_final_and(HOUSE)
    assert join_clauses(clauses, final_and=True) == HOUSE + "."
    # glued bullet points come apart; "Field: value" lines are slots of their own
    glued = split_clauses("A pair of sneakers, lace-up detailLeather upperWarranty: 3 months")
    assert [c.text for c in glued] == [
        "A pair of sneakers",
        "lace-up detail",
        "Leather upper",
        "Warranty: 3 months",
    ]
    assert glued[3].slots == {"field:warranty"}


def test_fit_length_cuts_and_adds_without_two_clauses_on_one_detail():
    clauses = split_clauses(HOUSE)
    short = fit_length(clauses, [], "short")
    assert total_words(short) <= WORD_RANGES["short"].high and short[0] == clauses[0]
    candidates = [
        Clause("has a button-down collar"),  # the neck is said already: skipped
        Clause("button placket"),
        Clause("1 patch pocket"),
        Clause("made for casual wear"),
        Clause("This shirt for men is from Roadster", sentence_start=True),
    ]
    medium = fit_length(clauses, candidates, "medium")
    words = total_words(medium)
    assert WORD_RANGES["medium"].low <= words <= WORD_RANGES["medium"].high
    assert "has a button-down collar" not in [c.text for c in medium]
    # a sentence of its own goes after every added clause, not in the middle
    long = fit_length(clauses, candidates, "long")
    assert long[-1].sentence_start and long[-1].text.startswith("This shirt")
    # "house" keeps the scaffold as it is
    assert fit_length(clauses, candidates, "house") == clauses
    # one clause longer than the budget is cut at a word that can end it
    prose = [Clause(" ".join(["word"] * 10 + ["with", "a"] + ["more"] * 10), True)]
    cut = fit_length(prose, [], "short")[0].text.split()
    assert len(cut) <= 15 and cut[-1] not in ("a", "with")


def test_tones_reframe_the_text_and_vary_their_wording_per_product():
    clauses = split_clauses(HOUSE)
    premium = join_clauses(apply_tone(clauses, "premium", "p1"))
    playful = join_clauses(apply_tone(clauses, "playful", "p1"))
    neutral = join_clauses(apply_tone(clauses, "neutral", "p1"))
    assert len({premium, playful, neutral}) == 3
    assert "featuring a spread collar" in premium and "has a" not in premium
    assert playful.count("!") == 1 and "It comes with a spread collar" in playful
    # the frame is picked per product: no fixed phrase opens (or ends) every text
    opens = {join_clauses(apply_tone(clauses, "premium", f"p{i}")).split()[1] for i in range(20)}
    assert len(opens) >= 3
    # a spec-sheet head is not wrapped: the frame gets a sentence of its own
    sheet = split_clauses("Display: Analogue. Power source: Battery")
    framed = join_clauses(apply_tone(sheet, "premium", "x", "black analogue watch"))
    assert framed.startswith("A ") and "black analogue watch. Display: Analogue." in framed
    shoes = join_clauses(apply_tone(split_clauses("White running shoes"), "premium", "x", "", True))
    assert not shoes.startswith(("A ", "An "))  # plural: no article


def test_facts_alone_give_a_head_clause_and_true_clauses():
    facts = Facts(
        brand="Roadster",
        gender="Men",
        colours=["Navy Blue"],
        tags={"articleType": "Shirts", "usage": "Casual", "season": "Fall"},
        palette=["Navy Blue", "White"],
    )
    lx = Lexicon(["Roadster"])
    assert head_clause(facts, lx) == "Navy blue casual shirt for men by Roadster"
    texts = [c.text for c in fact_clauses(facts, lx)]
    assert texts[:3] == ["made for casual wear", "with touches of white", "a fall piece"]
    summary = summary_sentence(facts, lx)
    assert summary is not None and summary.sentence_start
    assert summary.text == "This shirt for men is from Roadster, in navy blue"
    support = build_support(facts, [], lx)
    assert not [c for t in texts for c in lx.claims(t) if not support.supports(c)]


def test_product_nouns_must_agree_with_the_product_type():
    nouns = catalogue_nouns(["A Kaftan", "B Kaftan", "C Kaftans", "D Tops", "E Tops", "F Tops"])
    assert nouns == ["kaftan", "tops"]
    lx = Lexicon([], nouns)
    assert [c.canonical for c in lx.claims("a kaftans and kaftan")] == ["kaftan", "kaftan"]
    assert not lx.claims("a tank top")  # an everyday word stays out of the noun list
    facts = Facts(title="Roadster Men Navy Blue Casual Shirt", colours=["Navy Blue"])
    support = build_support(facts, [], lx)
    text = "Navy blue casual shirt, has a spread collar, kaftan sleeves, turtle jacket pocket"
    assert drop_foreign_products(text, support, lx) == "Navy blue casual shirt, has a spread collar"


def test_describer_removes_a_planted_foreign_noun_and_a_non_word_at_every_length():
    facts = Facts(title="Roadster Men Navy Blue Checked Casual Shirt", brand="Roadster")
    planted = Listing(
        "1",
        "HERE&NOW Men Red Checked Casual Shirt",
        "Red checked casual shirt, has a spread collar, cardigamer cuffs, turtle jacket "
        "pocket, long sleeves",
    )
    other = Listing("2", "x", "Black casual shirt, has a spread collar, long sleeves, curved hem")
    vocabulary = Vocabulary.from_texts([other.description, planted.title, "turtle pocket"])
    d = DescriptionWriter(None, Lexicon(["Roadster", "HERE&NOW"]), vocabulary, {other.description})
    for length in ("house", "short", "medium", "long"):
        for tone in ("neutral", "premium", "playful"):
            out = d.describe(facts, [planted, other], DescribeOptions(length=length, tone=tone))
            low = out.text.lower()
            assert "cardigamer" not in low and "jacket" not in low and "red" not in low.split()
            assert out.text not in (planted.description, other.description)
            assert out.text.lower().startswith(
                ("navy blue", "a ", "an ", "meet", "say", "look", "get", "introducing")
            )


def test_a_title_without_a_brand_column_lends_the_text_its_name():
    # The fashion sample has no brand column: its brand and model are only in the title.
    record = {"articleType": "Tshirts", "usage": "Casual", "season": "Fall"}
    title = "Puma Women cat line tee Purple Tshirts"
    facts = Facts(title=title, gender="Women", colours=["Purple"], tags=record)
    lx = Lexicon()
    assert listing_name(facts.title, lx) == "Puma cat line tee Purple Tshirts"
    head = head_clause(facts, lx)
    name = name_sentence(facts, lx, head)
    assert name is not None and name.sentence_start
    assert name.text == "Sold as the Puma cat line tee Purple Tshirts"
    text = DescriptionWriter().describe(facts, [], DescribeOptions(length="medium")).text
    assert "Sold as the Puma cat line tee" in text and len(text.split()) >= 15
    assert ungrounded_words([text], [facts]) == [[]]
    # A title the text already restates, brand and colours included, lends nothing.
    said = "Navy blue solid jeggings, in a skinny fit"
    listing = Facts(
        title="Ginger by Lifestyle Women Navy Blue Solid Skinny Fit Jeggings",
        brand="Ginger by Lifestyle",
        gender="Women",
        colours=["Navy Blue"],
    )
    assert name_sentence(listing, lx, said) is None


def test_a_glued_product_word_in_a_title_is_that_product():
    # "SweatShirt" was cut at its capital as a lost bullet break: a sweatshirt became a
    # "shirt", and quoting the title left "Sweat" and "Shirt" ungrounded.
    facts = Facts(title="Puma Men Logo Hooded Black SweatShirt", gender="Men", colours=["Black"])
    lx = Lexicon()
    assert head_clause(facts, lx) == "Black sweatshirt for men"
    text = DescriptionWriter().describe(facts, [], DescribeOptions(length="medium")).text
    assert "Sweatshirt" in text and ungrounded_words([text], [facts]) == [[]]


def test_a_product_noun_written_as_two_words_is_that_product():
    # Read a word at a time, flip flops were "flops", track pants a "pant" and sweat shirts
    # "shirts" (258 titles of the sample and Myntra's listings), and a photo of shoe
    # accessories was described as "shoes".
    lx = Lexicon()
    record = {"articleType": "Flip Flops", "usage": "Casual"}
    flip = Facts(title="UCB Men Speeder Yellow Flip Flops", gender="Men", tags=record)
    assert head_clause(flip, lx) == "Yellow casual flip-flops for men"
    track = Facts(title="Nike Men Tennis Black Track Pants", tags={"articleType": "Track Pants"})
    assert head_clause(track, lx) == "Black track pants"
    sweat = Facts(title="UCB Women Stripes Black Sweat Shirts", gender="Women")
    assert head_clause(sweat, lx) == "Black sweatshirts for women"
    pack = Facts(title="Campbell Men Pack of 3 Solid T- Shirts", colours=["White"])
    assert head_clause(pack, lx) == "White t-shirts"
    # A photo's type tag says the same.
    photo = Facts(colours=["Black"], tags={"articleType": "Track Pants"})
    assert head_clause(photo, lx) == "Black track pants"
    # Plurals the suffix rule missed: "scarves" was a "scarve", "dresses" no product.
    scarf = Facts(colours=["Purple"], tags={"articleType": "Scarves"})
    assert head_clause(scarf, lx) == "Purple scarf"
    assert [c.canonical for c in lx.claims("Blue Dresses")] == ["blue", "dress"]
    # A type label's product is its last word: shoe accessories are not shoes.
    laces = Facts(colours=["Black"], tags={"articleType": "Shoe Accessories"})
    assert head_clause(laces, lx) == "Black shoe accessory"
    duffel = Facts(colours=["Black"], tags={"articleType": "Duffel Bag"})
    assert head_clause(duffel, lx) == "Black duffel bag"
    # Words apart are still apart: a shirt beside sweat stains is a shirt.
    assert [c.canonical for c in lx.claims("sweat, shirt") if c.category == "article"] == ["shirt"]
    # The one word the text says for the title's two is a word, and its sentence stays.
    titles = ["Puma Men Solid Grey Core Sweat Pants", "Nike Men Black Track Pants"]
    facts = Facts(title=titles[0], gender="Men", colours=["Grey"])
    text = head_clause(facts, lx)
    assert text == "Grey sweatpants for men"
    assert Vocabulary.from_texts(titles).unknown(text, facts) == []
    assert ungrounded_words([text], [facts]) == [[]]


def test_a_photo_whose_type_is_unsure_is_still_described_in_a_sentence():
    # A photo's type too unsure to tag left only its broad family: "Black Apparel Casual."
    writer = DescriptionWriter()
    for broad, said in (("Apparel", "apparel"), ("Personal Care", "personal care item")):
        facts = Facts(colours=["Black"], gender="Men", tags={"masterCategory": broad})
        text = writer.describe(facts, [], DescribeOptions(length="medium")).text
        assert text.startswith(f"Black {said} for men")
        assert ungrounded_words([text], [facts]) == [[]]
    tagged = Facts(colours=["Navy Blue"], tags={"masterCategory": "Accessories", "usage": "Casual"})
    assert head_clause(tagged, Lexicon()) == "Navy blue casual accessory"
    # No family of what it is at all: still a product, not "White Casual."
    bare = Facts(colours=["White"], tags={"usage": "Casual"})
    text = writer.describe(bare, [], DescribeOptions(length="medium")).text
    assert text == "White casual product." and ungrounded_words([text], [bare]) == [[]]


def test_one_product_is_said_in_the_singular_unless_it_is_a_pair():
    # The sample's titles end on their type's label: one watch is not "watches".
    lx = Lexicon()
    watch = Facts(title="Titan Men Black Watches", gender="Men", tags={"articleType": "Watches"})
    assert head_clause(watch, lx) == "Black watch for men"
    shoes = Facts(title="iD Men Casual Black Shoes", tags={"articleType": "Casual Shoes"})
    assert head_clause(shoes, lx) == "Black shoes"
    pack = Facts(title="Fila Women White Pack of 3 Socks", tags={"articleType": "Socks"})
    assert head_clause(pack, lx) == "White socks"
    # A photo's facts (its type tag, no title) say the same as its record.
    photo = Facts(gender="Men", colours=["Black"], tags={"articleType": "Casual Shoes"})
    assert head_clause(photo, lx) == "Black shoes for men"
    summary = summary_sentence(Facts(brand="Puma", colours=["Black"], tags=photo.tags), lx)
    assert summary is not None and summary.text == "These shoes are from Puma, in black"


def test_a_text_shorter_than_its_length_says_why():
    from shelfsight.tagging.describe.writer import Description

    facts = Facts(title="Roadster Men Navy Blue Shirt", brand="Roadster", gender="Men")
    short = Description("Navy blue shirt for men by Roadster.", facts, [], length="medium")
    assert short.length_note.startswith("7 words, under the 20-40 of a medium text")
    assert "give more fields" in short.length_note
    offered = [{"slot": "sleeve", "value": "long", "text": "long sleeves", "agreement": 3}]
    confirm = Description(short.text, facts, [], length="long", to_confirm=offered)
    assert "50-90" in confirm.length_note and "confirming the details" in confirm.length_note
    assert Description(short.text, facts, [], length="house").length_note == ""
    assert Description(short.text, facts, [], length="short").length_note == ""
    assert "length_note" in short.as_dict()
