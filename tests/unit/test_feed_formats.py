"""Shop exports and product feeds read into one row per product (issue 29): the fixtures
are written from each platform's documented format, hostile rows included."""

from pathlib import Path

import pytest

from shelfsight.indexer.formats import detect, read_catalogue
from shelfsight.indexer.formats.table import CatalogueError

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def products(name):
    table = read_catalogue(FEEDS / name)
    return table, {r.values["id"]: r.values for r in table.rows if not r.error}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("shopify_products.csv", "shopify"),
        ("woocommerce_products.csv", "woocommerce"),
        ("google_feed.tsv", "google-feed"),
        ("google_feed.xml", "google-feed"),
    ],
)
def test_the_format_is_told_from_the_header_or_root_element(name, fmt):
    assert detect(FEEDS / name) == fmt


def test_plain_csv_and_jsonl_are_still_themselves(tmp_path):
    (tmp_path / "a.csv").write_text("id,title,colour\n1,Red tee,Red\n")
    (tmp_path / "a.jsonl").write_text('{"id": "1", "title": "Red tee"}\n')
    assert detect(tmp_path / "a.csv") == "csv"
    assert detect(tmp_path / "a.jsonl") == "jsonl"
    assert read_catalogue(tmp_path / "a.csv").preset is None


def test_shopify_variant_and_image_rows_fold_into_one_product():
    table, got = products("shopify_products.csv")
    assert list(got)[:3] == ["classic-white-tee", "denim-jacket", "canvas-tote"]
    tee = got["classic-white-tee"]
    assert tee["title"] == "Classic White Tee"
    # HTML rendered to words: tags and the script gone, the entity decoded
    assert tee["description"] == "A soft cotton tee & easy fit."
    assert tee["photos"] == [f"{{base}}/{n}.jpg" for n in (1, 2)]
    assert tee["image"] == "{base}/1.jpg"
    assert tee["Color"] == "White"  # both variants are white: a family
    assert tee["tags"] == ["summer", "cotton", "basics"]  # a list, not one string
    assert (tee["category_1"], tee["category_2"], tee["category_3"]) == (
        "Apparel & Accessories",
        "Clothing",
        "Shirts & Tops",
    )
    assert tee["product_type"] == "Tshirts" and tee["gender"] == "female"
    jacket = got["denim-jacket"]
    assert "Color" not in jacket  # blue and black variants: no one colour
    assert [v["Color"] for v in jacket["variants"]] == ["Blue", "Black"]
    # image rows by position, the variant's own image after them
    assert jacket["photos"] == ["{base}/3.jpg", "{base}/5.jpg", "{base}/4.jpg"]
    assert jacket["category_4"] == "Coats & Jackets"
    assert "ghost-socks" in got and "image" not in got["ghost-socks"]
    assert table.preset.colour_column == "Color"
    assert table.preset.brand_column == "brand" and got["canvas-tote"]["brand"] == "Harbour"


def test_woocommerce_variations_join_their_parent_by_id_or_sku():
    table, got = products("woocommerce_products.csv")
    tee = got["101"]
    assert tee["photos"] == ["{base}/7.jpg", "{base}/8.jpg", "{base}/gone-back.jpg"]
    assert tee["Color"] == "Navy Blue"
    assert tee["categories"] == ["Clothing > Tshirts", "Clothing"]
    assert (tee["category_1"], tee["category_2"]) == ("Clothing", "Tshirts")
    assert tee["tags"] == ["stripes", "navy"]
    hoodie = got["102"]
    assert hoodie["photos"] == ["{base}/9.jpg", "{base}/10.jpg"]  # a variation's photo joins
    assert [v["sku"] for v in hoodie["variants"]] == ["HD-1-GRY", "HD-1-BLK"]
    assert "Color" not in hoodie
    orphans = [r for r in table.rows if r.error]
    assert len(orphans) == 1 and "id:999" in orphans[0].error


@pytest.mark.parametrize("name", ["google_feed.tsv", "google_feed.xml"])
def test_a_feed_folds_an_item_group_and_keeps_every_offer_id(name):
    table, got = products(name)
    shirt = got["LS"]
    assert shirt["variant_ids"] == ["LS-S", "LS-M"]
    assert shirt["photos"] == ["{base}/12.jpg", "{base}/13.jpg", "{base}/14.jpg"]
    assert shirt["color"] == "White" and shirt["material"] == "linen"
    assert shirt["description"] == "Airy linen shirt."
    assert (shirt["product_type_1"], shirt["product_type_3"]) == ("Men", "Casual Shirts")
    assert shirt["google_category_3"] == "Shirts & Tops"
    assert got["WAL-1"]["google_category"] == "6552"  # a numeric category stays whole
    assert table.preset.colour_column == "color"


def test_an_xml_bomb_is_refused_before_anything_expands():
    with pytest.raises(CatalogueError, match="declares entities"):
        read_catalogue(FEEDS / "google_feed_bomb.xml")


def test_a_feed_cut_short_keeps_the_items_before_the_break(tmp_path):
    text = (FEEDS / "google_feed.xml").read_text()
    cut = text[: text.index("<g:id>WAL-1</g:id>") + 40]
    (tmp_path / "cut.xml").write_text(cut)
    table = read_catalogue(tmp_path / "cut.xml")
    assert [r.values["id"] for r in table.rows if not r.error] == ["LS"]
    assert "malformed XML" in next(r for r in table.rows if r.error).error


def test_an_unknown_xml_document_is_not_taken_for_a_feed(tmp_path):
    (tmp_path / "x.xml").write_text("<catalog><book id='1'/></catalog>")
    with pytest.raises(CatalogueError, match="no product feed"):
        read_catalogue(tmp_path / "x.xml")
