"""Tagging the listing, not just its photo: the words fused with the photo, alone, or
contradicting it, through the library, the CLI, the HTTP API and the evaluation."""

import csv
import json

import pytest

import shelfsight
from shelfsight.tagging.evaluation.tagging import TaggingEvalOptions, evaluate_tagging

from .conftest import run_cli
from .test_service_api import client, photo, upload

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rows(fashion_slice):
    with open(fashion_slice, newline="") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def test_the_index_fits_a_words_model_beside_it(cnn_home):
    assert (cnn_home / "models" / "text-tags.joblib").is_file()


def test_photo_with_title_photo_alone_and_title_alone(cnn_home, fashion_dir, rows):
    shelf = shelfsight.open(cnn_home)
    pid = next(iter(rows))
    path = fashion_dir / "images" / f"{pid}.jpg"
    title = rows[pid]["productDisplayName"]
    alone = shelf.tag(path)
    assert all("text" not in t.source for t in alone.tags.values())
    assert all(t.evidence is None for t in alone.tags.values())
    both = shelf.tag(path, title=title, text=["a description"])
    fused = {f: t for f, t in both.tags.items() if t.source.endswith("+text")}
    assert {"gender", "articleType"} <= set(fused), {f: t.source for f, t in both.tags.items()}
    assert fused["gender"].source.startswith("knn")
    assert fused["gender"].evidence and all(w in title for w in fused["gender"].evidence["text"])
    words = shelf.tag(title=title)
    assert words.neighbours == [] and words.match is None
    assert {t.source for t in words.tags.values()} == {"text"}
    assert words.tags["gender"].value == rows[pid]["gender"]
    with pytest.raises(shelfsight.BadInput, match="nothing to tag"):
        shelf.tag(title="  ")


def test_a_kind_the_catalogue_lacks_is_proposed_as_a_new_value(cnn_home, rows):
    assert "Earrings" not in {r["articleType"] for r in rows.values()}
    shelf = shelfsight.open(cnn_home)
    kind = shelf.tag(title="Estelle Women Gold Earrings").tags["articleType"]
    assert kind.value == "Earrings" and kind.new_value and kind.review
    assert kind.alternatives  # what the words alone would have forced comes next
    known = shelf.tag(title=next(iter(rows.values()))["productDisplayName"])
    assert not known.tags["articleType"].new_value


def test_a_title_that_contradicts_the_photo_goes_to_review(cnn_home, fashion_dir, rows):
    shelf = shelfsight.open(cnn_home)
    checked = 0
    for pid, row in rows.items():
        path = fashion_dir / "images" / f"{pid}.jpg"
        seen = shelf.tag(path).tags["baseColour"]
        if seen.value in ("Red", "Maroon") or (seen.raw_score or 0) < 0.6:
            continue  # the photo must be sure of a colour the words then deny
        planted = f"{row['gender']} Red {row['articleType']}"
        said = shelf.tag(path, title=planted).tags["baseColour"]
        assert said.source.endswith("+text")
        assert said.review, (pid, seen, said)
        checked += 1
        if checked == 3:
            break
    assert checked == 3


def test_the_cli_and_the_api_take_the_words(home, fashion_dir, ids, rows):
    title = rows[ids[1]]["productDisplayName"]
    out = json.loads(run_cli("tag", "--title", title, "--home", home, "--json"))
    assert {t["source"] for t in out["tags"].values()} == {"text"}
    with client(home) as c:
        r = c.post("/tag", files={"title": (None, title)})  # multipart, words only
        assert r.status_code == 200, r.text
        assert r.json()["tags"]["gender"]["source"] == "text"
        r = c.post("/tag", data={"title": title}, files=upload(photo(fashion_dir, ids[1])))
        assert r.status_code == 200 and r.json()["tags"]["gender"]["source"].endswith("+text")
        assert r.json()["tags"]["gender"]["evidence"]["text"]
        r = c.post("/tag", files={"title": (None, "")})
        assert r.status_code == 400 and r.json()["error"] == "nothing to tag"


def test_eval_scores_photo_text_and_listing_and_the_photo_block_is_unchanged(
    fashion_slice, fashion_dir
):
    base = TaggingEvalOptions(holdout_fraction=0.2, seed=0, ks=[5], progress=False)
    (plain,) = evaluate_tagging(fashion_slice, fashion_dir / "images", base)
    worded = TaggingEvalOptions(
        holdout_fraction=0.2,
        seed=0,
        ks=[5],
        progress=False,
        text_columns=["productDisplayName"],
        text_transforms=["empty", "typos"],
    )
    (res,) = evaluate_tagging(fashion_slice, fashion_dir / "images", worded)
    assert res["attributes"] == plain["attributes"] and "blocks" not in plain
    blocks = res["blocks"]
    assert blocks["photo"]["attributes"] == plain["attributes"]
    for name in ("text", "listing"):
        art = blocks[name]["attributes"]["articleType"]
        assert {"accuracy", "review_rate", "accepted_accuracy", "ece"} <= set(art)
    # the sample's own titles name the kind: words beat the photo on article type
    listing = blocks["listing"]["attributes"]["articleType"]["accuracy"]
    assert listing > blocks["photo"]["attributes"]["articleType"]["accuracy"]
    assert "new_values" not in blocks  # a random split: no kind the catalogue lacks
    # no words at all: the listing is tagged as the photo alone, to the last number
    assert set(blocks["transformed"]) == {"empty", "typos"}
    assert blocks["transformed"]["empty"]["listing"] == blocks["photo"]
