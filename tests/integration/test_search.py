"""Search that finds: OR over the words with the best-matching first, prefixes, stop
words, case-insensitive filters, semantic and hybrid modes (library, CLI and HTTP), on
the 300-product slice."""

import csv
import json
import re

import pytest
from litestar.testing import TestClient

import shelfsight
from shelfsight.core.settings import Settings
from shelfsight.service.app import create_app
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration
FOOTWEAR = {"Formal Shoes", "Casual Shoes", "Sports Shoes", "Heels", "Flats", "Sandals"}


@pytest.fixture(scope="module")
def rows(fashion_slice):
    with open(fashion_slice, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def shelf(cnn_home):
    return shelfsight.open(cnn_home)


def test_any_word_finds_and_more_words_rank_first(shelf, rows):
    # "puma OR nike" and "puma nike": strict AND over FTS5 found nothing for either
    for q in ("puma OR nike", "puma nike"):
        titles = [r.title for r in shelf.search(q, k=40, mode="keyword").results]
        assert any(t.startswith("Puma") for t in titles) and any(
            t.startswith("Nike") for t in titles
        )
    # "<colour> <type> for <gender>" built from a product: every result that holds all three
    # words comes before any that holds fewer; "for" is a stop word
    target = next(r for r in rows if r["articleType"] == "Tshirts" and r["baseColour"] == "Black")
    q = f"black tshirts for {target['gender'].lower()}"
    found = shelf.search(q, k=50, mode="keyword").results
    assert target["id"] in [p.id for p in found]
    full = [
        all(w in (p.title + " " + " ".join(p.tags.values())).lower() for w in ("black", "tshirt"))
        and p.tags.get("gender") == target["gender"]
        for p in found
    ]
    assert full[0] and full == sorted(full, reverse=True)


def test_red_dress_for_women_finds_any_of_the_words_best_first(shelf):
    # strict AND found nothing: the slice holds no red dress for women
    found = shelf.search("red dress for women", k=20, mode="keyword").results

    def held(p):
        text = f"{p.title} {' '.join(p.tags.values())}".lower()
        return sum(w in text for w in ("red", "dress", "women"))

    counts = [held(p) for p in found]
    assert counts[0] >= 2 and counts == sorted(counts, reverse=True)
    assert found[0].tags["articleType"] == "Dresses" or "red" in found[0].title.lower()


def test_a_word_start_finds_the_word(shelf):
    found = shelf.search("tshi", k=10, mode="keyword").results
    assert found and all(
        "tshirt" in (p.title + p.tags.get("articleType", "")).lower() for p in found
    )
    assert shelf.search("for the of", mode="keyword").results == []  # only stop words


def test_meaning_without_shared_words(shelf):
    q = "formal footwear for office"
    semantic = shelf.search(q, k=5, mode="semantic").results
    assert semantic and semantic[0].tags["articleType"] == "Formal Shoes"
    assert all(p.tags["articleType"] in FOOTWEAR for p in semantic)
    assert all(0 < p.score <= 1 for p in semantic)
    hybrid = shelf.search(q, k=5).results
    assert hybrid[0].tags["articleType"] == "Formal Shoes" and hybrid[0].score > 0


def test_filters_ignore_case_and_unknown_ones_say_what_exists(shelf):
    found = shelf.search("shirt", k=20, where={"GENDER": ["men"]}).results
    assert found and all(p.tags["gender"] == "Men" for p in found)
    with pytest.raises(shelfsight.BadInput, match=r"the catalogue has: .*articleType"):
        shelf.search("shirt", where={"colr": ["Red"]})
    with pytest.raises(shelfsight.BadInput, match="mode must be one of"):
        shelf.search("shirt", mode="fuzzy")


def test_http_and_cli(cnn_home):
    with TestClient(create_app(Settings(home=str(cnn_home)))) as c:
        r = c.get("/search", params={"q": "formal footwear for office", "k": 3})
        assert r.status_code == 200 and r.json()["mode"] == "hybrid"
        assert r.json()["results"][0]["tags"]["articleType"] == "Formal Shoes"
        r = c.get("/search", params={"q": "puma OR nike", "mode": "keyword", "where": "gender=MEN"})
        assert r.status_code == 200 and r.json()["where"] == {"gender": ["Men"]}
        assert r.json()["results"]
        r = c.get("/search", params={"q": "shoes", "where": "colr=Red"})
        assert r.status_code == 400 and r.json()["error"] == "unknown filter"
        assert "articleType" in r.json()["detail"]
        assert c.get("/search", params={"q": "shoes", "mode": "fuzzy"}).status_code == 400
    out = json.loads(run_cli("search", "tee", "--mode", "keyword", "--home", cnn_home, "--json"))
    assert out["mode"] == "keyword" and out["results"]
    assert all(re.search(r"\btee", p["title"].lower()) for p in out["results"])
