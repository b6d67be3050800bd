"""Catalogue text reaches descriptions as plain words (issue 24): HTML rendered, formulas
disarmed."""

from shelfsight.indexer.catalogue import Product
from shelfsight.indexer.plain_text import plain_text
from shelfsight.tagging.describe.facts import listing_from_product


def test_html_becomes_its_words_and_scripts_vanish():
    html = "<p>Soft <b>cotton</b> tee</p><script>alert(1)</script><ul><li>crew &amp; neck</li></ul>"
    assert plain_text(html) == "Soft cotton tee * crew & neck"


def test_plain_text_with_angle_brackets_is_left_alone():
    assert plain_text("fits waists < 80 cm and > 60 cm") == "fits waists < 80 cm and > 60 cm"


def test_a_formula_loses_its_trigger():
    assert plain_text("=cmd|' /C calc'!A0") == "cmd|' /C calc'!A0"
    assert plain_text("  @SUM(A1)") == "SUM(A1)"


def test_a_neighbour_listing_holds_no_html_or_formula():
    product = Product(
        1,
        "p1",
        "<b>Roadster</b> Men Blue Shirt",
        None,
        None,
        {"articleType": "Shirts"},
        {"description": "<div><p>A blue shirt.</p><img src=x onerror=alert(1)></div>",
         "brand": "=HYPERLINK(\"http://x\")"},
    )  # fmt: skip
    listing = listing_from_product(product, roles={"description": "description", "brand": "brand"})
    assert listing.title == "Roadster Men Blue Shirt"
    assert listing.description == "A blue shirt."
    assert listing.brand == 'HYPERLINK("http://x")'
