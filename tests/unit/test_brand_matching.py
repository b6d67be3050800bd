import pytest

from shelfsight.tagging.pixels.ocr import BrandMatcher, brand_from_title, brand_lexicon, normalise

TITLES = [
    "Wrangler Men Blue Custom Jeans",
    "Wrangler Women Black Jeans",
    "United Colors of Benetton Men Red Shirt",
    "United Colors of Benetton Women Top",
    "Puma Unisex Cat Logo White Caps",
    "Puma Men Black Shoes",
    "AND Women Green Dress",
    "AND Women Blue Top",
    "Lonely Brand Men Shirt",
]


def test_brand_is_the_words_before_the_gender():
    assert (
        brand_from_title("United Colors of Benetton Men Red Shirt") == "United Colors of Benetton"
    )
    assert brand_from_title("Fabindia Kurta") == "Fabindia"
    assert brand_from_title("") is None


def test_lexicon_from_titles_or_brand_column():
    lex = brand_lexicon(TITLES)
    assert lex == ["AND", "Puma", "United Colors of Benetton", "Wrangler"]  # seen twice or more
    assert brand_lexicon(TITLES, brands=["Nike", " Nike ", ""]) == ["Nike"]


@pytest.mark.parametrize(
    ("ocr", "brand"),
    [
        (["WRANGLER"], "Wrangler"),  # case
        (["Wran gler"], "Wrangler"),  # spacing
        (["WRANGIER"], "Wrangler"),  # one-character OCR error (L read as I)
        (["wrang1er"], "Wrangler"),
        (["SALE", "united colors of", "benetton"], None),  # split over lines: no false hit
        (["UNITED COLORS OF BENETTON"], "United Colors of Benetton"),
        (["PUMA", "RUN"], "Puma"),
        (["AND"], "AND"),  # a short brand alone on its line
        (["ROCK AND ROLL"], None),  # ...but not inside other words
        (["PUMPKIN"], None),
        ([], None),
    ],
)
def test_fuzzy_brand_matching(ocr, brand):
    m = BrandMatcher(brand_lexicon(TITLES)).match(ocr)
    assert (m.brand if m else None) == brand


def test_match_reports_its_evidence():
    m = BrandMatcher(["Wrangler"]).match(["Blue WRANGIER denim"])
    assert m.brand == "Wrangler" and m.evidence == "WRANGIER" and 85 <= m.score < 100


def test_normalise():
    assert normalise("Allen  Solly!") == "allensolly"
