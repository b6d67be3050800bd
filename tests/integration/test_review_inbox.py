"""The review inbox end to end: through the library (an accepted item is a catalogue
product and a neighbour of its own photo at once; undo takes it back), the CLI, the HTTP
API (writes behind the key), a `tag-batch --keep` killed halfway, and `eval stream`."""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient
from PIL import Image

import shelfsight
from shelfsight.core.settings import Settings
from shelfsight.indexer import image_store
from shelfsight.service.app import create_app

from .conftest import run_cli

pytestmark = pytest.mark.integration
KEY = {"X-API-Key": "s3cret"}
CLI = str(Path(sys.executable).parent / "shelfsight")


@pytest.fixture(scope="module")
def new_rows(fashion_dir, ids):
    """Products of the sample the slice's workspace does not hold."""
    have = set(ids)
    with open(fashion_dir / "styles.csv", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["id"] not in have][:40]


def photo_of(fashion_dir, row):
    return fashion_dir / "images" / f"{row['id']}.jpg"


def test_accept_makes_the_photo_a_neighbour_of_its_next_tagging_and_undo_restores(
    home, new_rows, fashion_dir, tmp_path
):
    row = new_rows[0]
    photo = photo_of(fashion_dir, row)
    shelf = shelfsight.open(home)
    before = shelf.tag(photo)
    assert before.match.duplicate_of is None
    (item,) = shelf.review.keep([before], [photo], titles=[row["productDisplayName"]])
    assert [i.id for i in shelf.review.items()] == [item]
    kept = shelf.review.get(item)
    assert kept.suggested["articleType"].value == before.tags["articleType"].value
    assert set(kept.suggested) == set(shelf.catalogue.tag_families())  # not colour, shape
    with pytest.raises(shelfsight.BadInput, match="no suggested tag"):
        shelf.review.accept(item, {"colourr": "Red"})
    existing = next(shelf.catalogue.iter_products()).id
    with pytest.raises(shelfsight.BadInput, match="already in the catalogue"):
        shelf.review.accept(item, product_id=existing)
    corrected = "Watches" if before.tags["articleType"].value != "Watches" else "Belts"
    done = shelf.review.accept(item, {"articleType": corrected}, product_id="new-1", by="k")
    assert done.status == "accepted" and done.product_id == "new-1"
    product = shelf.product("new-1")
    assert product.tags["articleType"] == corrected and "colour" not in product.tags
    # The catalogue now holds the photo: it is reported as that product (its copies never
    # vote for themselves), and it is the nearest neighbour of a re-saved copy.
    assert shelf.tag(photo).match.duplicate_of == "new-1"
    copy = tmp_path / "resaved.jpg"
    Image.open(photo).convert("RGB").save(copy, "JPEG", quality=85)
    assert shelf.similar(str(copy), k=1).results[0].id == "new-1"
    assert shelf.tag(copy).neighbours[0].id == "new-1"
    stats = shelf.review.stats()["families"]["articleType"]["all"]
    assert stats["decisions"] == 1 and (stats["flagged_kept"] + stats["unflagged_kept"]) == 0
    with pytest.raises(shelfsight.BadInput, match="already accepted"):
        shelf.review.accept(item)
    undone = shelf.review.undo(item)
    assert undone.status == "pending"
    with pytest.raises(shelfsight.NotFound):
        shelf.product("new-1")
    assert shelf.tag(photo).match.duplicate_of is None
    # The photo stays in the store while its item waits, whatever the sweep finds.
    image_store.sweep(shelf.workspace, shelf.catalogue)
    assert Path(shelf.review.get(item).image_path).is_file()


def test_a_corrected_new_value_joins_its_family(home, new_rows, fashion_dir):
    shelf = shelfsight.open(home)
    photo = photo_of(fashion_dir, new_rows[1])
    (item,) = shelf.review.keep([shelf.tag(photo)], [photo])
    shelf.review.accept(item, {"articleType": "Kaftans"})
    assert "Kaftans" in shelf.catalogue.value_counts("articleType")
    assert shelf.product(f"review-{item}").tags["articleType"] == "Kaftans"


def test_the_review_commands(home, new_rows, fashion_dir, tmp_path):
    photos = [photo_of(fashion_dir, r) for r in new_rows[2:5]]
    first = json.loads(run_cli("tag", photos[0], "--keep", "--home", home, "--json"))
    assert first["review_item"] >= 1
    folder = tmp_path / "new"
    folder.mkdir()
    for p in photos[1:]:
        (folder / p.name).write_bytes(p.read_bytes())
    run_cli("tag-batch", folder, "--keep", "--out", tmp_path / "t.csv", "--home", home)
    listed = json.loads(run_cli("review", "list", "--home", home, "--json"))
    assert len(listed) == 3
    shown = run_cli("review", "show", str(listed[0]["id"]), "--home", home)
    assert "articleType" in shown
    run_cli("review", "correct", str(listed[0]["id"]), "articleType=Kurtas", "--home", home)
    run_cli("review", "accept", str(listed[1]["id"]), "--by", "me", "--home", home)
    run_cli("review", "reject", str(listed[2]["id"]), "--home", home)
    stats = json.loads(run_cli("review", "stats", "--home", home, "--json"))
    assert stats["items"] == {"pending": 0, "accepted": 2, "rejected": 1}
    assert stats["families"]["articleType"]["all"]["decisions"] == 2
    exported = run_cli("review", "export", "--format", "jsonl", "--home", home)
    lines = [json.loads(x) for x in exported.splitlines()]
    assert {x["decided_by"] for x in lines} == {"", "me"}
    assert any(x["family"] == "articleType" and x["final"] == "Kurtas" for x in lines)
    run_cli("review", "undo", str(listed[1]["id"]), "--home", home)
    assert json.loads(run_cli("review", "stats", "--home", home, "--json"))["items"]["pending"] == 1


def test_the_review_api_writes_only_with_the_key(home, new_rows, fashion_dir):
    photos = [photo_of(fashion_dir, r).read_bytes() for r in new_rows[5:9]]
    with TestClient(create_app(Settings(home=str(home), api_key="s3cret"))) as c:
        upload = {"image": ("a.jpg", photos[0], "image/jpeg")}
        assert c.post("/tag?keep=true", files=upload).status_code == 401
        assert c.get("/review").json()["items"] == []
        one = c.post("/tag?keep=true", files=upload, headers=KEY).json()
        batch = [("images", (f"{n}.jpg", p, "image/jpeg")) for n, p in enumerate(photos[1:])]
        many = c.post("/tag/batch?keep=true", files=batch, headers=KEY).json()
        kept = [one["review_item"], *[i["result"]["review_item"] for i in many["items"]]]
        page = c.get("/review?limit=2").json()
        assert [i["id"] for i in page["items"]] == kept[:2] and page["counts"]["pending"] == 4
        item = c.get(f"/review/{kept[0]}").json()
        kind = item["suggested"]["articleType"]
        assert kind["choices"][0] == kind["value"]
        assert [a[0] for a in kind["alternatives"]] == kind["choices"][
            1 : 1 + len(kind["alternatives"])
        ]
        assert c.get(item["image"]).content == photos[0]
        assert c.post(f"/review/{kept[0]}/accept", json={}).status_code == 401
        done = c.post(
            f"/review/{kept[0]}/accept", json={"corrections": {"gender": "Unisex"}}, headers=KEY
        ).json()
        assert done["status"] == "accepted"
        assert c.get(f"/products/{done['product_id']}").json()["tags"]["gender"] == "Unisex"
        bulk = c.post("/review/accept", json={"items": kept[1:3]}, headers=KEY)
        assert [i["status"] for i in bulk.json()["items"]] == ["accepted", "accepted"]
        assert c.post(f"/review/{kept[3]}/reject", headers=KEY).json()["status"] == "rejected"
        assert c.post(f"/review/{kept[3]}/accept", json={}, headers=KEY).status_code == 400
        stats = c.get("/review/stats").json()
        assert stats["items"] == {"pending": 0, "accepted": 3, "rejected": 1}

        # The thresholds are refitted on a thread of their own after each accept: the
        # first refit may be read before the one that counts all three decisions.
        def decisions():
            route = stats["thresholds"].get("gender/photo") or {}
            return route.get("decisions", 0)

        deadline = time.time() + 30
        while decisions() < 3 and time.time() < deadline:
            time.sleep(0.2)
            stats = c.get("/review/stats").json()
        assert decisions() == 3
        assert c.get("/review/export").status_code == 401
        # What a request may ask is bounded before any work.
        assert c.get("/review/999999").status_code == 404
        assert c.get("/review?limit=5000").status_code == 400
        assert c.get('/review?family=a"b').status_code == 400
        assert c.get("/review?value=Men").status_code == 400  # a value needs its family
        too_many = {"items": list(range(1, 300))}
        assert c.post("/review/accept", json=too_many, headers=KEY).status_code == 400
        text = c.get("/review/export?format=csv", headers=KEY).text
        assert text.splitlines()[0].startswith("item_id,product_id") and len(text.splitlines()) > 3
        assert c.post(f"/review/{kept[0]}/undo", headers=KEY).json()["status"] == "pending"
        assert c.get(f"/products/{done['product_id']}").status_code == 404


def test_a_kept_batch_killed_halfway_leaves_only_whole_items(home, new_rows, fashion_dir, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for r in new_rows:
        (folder / f"{r['id']}.jpg").write_bytes(photo_of(fashion_dir, r).read_bytes())
    db = home / "catalogue.db"
    proc = subprocess.Popen(
        [
            CLI,
            "tag-batch",
            str(folder),
            "--keep",
            "--out",
            str(tmp_path / "o.csv"),
            "--home",
            str(home),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    kept = 0
    while time.time() < deadline and kept < 5:
        time.sleep(0.2)
        try:
            with sqlite3.connect(db, timeout=1) as con:
                kept = con.execute("select count(*) from review_items").fetchone()[0]
        except sqlite3.OperationalError:
            kept = 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 5 <= kept < len(new_rows), "the kill should fall mid-batch"
    shelf = shelfsight.open(home)
    items = shelf.review.items(limit=1000)
    assert len(items) >= kept
    for item in items:
        assert Path(item.image_path).is_file() and set(item.suggested) >= {"articleType", "gender"}
    assert shelf.catalogue.db.execute("pragma integrity_check").fetchone()[0] == "ok"
    image_store.sweep(shelf.workspace, shelf.catalogue)  # what a restart does
    assert all(Path(i.image_path).is_file() for i in items)
    shelf.review.accept(items[0].id)  # the inbox still works


def test_eval_stream_writes_both_taggers_per_batch(fashion_slice, fashion_dir, tmp_path):
    out = tmp_path / "stream.json"
    run_cli(
        "eval", "stream", "--catalog", fashion_slice, "--images", fashion_dir / "images",
        "--shift", "unseen:articleType:2", "--batch", "20", "--limit", "60",
        "--text-columns", "productDisplayName", "--json", out,
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["n_stream"] == 60 and result["batches"] == 3
    for name in ("learning", "frozen"):
        block = result[name]
        assert len(block["batches"]) == 3 and block["total"]["products"] == 60
        assert {"looks_per_product", "review_rate", "accepted_accuracy", "seconds"} <= set(
            block["total"]
        )
        assert {"count", "rate"} == set(block["total"]["errors_let_through"])
    # Same first batch: nothing learnt before it.
    assert result["learning"]["batches"][0]["looks"] == result["frozen"]["batches"][0]["looks"]
    assert (
        result["learning"]["total"]["add_seconds"] > 0 == result["frozen"]["total"]["add_seconds"]
    )
