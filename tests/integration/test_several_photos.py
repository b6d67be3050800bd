"""Several photos per product end to end (issue 29), with the real CNN on a slice of the
sample: every view embedded and indexed, a product found through any of them and listed
once, several photos of one new product tagged as one."""

import json

import numpy as np
import pytest
from PIL import Image, ImageOps

import shelfsight

pytestmark = pytest.mark.integration
N = 60


def view(src, dst, crop, mirror=True):
    """Another shot of the product: mirrored and cropped to ``crop`` of each side."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        w, h = im.size
        dw, dh = int(w * (1 - crop) / 2), int(h * (1 - crop) / 2)
        im = im.crop((dw, dh, w - dw, h - dh))
        (ImageOps.mirror(im) if mirror else im).save(dst)
    return dst


@pytest.fixture(scope="module")
def shelf(tmp_path_factory, fashion_dir, ids):
    root = tmp_path_factory.mktemp("several")
    rows = {}
    with open(fashion_dir / "styles.csv") as fh:
        import csv

        rows = {r["id"]: r for r in csv.DictReader(fh)}
    lines = []
    for pid in ids[:N]:
        first = fashion_dir / "images" / f"{pid}.jpg"
        second = view(first, root / f"{pid}-b.png", 0.85)
        r = rows[pid]
        lines.append(
            json.dumps(
                {
                    "id": pid,
                    "productDisplayName": r["productDisplayName"],
                    "articleType": r["articleType"],
                    "baseColour": r["baseColour"],
                    "image": str(first),
                    "photos": [str(first), str(second)],
                }
            )
        )
    (root / "catalogue.jsonl").write_text("\n".join(lines) + "\n")
    s = shelfsight.open(root / "ws", create=True)
    report = s.ingest(
        root / "catalogue.jsonl", columns=shelfsight.ColumnOptions(image_column="image")
    )
    assert report.added == N and report.other_photos == N, report.as_dict()
    index = s.index(model="cnn")
    assert index.photos_embedded == N
    s.root = root
    return s


def test_every_view_is_indexed_and_maps_back_to_its_product(shelf, ids):
    index = shelf.neighbour_search.index
    assert len(index) == 2 * N and len(index.ids()) == N
    assert index.photos_per_product == 2
    found = shelf.similar(ids[0], k=20).results
    assert len({r.id for r in found}) == len(found) == 20  # each product once
    assert ids[0] not in {r.id for r in found}  # itself, through neither photo


def test_a_new_shot_finds_its_product_through_the_other_view(shelf, fashion_dir, ids):
    pid = ids[3]
    third = view(fashion_dir / "images" / f"{pid}.jpg", shelf.root / "third.png", 0.8)
    found = [r.id for r in shelf.similar(str(third), k=3).results]
    assert pid in found


def test_two_photos_of_one_new_product_are_tagged_as_one(shelf, fashion_dir, ids):
    pid = ids[5]
    one = view(fashion_dir / "images" / f"{pid}.jpg", shelf.root / "one.png", 0.9, False)
    two = view(fashion_dir / "images" / f"{pid}.jpg", shelf.root / "two.png", 0.7)
    alone = {n.id: n.distance for n in shelf.tag(str(one), k=10).neighbours}
    other = {n.id: n.distance for n in shelf.tag(str(two), k=10).neighbours}
    both = shelf.tag([str(one), str(two)], k=10)
    assert len({n.id for n in both.neighbours}) == len(both.neighbours) == 10
    for n in both.neighbours:  # each product at its closest pair of photos
        nearest = min(alone.get(n.id, np.inf), other.get(n.id, np.inf))
        assert n.distance <= nearest + 1e-4
    assert both.neighbours[0].distance <= min(min(alone.values()), min(other.values())) + 1e-4


def test_deleting_a_product_takes_every_view_out_of_the_index(shelf, ids):
    pid = ids[7]
    shelf.delete(pid)
    index = shelf.neighbour_search.index
    assert len(index) == 2 * N - 2
    assert pid not in {r.id for r in shelf.similar(ids[8], k=N).results}


def test_the_api_lists_a_products_photos_and_tags_several_uploads_as_one(shelf, fashion_dir, ids):
    from litestar.testing import TestClient

    from shelfsight.core.settings import Settings
    from shelfsight.service.app import create_app

    pid = ids[10]
    one = view(fashion_dir / "images" / f"{pid}.jpg", shelf.root / "api-1.png", 0.9, False)
    two = view(fashion_dir / "images" / f"{pid}.jpg", shelf.root / "api-2.png", 0.7)
    with TestClient(create_app(Settings(home=str(shelf.root / "ws"), describe=False))) as client:
        product = client.get(f"/products/{pid}").json()
        assert product["photos"] == [
            f"/images/{pid}?size=medium",
            f"/images/{pid}?size=medium&photo=1",
        ]
        for url in product["photos"]:
            r = client.get(url)
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert client.get(f"/images/{pid}?photo=2").status_code == 404
        files = [
            ("image", ("1.png", one.read_bytes(), "image/png")),
            ("image", ("2.png", two.read_bytes(), "image/png")),
        ]
        r = client.post("/tag?k=10&attributes=colour", files=files)
        assert r.status_code == 200, r.text
        both = r.json()
        assert len({n["id"] for n in both["neighbours"]}) == len(both["neighbours"]) == 10
        want = shelf.tag([str(one), str(two)], k=10, attributes="colour")
        assert [n["id"] for n in both["neighbours"]] == [n.id for n in want.neighbours]
        nine = [("image", (f"{n}.png", one.read_bytes(), "image/png")) for n in range(9)]
        assert client.post("/tag", files=nine).status_code == 413


def test_the_page_shows_a_products_photos_and_tags_several_dropped_ones(shelf, fashion_dir, ids):
    import shutil
    from pathlib import Path

    from .server_process import Server
    from .test_web_page import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    pid = ids[12]
    one = view(fashion_dir / "images" / f"{pid}.jpg", shelf.root / "page-1.png", 0.9, False)
    two = view(fashion_dir / "images" / f"{pid}.jpg", shelf.root / "page-2.png", 0.7)
    server = Server(shelf.root / "ws")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)
            page.goto(f"{server.url}/?product={pid}")
            page.wait_for_selector("#photo-strip img", timeout=60_000)
            assert page.locator("#photo-strip img").count() == 2
            page.wait_for_function(
                "[...document.querySelectorAll('#photo-strip img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            page.locator("#photo-strip img").nth(1).click()
            assert page.get_attribute("#preview", "src").endswith("photo=1")
            page.set_input_files("#file", [str(one), str(two)])
            page.wait_for_function(
                "document.querySelector('#status').textContent.includes('2 photos')"
                " || document.querySelectorAll('#tags li').length > 0",
                timeout=60_000,
            )
            page.wait_for_selector("#tags li", timeout=60_000)
            assert page.locator("#photo-strip img").count() == 2  # the two sent
            browser.close()
    finally:
        server.stop()


def test_an_update_through_the_api_keeps_the_other_views_in_the_index(shelf, ids):
    index = shelf.neighbour_search.index
    before = len(index)
    shelf.add([{"id": ids[20], "title": "Renamed", "tags": {}}], mode="merge")
    index = shelf.neighbour_search.index
    assert len(index) == before and index.photos_per_product == 2
    assert shelf.product(ids[20]).title == "Renamed"
    assert len(shelf.photos(ids[20])) == 1


def test_only_reviewed_exports_what_a_person_accepted(shelf, fashion_dir, ids):
    import csv
    import io

    photo = view(fashion_dir / "images" / f"{ids[30]}.jpg", shelf.root / "new.png", 0.75)
    result = shelf.tag(str(photo), k=10, attributes="colour")
    (item,) = shelf.review.keep([result], [str(photo)], ["A new product"], [""])
    shelf.review.accept(item, {"articleType": "Tshirts"}, product_id="new-1", by="test")
    rows = list(csv.DictReader(io.StringIO("".join(shelf.export("csv", only_reviewed=True)))))
    assert [(r["id"], r["articleType"], r["reviewed"]) for r in rows] == [
        ("new-1", "Tshirts", "True")
    ]
    everything = list(csv.DictReader(io.StringIO("".join(shelf.export("csv")))))
    assert len(everything) == len(shelf.neighbour_search.index.ids())
    assert {r["reviewed"] for r in everything if r["id"] != "new-1"} == {"False"}
