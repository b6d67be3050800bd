"""Ingest, index, tag and find similar on a 300-image slice of the shared fashion data."""

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from shelfsight.service.cli import app
from shelfsight.tagging.evaluation.tagging import TaggingEvalOptions, evaluate_tagging

from .conftest import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, fashion_slice, fashion_dir):
    home = tmp_path_factory.mktemp("ws")
    # Plant broken rows beside the real ones: they must be skipped, not stop the batch.
    images = tmp_path_factory.mktemp("imgs")
    with open(fashion_slice, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        shutil.copy(fashion_dir / "images" / f"{r['id']}.jpg", images / f"{r['id']}.jpg")
    (images / "900001.jpg").write_bytes(b"")
    data = (fashion_dir / "images" / f"{rows[0]['id']}.jpg").read_bytes()
    (images / "900002.jpg").write_bytes(data[: len(data) // 3])
    bad = [{**rows[1], "id": "900001"}, {**rows[1], "id": "900002"}, {**rows[1], "id": "900003"}]
    catalogue = home / "catalogue.csv"
    with open(catalogue, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows + bad + [rows[5]])
    out = json.loads(
        run_cli("ingest", catalogue, "--images", images, "--home", home / "ws", "--json")
    )
    return home / "ws", images, rows, out


@pytest.fixture(scope="module")
def indexed(workspace):
    home = workspace[0]
    return json.loads(run_cli("index", "--home", home, "--json"))


def test_ingest_reports_each_bad_row(workspace):
    _, _, _rows, report = workspace
    assert report["added"] == 300
    assert report["skip_reasons"] == {
        "empty image file": 1,
        "truncated image": 1,
        "missing image": 1,
        "duplicate id": 1,
    }
    assert "year" not in report["tag_columns"] and "articleType" in report["tag_columns"]


def test_index_tag_and_similar(workspace, indexed):
    home, images, rows, _ = workspace
    out = indexed
    assert out["indexed"] == 300 and out["embedded"] == 300
    again = json.loads(run_cli("index", "--home", home, "--json"))
    assert again["embedded"] == 0 and again["already_embedded"] == 300

    target = rows[10]
    tagged = json.loads(
        run_cli("tag", images / f"{target['id']}.jpg", "--home", home, "-k", 5, "--json")
    )
    ids = [n["id"] for n in tagged["neighbours"]]
    assert len(ids) == 5 and target["id"] not in ids  # the product never votes for itself
    assert set(tagged["tags"]) >= {"articleType", "gender", "baseColour"}
    assert all(0 < t["score"] <= 1 for t in tagged["tags"].values())

    by_id = json.loads(run_cli("tag", target["id"], "--home", home, "--json"))
    assert target["id"] not in [n["id"] for n in by_id["neighbours"]]

    sim = json.loads(
        run_cli(
            "similar", target["id"], "--home", home, "-k", 8, "--where", "gender=Women", "--json"
        )
    )
    assert sim["results"] and all(r["tags"]["gender"] == "Women" for r in sim["results"])
    dists = [r["distance"] for r in sim["results"]]
    assert dists == sorted(dists)


def test_bad_inputs_give_clear_errors(workspace, indexed, tmp_path):
    home, *_ = workspace
    res = CliRunner().invoke(app, ["similar", "no-such-id", "--home", str(home)])
    assert res.exit_code == 3 and "neither a product id nor an image" in res.output
    res = CliRunner().invoke(app, ["similar", "x", "--home", str(home), "--where", "oops"])
    assert res.exit_code == 2 and "family=value" in res.output
    for name, data in (("empty.jpg", b""), ("notes.jpg", b"id,title\n")):
        (tmp_path / name).write_bytes(data)
    res = CliRunner().invoke(app, ["tag", str(tmp_path / "empty.jpg"), "--home", str(home)])
    assert res.exit_code == 2 and "empty image file" in res.output
    res = CliRunner().invoke(app, ["tag", str(tmp_path / "notes.jpg"), "--home", str(home)])
    assert res.exit_code == 2 and "not an image" in res.output
    (tmp_path / "c.csv").write_text("sku,title\n1,a\n")
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "c.csv"), "--home", str(tmp_path)])
    assert res.exit_code == 2 and "missing column 'id'" in res.output


def test_knn_tagging_beats_the_majority_class(fashion_slice, fashion_dir):
    options = TaggingEvalOptions(holdout_fraction=0.2, seed=0, ks=[5], progress=False)
    (res,) = evaluate_tagging(fashion_slice, fashion_dir / "images", options)
    assert res["n_queries"] == 60 and res["n_catalog"] == 240
    art = res["attributes"]["articleType"]
    assert art["accuracy"] >= art["majority_accuracy"] + 0.3, art
    assert res["attributes"]["masterCategory"]["accuracy"] >= 0.85
    # The colour block scores every vote on the same queries; the palette as `tag` names
    # it (the catalogue's colour model per swatch) speaks the catalogue's words.
    colour = res["colour"]
    votes = colour["accuracy"]
    assert set(votes) == {
        "neighbours",
        "palette",
        "palette_named",
        "model",
        "before",
        "one_weight",
        "served",
    }
    assert 0.0 <= colour["far_share"] <= 1.0
    assert sum(c["n"] for c in colour["per_colour"].values()) == colour["n"] > 0
    assert votes["palette_named"] > votes["palette"], votes
    assert votes["served"] >= votes["before"], votes
