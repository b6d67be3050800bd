"""Retrieve-and-edit: the nearest description re-filled with this product's facts."""

from shelfsight.tagging.describe.edit import edit_description
from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.lexicon import Lexicon, words

LEX = Lexicon(["Roadster", "Parx", "Flying Machine"])
SHIRT = Listing(
    "1",
    "Roadster Men Navy Blue Checked Casual Shirt",
    "Navy blue checked casual shirt, has a spread collar, long sleeves, curved hem",
)


def facts(title, brand="", gender="Men"):
    return Facts(title=title, brand=brand, gender=gender)


def test_colour_and_pattern_come_from_this_products_title():
    out = edit_description(
        facts("Parx Men Maroon & White Striped Casual Shirt", "Parx"), [SHIRT], LEX
    )
    assert out is not None and out.scaffold_id == "1"
    assert out.text.startswith("Maroon and white striped casual shirt, has a spread collar")
    assert "navy" not in out.text.lower() and "checked" not in out.text.lower()


def test_claims_the_facts_do_not_make_are_removed():
    leather = Listing("2", "x", "Black leather belt for men, has a buckle closure")
    out = edit_description(facts("Parx Women Black Solid Belt", "Parx", "Women"), [leather], LEX)
    assert out is not None
    assert "leather" not in out.text.lower() and "men" not in out.text.lower().split()


def test_the_article_noun_is_this_products_and_another_kind_is_no_scaffold():
    kurta = Listing(
        "2",
        "Libas Women Maroon Printed Straight Kurta",
        "Maroon printed straight kurta, has a mandarin collar, three-quarter sleeves",
    )
    out = edit_description(facts("Libas Women Maroon Printed Kurti", "Libas"), [kurta], LEX)
    assert out is not None and "kurti" in out.text.lower() and "kurta" not in out.text.lower()
    # a shirt's description is no scaffold for a kurta, however near its title
    kurta_facts = facts("Roadster Men Navy Blue Checked Casual Kurta", "Roadster")
    assert edit_description(kurta_facts, [SHIRT], LEX) is None
    assert edit_description(kurta_facts, [SHIRT, kurta], LEX).scaffold_id == "2"


def test_never_an_existing_description_verbatim():
    same = facts("Roadster Men Navy Blue Checked Casual Shirt", "Roadster")
    existing = {SHIRT.description}
    out = edit_description(same, [SHIRT], LEX, existing)
    assert out is not None and out.text not in existing
    assert "Roadster" in out.text  # the brand is worked in rather than a clause dropped
    nameless = edit_description(facts("Men Navy Blue Checked Casual Shirt"), [SHIRT], LEX, existing)
    assert nameless is not None and nameless.text not in existing


def test_every_word_comes_from_the_scaffold_or_the_facts():
    f = facts("Flying Machine Boys Orange & Navy Typography Self Design Pullover", "Flying Machine")
    scaffold = Listing("3", "x", "Navy, green and red typography self-design pullover, has a hood")
    out = edit_description(f, [scaffold], LEX)
    assert out is not None
    allowed = {w for w, _, _ in words(scaffold.description + " " + f.title)} | {"and"}
    assert {w for w, _, _ in words(out.text)} <= allowed
    assert out.text.startswith("Orange and navy typography self-design pullover")


def test_no_description_to_edit_gives_none():
    assert edit_description(facts("Parx Men Blue Shirt"), [Listing("4", "x", "")], LEX) is None


def test_a_set_is_its_first_piece_with_the_rest():
    """ "Kurta with Palazzos" was described as "Grey palazzos for women": the last product
    noun of a title is not the product when it follows "with"."""
    from shelfsight.tagging.describe.compose import head_clause, head_noun

    lx = Lexicon(["Ahalyaa"], articles=["kurta", "palazzos", "trousers", "dupatta"])
    kurta = Facts(
        title="Ahalyaa Women Grey Printed Layered Kurta with Palazzos",
        brand="Ahalyaa",
        gender="Women",
        colours=["Grey"],
    )
    assert head_clause(kurta, lx) == "Grey kurta with palazzos for women by Ahalyaa"
    scaffold = Listing("2", "Libas Women Pink Kurta", "Pink printed kurta, has a round neck")
    out = edit_description(kurta, [scaffold], lx)
    assert out is not None and out.text.startswith("Grey printed kurta")
    detail = Facts(title="Parx Men Shirt with Printed Detail", gender="Men")
    assert head_clause(detail, lx) == "Shirt for men"
    # The first piece unknown ("top" has other meanings), the pieces after "with" are
    # still not the product: a top with dhoti pants is not "pants".
    top = Facts(title="BownBee Girls Yellow Top with Dhoti Pants", colours=["Yellow"])
    assert head_noun(top.title, lx) is None
    striped = "AURELIA Women Navy Blue Striped with Floral Printed Detail Straight Kurta"
    found = head_noun(striped, lx)
    assert found is not None and found.canonical == "kurta"


def test_the_title_says_the_colours_in_its_own_words():
    from shelfsight.tagging.describe.facts import colours_to_say, title_colours

    assert title_colours("Navy Blue Solid Skinny Fit Jeggings") == ["Navy Blue"]
    assert title_colours("Red & White Window Curtain") == ["Red", "White"]
    # The colour field's Blue and Navy, as the title writes them.
    assert colours_to_say(["Blue"], "Women Navy Blue Jeggings") == ["Navy Blue"]
    assert colours_to_say(["Navy"], "Boys Orange & Navy Pullover") == ["Orange", "Navy"]
    assert colours_to_say(["Green"], "Women Navy Blue Jeggings") == ["Green"]
    assert colours_to_say([], "Women Navy Blue Jeggings") == ["Navy Blue"]
