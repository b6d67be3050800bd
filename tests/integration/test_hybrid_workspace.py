"""Train the hybrid on a real slice, serve with it, grow the catalogue, survive bad files."""

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.embedders.hybrid import ModelFileError
from shelfsight.indexer.ingest import ColumnOptions, ingest_file
from shelfsight.indexer.train import TrainOptions, train_workspace
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace
from shelfsight.service.cli import app

pytestmark = pytest.mark.integration
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def cli(*args, code=0):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == code, res.output
    return res.stdout if code == 0 else res.output


def write_rows(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fashion_slice, fashion_dir):
    base = tmp_path_factory.mktemp("hyb")
    with open(fashion_slice, newline="") as fh:
        rows = list(csv.DictReader(fh))
    write_rows(base / "first.csv", rows[:220])
    write_rows(base / "later.csv", rows[220:])
    ws = Workspace.open(base / "ws", create=True)
    cat = Catalogue(ws.db_path)
    ingest_file(cat, base / "first.csv", fashion_dir / "images", ColumnOptions(), progress=False)
    report = train_workspace(
        ws,
        cat,
        opts=TrainOptions(epochs=10, batch_size=32, patience=10, val_fraction=0.2),
        progress=False,
    )
    return ws, cat, report, base, rows


def test_training_learns_and_installs_the_model(trained):
    ws, _, report, _, _ = trained
    assert report.loss_history[-1] < report.loss_history[0]
    mean = lambda d: sum(d.values()) / len(d)  # noqa: E731
    assert mean(report.val_accuracy) > mean(report.untrained_val_accuracy) + 0.2
    assert 0 < report.model_bytes <= 20_000_000
    assert (ws.models_dir / "CURRENT").read_text().strip() in report.model_path
    index = VectorIndex.load(ws.index_dir)
    assert index.model == report.model_name and len(index) == 220
    assert index.manifest["model_spec"].startswith("hybrid:models/")
    assert (ws.cache_dir / "features-efficientnet_lite0-ms1.db").exists()  # default trunk


def test_tagging_uses_the_hybrid_heads_and_neighbours(trained, fashion_dir):
    ws, _, _, _, rows = trained
    out = json.loads(
        cli("tag", fashion_dir / "images" / f"{rows[250]['id']}.jpg", "--home", ws.home, "--json")
    )
    assert out["query"]["model"].startswith("hybrid-")
    assert out["tags"]["articleType"]["source"] == "knn+head"
    assert out["tags"]["baseColour"]["source"] == "knn+head+colour"
    assert len(out["neighbours"]) == 10


def test_products_added_after_training_use_the_current_model(trained, fashion_dir):
    ws, _, report, base, _ = trained
    cli("ingest", base / "later.csv", "--images", fashion_dir / "images", "--home", ws.home)
    out = json.loads(cli("index", "--home", ws.home, "--json"))
    assert out["model"] == report.model_name
    assert out["embedded"] == 80 and out["indexed"] == 300


def test_a_failed_retrain_leaves_the_previous_model_serving(trained, monkeypatch):
    ws, cat, _, _, rows = trained
    before_model = (ws.models_dir / "CURRENT").read_text()
    before_index = VectorIndex.current_version(ws.index_dir)
    monkeypatch.setattr(
        "shelfsight.indexer.train.save_model_bytes", lambda *a, **k: b"garbage" * 50
    )
    with pytest.raises(ModelFileError):
        train_workspace(ws, cat, opts=TrainOptions(epochs=1), progress=False)
    assert (ws.models_dir / "CURRENT").read_text() == before_model
    assert VectorIndex.current_version(ws.index_dir) == before_index
    assert not list(ws.models_dir.glob(".*tmp"))
    out = json.loads(cli("similar", rows[3]["id"], "--home", ws.home, "--json", "-k", 3))
    assert len(out["results"]) == 3


def test_a_damaged_model_file_gives_a_clear_error(trained, fashion_dir, tmp_path):
    ws, _, _, _, rows = trained
    copy = tmp_path / "ws"
    shutil.copytree(ws.home, copy)
    model = copy / "models" / (copy / "models" / "CURRENT").read_text().strip()
    model.write_bytes(model.read_bytes()[:1000])
    img = fashion_dir / "images" / f"{rows[0]['id']}.jpg"
    out = cli("tag", img, "--home", copy, code=5)  # a ModelError
    assert "not a readable model file" in out


def ingested(tmp_path, fashion_slice, fashion_dir, n):
    """A fresh workspace holding the first ``n`` rows of the slice, and those rows."""
    with open(fashion_slice, newline="") as fh:
        rows = list(csv.DictReader(fh))[:n]
    write_rows(tmp_path / "rows.csv", rows)
    home = tmp_path / "ws"
    cli("ingest", tmp_path / "rows.csv", "--images", fashion_dir / "images", "--home", home)
    return home, rows


def test_openclip_backend_builds_embeds_and_indexes(tmp_path, fashion_slice, fashion_dir):
    home, rows = ingested(tmp_path, fashion_slice, fashion_dir, 24)
    config = ROOT / "tests" / "data" / "openclip-tiny.json"
    out = json.loads(cli("index", "--home", home, "--model", f"openclip:{config}", "--json"))
    assert out["indexed"] == 24 and out["model"].startswith("openclip-openclip-tiny")
    sim = json.loads(cli("similar", rows[0]["id"], "--home", home, "-k", 5, "--json"))
    assert len(sim["results"]) == 5 and rows[0]["id"] not in [r["id"] for r in sim["results"]]
    tagged = json.loads(
        cli("tag", fashion_dir / "images" / f"{rows[1]['id']}.jpg", "--home", home, "--json")
    )
    assert tagged["query"]["model"] == out["model"]


def test_training_on_the_lite2_trunk_reads_its_layout(tmp_path, fashion_slice, fashion_dir):
    # Lite2 at 260 px ends at 9 x 9 (Lite0: 7 x 7), and its mid blocks (33 and 17 px) do
    # not divide by 9: groups and grid are read off the trunk, each trunk has its own
    # cache, and the served network must still export to ONNX.
    home, rows = ingested(tmp_path, fashion_slice, fashion_dir, 80)
    report = json.loads(
        cli("train", "--cnn", "efficientnet_lite2", "--epochs", "2", "--home", home, "--json")
    )
    assert report["indexed"] == 80
    assert (home / "cache" / "features-efficientnet_lite2-ms1.db").exists()
    out = json.loads(
        cli("tag", fashion_dir / "images" / f"{rows[0]['id']}.jpg", "--home", home, "--json")
    )
    assert out["query"]["model"] == report["model_name"]
    assert out["match"]["duplicate_of"] == rows[0]["id"]
    cli("train", "--cnn", "efficientnet_lite9", "--home", home, code=2)


def test_the_colour_weight_is_judged_on_photos_the_heads_never_saw(trained):
    """The hybrid's heads know the photos they trained on; judged there, the neighbours and
    heads looked far better than on new photos and the photo's own colour was weighted
    0.1 (later years' colour tag 0.439, the CNN's 0.496)."""
    from shelfsight.tagging.neighbour_tags.calibration_fit import calibrate_workspace
    from shelfsight.tagging.neighbour_tags.colour_fit import load_colour_model
    from shelfsight.tagging.search.visual import NeighbourSearch

    ws, cat, _, _, _ = trained
    search = NeighbourSearch(ws, cat)
    calibrate_workspace(search)
    model = load_colour_model(cat)
    assert model is not None and model.kind_family == "articleType"
    held = set(cat.get_meta(f"validation_keys:{search.index.model}"))
    labelled = [p for p in cat.by_keys(list(held)).values() if p.tags.get("baseColour")]
    assert model.weight_held_out and model.weight_photos == len(labelled) == len(held)
