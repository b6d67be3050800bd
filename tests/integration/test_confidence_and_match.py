"""Honest confidence on the real slice: calibrated scores, review flags, out-of-domain
photos, duplicates of catalogue photos, and the shifted evaluation (issue 13)."""

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from shelfsight.indexer.workspace import Workspace
from shelfsight.tagging.neighbour_tags.calibration import load_calibration
from shelfsight.tagging.neighbour_tags.calibration_fit import fit_family, leave_one_out
from shelfsight.tagging.neighbour_tags.confidence import expected_calibration_error
from shelfsight.tagging.search.visual import NeighbourSearch

from .conftest import run_cli
from .test_service_api import client, upload

pytestmark = pytest.mark.integration


def text_page():
    """A drawn page of text: no product at all."""
    im = Image.new("RGB", (600, 800), "white")
    d = ImageDraw.Draw(im)
    for y in range(40, 760, 28):
        d.text((40, y), "Terms and conditions apply to every order placed " * 2, fill="black")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def resaved(path, quality=95):
    buf = io.BytesIO()
    Image.open(path).convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_index_stores_a_calibration(cnn_home):
    search = NeighbourSearch(Workspace.open(cnn_home, create=False))
    cal = load_calibration(search.catalogue, search.index.model)
    assert cal is not None and "articleType" in cal.families
    assert 0.3 < cal.ood_distance < 1.5 and 0.0 < cal.duplicate_distance < cal.ood_distance


def test_calibration_lowers_ece_on_held_out_halves(cnn_home):
    """Fitted on one half of the slice, measured on the other, 8 seeded splits."""
    search = NeighbourSearch(Workspace.open(cnn_home, create=False))
    rows = leave_one_out(search, sorted(search.catalogue.keys_by_id().values()))
    raw, fitted = [], []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        for family, x in rows.x.items():
            x, c = np.stack(x), np.asarray(rows.y[family])
            half = rng.permutation(len(c))
            a, b = half[: len(c) // 2], half[len(c) // 2 :]
            if len(c) < 40 or c[a].min() == c[a].max():
                continue
            cal = fit_family(x[a], c[a])
            probs = [cal.probability(row) for row in x[b]]
            tops = 1 / (1 + np.exp(-x[b, 0]))
            raw.append(expected_calibration_error(tops, c[b]))
            fitted.append(expected_calibration_error(probs, c[b]))
    assert len(raw) >= 40
    assert np.mean(fitted) < np.mean(raw)


def test_tags_carry_review_and_match(cnn_home, fashion_dir, ids):
    with client(cnn_home) as c:
        r = c.post(
            "/tag?attributes=", files=upload(resaved(fashion_dir / "images" / f"{ids[4]}.jpg"))
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["match"]["out_of_domain"] is False
        assert body["match"]["duplicate_of"] == ids[4]  # a re-saved copy of a catalogue photo
        tag = body["tags"]["articleType"]
        assert isinstance(tag["review"], bool) and 0 <= tag["score"] <= 1 and "raw_score" in tag
        same = c.post(
            "/tag?attributes=",
            files=upload((fashion_dir / "images" / f"{ids[5]}.jpg").read_bytes()),
        )
        assert same.json()["match"]["duplicate_of"] == ids[5]  # the very same bytes
        none = c.post(
            "/tag?attributes=&review_threshold=0",
            files=upload(resaved(fashion_dir / "images" / f"{ids[6]}.jpg")),
        )
        assert not any(t["review"] for t in none.json()["tags"].values())


def test_a_drawn_page_is_out_of_domain_and_not_described(cnn_home):
    with client(cnn_home) as c:
        r = c.post("/tag?attributes=", files=upload(text_page(), "p.png", "image/png"))
        m = r.json()["match"]
        assert m["out_of_domain"] is True and m["nearest_distance"] > m["ood_threshold"]
        assert all(t["review"] for t in r.json()["tags"].values())
        d = c.post("/describe", files=upload(text_page(), "p.png", "image/png"))
        assert d.status_code == 422 and d.json()["error"] == "out of domain"


def shifted_eval(fashion_slice, fashion_dir, out, *extra):
    run_cli(
        "eval",
        "tagging",
        "--catalog",
        fashion_slice,
        "--images",
        fashion_dir / "images",
        "--shift",
        "unseen:articleType:2",
        "--query-transform",
        "crop:0.8",
        "--json",
        out,
        *extra,
    )
    (block,) = json.loads(out.read_text())["settings"]
    return block


def test_eval_under_shift_reports_groups_and_confidence(fashion_slice, fashion_dir, tmp_path):
    block = shifted_eval(fashion_slice, fashion_dir, tmp_path / "eval.json")
    assert block["shift"] == "unseen:articleType:2" and block["query_transform"] == "crop:0.8"
    assert len(block["held_out_values"]) == 2
    assert set(block["groups"]) == {"seen", "unseen"}
    unseen = block["groups"]["unseen"]["attributes"]["articleType"]
    assert unseen["accuracy"] == 0.0  # a type the catalogue never had cannot be named
    seen = block["groups"]["seen"]["attributes"]["articleType"]
    assert unseen["review_rate"] >= seen["review_rate"]
    assert unseen["mean_score"] < seen["mean_score"]
    assert block["calibration"]["novel_samples"] > 0
    fam = block["attributes"]["articleType"]
    for key in ("ece", "raw_ece", "review_rate", "accuracy_at_coverage", "coverage_at_accuracy"):
        assert key in fam

    # Calibrated for a closed catalogue, the unseen types' scores promise far more: the
    # simulated novel types are what brings them down (measured: 0.67 -> 0.56).
    closed = shifted_eval(
        fashion_slice, fashion_dir, tmp_path / "closed.json", "--novelty-prior", "0"
    )
    assert closed["calibration"]["novel_samples"] == 0
    closed_unseen = closed["groups"]["unseen"]["attributes"]["articleType"]
    assert unseen["mean_score"] < closed_unseen["mean_score"] - 0.05
    assert "out_of_domain_rate" in block and "calibration" in block
