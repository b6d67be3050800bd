"""Each platform's export ingested end to end (issue 29): photos fetched from a local
server, hostile rows skipped with their reasons and nothing else lost; a re-run fetches
nothing; the tags go back out in the platform's import shape."""

import csv
import io
import json
from pathlib import Path

import pytest

import shelfsight
from shelfsight.indexer.formats import read_catalogue
from shelfsight.indexer.remote_photos.fetch import FetchOptions
from tests.photo_server import PhotoHost, jpeg, serving

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
FETCH = FetchOptions(allow_private=True, read_timeout=0.4, deadline=0.8, retries=0)

EXPECTED = {
    "shopify_products.csv": (
        {"classic-white-tee", "denim-jacket", "canvas-tote"},
        {
            "ghost-socks": "missing image",
            "broken-link-cap": "http error",
            "loop-scarf": "too many redirects",
            "slow-belt": "url timed out",
            "html-hat": "not an image",
        },
    ),
    "woocommerce_products.csv": (
        {"101", "102"},
        {"105": "missing image", "106": "http error", "108": "bad tag value", "": "malformed row"},
    ),
    "google_feed.tsv": (
        {"LS", "WAL-1"},
        {"PG-1": "not an image", "LP-1": "too many redirects", "": "malformed row"},
    ),
    "google_feed.xml": ({"LS", "WAL-1"}, {"NO-IMG": "missing image", "DEAD-1": "http error"}),
}
# each product's other views, as stored behind its first photo (by the host's file names)
OTHER_PHOTOS = {
    "shopify_products.csv": {"classic-white-tee": ["2"], "denim-jacket": ["5", "4"]},
    "woocommerce_products.csv": {"101": ["8"], "102": ["10"]},
    "google_feed.tsv": {"LS": ["13", "14"]},
    "google_feed.xml": {"LS": ["13", "14"]},
}


@pytest.fixture()
def host():
    photos = {f"/{i}.jpg": jpeg((15 * i, 120, 240 - 12 * i)) for i in range(1, 17)}
    with serving(PhotoHost(photos=photos, stall_seconds=1.5)) as h:
        yield h


def render(name, host, tmp_path):
    out = tmp_path / name
    out.write_text((FEEDS / name).read_text().replace("{base}", host.base))
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_format_ingests_its_fixture_and_skips_only_the_hostile_rows(name, host, tmp_path):
    shelf = shelfsight.open(tmp_path / "ws", create=True)
    feed = render(name, host, tmp_path)
    report = shelf.ingest(feed, fetch=FETCH)
    want_ids, want_skips = EXPECTED[name]
    assert {p.id for p in shelf.catalogue.iter_products()} == want_ids
    assert {s.id: s.reason for s in report.skipped} == want_skips
    for product in shelf.catalogue.iter_products():
        assert Path(product.image_path).is_relative_to(shelf.workspace.home / "images")
        assert product.fields["image"].startswith(host.base)  # where it came from, kept
        assert shelf.image(product.id, "thumb")[1] == "image/jpeg"
    photos = shelf.catalogue.photos(p.key for p in shelf.catalogue.iter_products())
    by_id = {p.id: p.key for p in shelf.catalogue.iter_products()}
    named = {
        pid: [ph.source.rsplit("/", 1)[1].split(".")[0] for ph in photos[key]]
        for pid, key in by_id.items()
        if key in photos
    }
    assert named == OTHER_PHOTOS[name]
    assert all(ph.position == n for ps in photos.values() for n, ph in enumerate(ps, 1))
    assert report.other_photos == sum(map(len, OTHER_PHOTOS[name].values()))
    # an other view that cannot be fetched leaves the product and its other photos in
    lost = {(s.id, s.reason) for s in report.photo_skips}
    assert lost == ({("101", "http error")} if name.startswith("woo") else set())
    bodies = sum(host.bodies.values())
    again = shelf.ingest(feed, fetch=FETCH)
    assert again.unchanged == len(want_ids) and again.added == again.updated == 0
    assert again.photos.downloaded == 0 and sum(host.bodies.values()) == bodies


def test_the_families_and_roles_come_from_the_format(host, tmp_path):
    shelf = shelfsight.open(tmp_path / "ws", create=True)
    report = shelf.ingest(render("shopify_products.csv", host, tmp_path), fetch=FETCH)
    assert report.format == "shopify"
    assert report.columns["colour"] == "Color" and report.columns["brand"] == "brand"
    tee = shelf.product("classic-white-tee")
    assert tee.tags["Color"] == "White" and tee.tags["category_3"] == "Shirts & Tops"
    assert tee.fields["tags"] == ["summer", "cotton", "basics"]
    assert tee.fields["description"] == "A soft cotton tee & easy fit."


def test_photo_urls_without_a_fetcher_are_skipped_not_crashed(host, tmp_path):
    from shelfsight.indexer.catalogue import Catalogue
    from shelfsight.indexer.ingest import ColumnOptions, ingest_file

    catalogue = Catalogue(tmp_path / "c.db")
    feed = render("google_feed.xml", host, tmp_path)
    report = ingest_file(catalogue, feed, None, ColumnOptions(), progress=False)
    assert catalogue.count() == 0
    assert report.skip_reasons()["photo is a URL"] == 3


def _export(shelf, fmt, **kw):
    return "".join(shelf.export(fmt, **kw))


def test_shopify_export_updates_by_handle_with_tags_and_metafields(host, tmp_path):
    shelf = shelfsight.open(tmp_path / "ws", create=True)
    shelf.ingest(render("shopify_products.csv", host, tmp_path), fetch=FETCH)
    text = _export(shelf, "shopify", families=["product_type", "Color"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "Handle",
        "Title",
        "Tags",
        "product_type (product.metafields.shelfsight.product_type)",
        "Color (product.metafields.shelfsight.color)",
    ]
    tee = next(r for r in rows if r["Handle"] == "classic-white-tee")
    # the product's own tags kept (an import replaces the cell), ours added
    assert tee["Tags"] == "summer, cotton, basics, product_type:Tshirts, Color:White"
    assert tee["Color (product.metafields.shelfsight.color)"] == "White"
    # re-read as a Shopify file: the same products, by handle, with their tags
    out = tmp_path / "back.csv"
    out.write_text(text)
    again = read_catalogue(out)
    assert again.format == "shopify"
    assert {r.values["id"]: r.values["tags"] for r in again.rows}["classic-white-tee"] == [
        "summer",
        "cotton",
        "basics",
        "product_type:Tshirts",
        "Color:White",
    ]


def test_a_supplemental_feed_has_one_row_per_offer_in_googles_words(host, tmp_path):
    shelf = shelfsight.open(tmp_path / "ws", create=True)
    shelf.ingest(render("google_feed.tsv", host, tmp_path), fetch=FETCH)
    rows = list(csv.DictReader(io.StringIO(_export(shelf, "google-feed")), delimiter="\t"))
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"LS-S", "LS-M", "WAL-1"}
    assert by_id["LS-M"]["color"] == "White" and by_id["LS-M"]["gender"] == "male"
    assert by_id["LS-S"]["product_type"] == "Men > Shirts > Casual Shirts"
    assert by_id["LS-S"]["google_product_category"] == (
        "Apparel & Accessories > Clothing > Shirts & Tops"
    )
    assert by_id["WAL-1"]["google_product_category"] == "6552"


def test_woocommerce_and_jsonl_exports(host, tmp_path):
    shelf = shelfsight.open(tmp_path / "ws", create=True)
    shelf.ingest(render("woocommerce_products.csv", host, tmp_path), fetch=FETCH)
    rows = list(csv.DictReader(io.StringIO(_export(shelf, "woocommerce"))))
    tee = next(r for r in rows if r["ID"] == "101")
    assert tee["SKU"] == "TS-1" and tee["Name"] == "Striped Tshirt"
    names = {tee[f"Attribute {n} name"]: tee[f"Attribute {n} value(s)"] for n in (1, 2, 3)}
    assert names["Color"] == "Navy Blue" and names["category_2"] == "Tshirts"
    lines = [json.loads(x) for x in _export(shelf, "jsonl").splitlines()]
    assert {x["id"] for x in lines} == {"101", "102"}
    assert lines[0]["tags"]["category_1"] == "Clothing" and lines[0]["reviewed"] is False
    assert _export(shelf, "csv", only_reviewed=True).count("\n") == 1  # the header only


def test_export_cells_cannot_run_as_formulas(tmp_path):
    shelf = shelfsight.open(tmp_path / "ws", create=True)
    (tmp_path / "p.jpg").write_bytes(jpeg((10, 10, 10)))
    (tmp_path / "c.csv").write_text(
        'id,title,colour\n1,"=HYPERLINK(""http://x"",""y"")",Red\n2,"@SUM(A1)",Blue\n'
    )
    shelf.ingest(tmp_path / "c.csv", tmp_path, shelfsight.ColumnOptions(image_pattern="p.jpg"))
    for fmt in ("csv", "shopify", "woocommerce"):
        rows = list(csv.reader(io.StringIO(_export(shelf, fmt))))
        titles = [c for row in rows[1:] for c in row if "HYPERLINK" in c or "SUM" in c]
        assert titles and all(t.startswith("'") for t in titles), fmt


def test_a_bad_export_option_fails_before_the_first_line(tmp_path):
    shelf = shelfsight.open(tmp_path / "ws", create=True)
    with pytest.raises(shelfsight.BadInput, match="unknown export format"):
        shelf.export("xlsx")
    with pytest.raises(shelfsight.BadInput, match="no tag family"):
        shelf.export("csv", families=["nope"])


def test_get_export_streams_the_same_lines_as_the_library(host, tmp_path):
    from litestar.testing import TestClient

    from shelfsight.core.settings import Settings
    from shelfsight.service.app import create_app

    home = tmp_path / "ws"
    shelf = shelfsight.open(home, create=True)
    shelf.ingest(render("google_feed.xml", host, tmp_path), fetch=FETCH)
    want = _export(shelf, "google-feed")
    # describe=False: no describer warm-up thread outliving the test (ast.parse elsewhere
    # in the process is not thread-safe on Python 3.11, gh-106905)
    with TestClient(create_app(Settings(home=str(home), describe=False))) as client:
        r = client.get("/export", params={"format": "google-feed"})
        assert r.status_code == 200, r.text
        assert r.text == want
        assert r.headers["content-type"].startswith("text/tab-separated-values")
        assert 'filename="shelfsight-google-feed.tsv"' in r.headers["content-disposition"]
        r = client.get("/export", params={"format": "shopify", "families": "color,gender"})
        assert r.text.splitlines()[0].startswith("Handle,Title,Tags,color (product.")
        assert client.get("/export", params={"format": "xlsx"}).status_code == 400
        assert client.get("/export", params={"families": "nope"}).status_code == 400


def test_the_cli_ingests_a_feed_and_exports_it_back(host, tmp_path):
    from typer.testing import CliRunner

    from shelfsight.service.cli import app

    home = str(tmp_path / "ws")
    feed = str(render("google_feed.xml", host, tmp_path))
    runner = CliRunner()
    refused = runner.invoke(app, ["ingest", feed, "--home", home])
    assert refused.exit_code == 0, refused.output
    assert "url refused" in refused.output and "0 added" in refused.output
    done = runner.invoke(app, ["ingest", feed, "--home", home, "--allow-private-urls"])
    assert done.exit_code == 0, done.output
    assert "(google-feed): 2 added" in done.output
    assert "photos by URL: 4 downloaded" in done.output  # 2 products, 2 more views
    assert "other photos: 2 stored" in done.output
    out = tmp_path / "supplemental.tsv"
    exported = runner.invoke(
        app, ["export", "--home", home, "--format", "google-feed", "-o", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    assert out.read_text().splitlines()[0].split("\t")[:3] == ["id", "color", "gender"]
    bad = runner.invoke(app, ["export", "--home", home, "--format", "xlsx"])
    assert bad.exit_code != 0 and "unknown export format" in bad.output
