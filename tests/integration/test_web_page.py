"""The web page in a real headless Chromium (Debian's package, driven by Playwright)."""

import csv
import os
import shutil
from pathlib import Path

import pytest

from .server_process import Server

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags this machine needs: no sandbox as root, no background calls to a closed network.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(cnn_home):
    s = Server(cnn_home)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_drop_a_photo_see_tags_and_similar_products_then_pivot(
    server, browser, fashion_slice, fashion_dir, tmp_path
):
    with open(fashion_slice, newline="") as fh:
        rows = list(csv.DictReader(fh))
    photo = fashion_dir / "images" / f"{rows[3]['id']}.jpg"
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server.url + "/")
    assert page.title() == "Shelfsight"
    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#tags li", timeout=60_000)
    page.wait_for_selector("#similar .product", timeout=60_000)

    families = page.eval_on_selector_all("#tags li", "els => els.map(e => e.dataset.family)")
    assert {"gender", "articleType", "baseColour"} <= set(families)
    bar = page.inner_text("#tags li[data-family=articleType]")
    assert rows[3]["articleType"] in bar or "%" in bar  # a value with its confidence
    assert page.locator("#swatches li").count() >= 1
    assert page.locator("#similar .product").count() == 12
    thumbs_loaded = page.eval_on_selector_all(
        "#similar img", "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length"
    )
    assert thumbs_loaded >= 1
    shot = Path(os.environ.get("SHELFSIGHT_SCREENSHOT_DIR", tmp_path)) / "page-tagged.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    first = page.locator("#similar .product").first
    pivot_id = first.get_attribute("data-id")
    first.click()
    page.wait_for_function(
        "document.querySelector('#similar-title').textContent.startsWith('Similar to')"
    )
    page.wait_for_selector("#similar .product")
    ids = page.eval_on_selector_all("#similar .product", "els => els.map(e => e.dataset.id)")
    assert pivot_id not in ids and len(ids) == 12

    page.fill("#search-q", "shirt")
    page.press("#search-q", "Enter")
    page.wait_for_function(
        "document.querySelector('#similar-title').textContent === 'Search: shirt'"
    )
    assert page.locator("#similar .product").count() >= 1


def test_readable_on_a_phone_width_screen(server, browser, fashion_slice, fashion_dir, tmp_path):
    with open(fashion_slice, newline="") as fh:
        pid = next(csv.DictReader(fh))["id"]
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(server.url + "/")
    box = page.locator("#drop").bounding_box()
    assert box["width"] > 300  # the drop zone spans the screen
    page.set_input_files("#file", str(fashion_dir / "images" / f"{pid}.jpg"))
    page.wait_for_selector("#similar .product", timeout=60_000)
    page.wait_for_selector("#tags li")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0  # nothing wider than the phone: no sideways scrolling
    tile = page.locator("#similar .product").first.bounding_box()
    assert 120 < tile["width"] < 200  # two products per row
    page.screenshot(path=str(tmp_path / "page-phone.png"), full_page=True)


def test_describe_from_the_page_with_length_and_tone(server, browser, fashion_slice, fashion_dir):
    with open(fashion_slice, newline="") as fh:
        pid = list(csv.DictReader(fh))[5]["id"]
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server.url + "/")
    page.set_input_files("#file", str(fashion_dir / "images" / f"{pid}.jpg"))
    page.wait_for_selector("#describe-card:not([hidden])", timeout=60_000)
    written = {}
    for length, tone in (("short", "neutral"), ("medium", "neutral"), ("medium", "playful")):
        page.select_option("#length", length)
        page.select_option("#tone", tone)
        page.click("#regenerate")
        page.wait_for_function(
            "(() => { const t = document.querySelector('#description').textContent;"
            " return t && !t.startsWith('Writing') && !t.startsWith('Loading')"
            " && !document.querySelector('#regenerate').disabled; })()",
            timeout=60_000,
        )
        written[(length, tone)] = page.inner_text("#description")
    assert len(written[("short", "neutral")].split()) <= 15
    assert len(written[("medium", "neutral")].split()) > len(written[("short", "neutral")].split())
    assert written[("medium", "playful")] != written[("medium", "neutral")]
    assert "!" in written[("medium", "playful")]
