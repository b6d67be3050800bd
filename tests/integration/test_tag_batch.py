"""Batch tagging: `shelfsight tag-batch` (folder or CSV -> CSV/JSONL), the library's
`tag_batch`, and `POST /tag/batch`, on photos the 300-product slice does not hold."""

import csv
import json
import shutil

import pytest
from litestar.testing import TestClient
from typer.testing import CliRunner

import shelfsight
from shelfsight.core.settings import Settings
from shelfsight.service.app import create_app
from shelfsight.service.cli import app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def new_photos(fashion_dir, ids, tmp_path_factory):
    """Six catalogue-style photos the workspace does not hold, a truncated one and a text
    file with an image's name."""
    folder = tmp_path_factory.mktemp("batch")
    have = set(ids)
    with open(fashion_dir / "styles.csv", newline="") as fh:
        others = [r["id"] for r in csv.DictReader(fh) if r["id"] not in have][:6]
    for pid in others:
        shutil.copy(fashion_dir / "images" / f"{pid}.jpg", folder / f"{pid}.jpg")
    (folder / "broken.jpg").write_bytes((folder / f"{others[0]}.jpg").read_bytes()[:400])
    (folder / "notes.png").write_text("not a picture")
    return folder, others


def test_library_batch_gives_each_photo_the_answer_tag_gives(cnn_home, new_photos):
    folder, others = new_photos
    shelf = shelfsight.open(cnn_home)
    items = list(shelf.tag_batch(folder))
    by_name = {i.name: i for i in items}
    assert sorted(by_name) == sorted([*others, "broken", "notes"])
    assert by_name["broken"].skipped.reason == "truncated image"
    assert by_name["notes"].skipped.reason == "not an image"
    for pid in others:
        alone = shelf.tag(folder / f"{pid}.jpg")
        assert by_name[pid].result.as_dict() == alone.as_dict()
    # images in memory, unnamed: named by their place, in order
    data = [(folder / f"{pid}.jpg").read_bytes() for pid in others[:2]]
    assert [i.name for i in shelf.tag_batch(data)] == ["image-1", "image-2"]


def test_cli_writes_one_row_per_photo_and_says_what_it_skipped(cnn_home, new_photos, tmp_path):
    folder, others = new_photos
    folder = shutil.copytree(folder, tmp_path / "photos")
    # A file name a spreadsheet would run as a formula (issue 24).
    shutil.copy(folder / f"{others[0]}.jpg", folder / '=HYPERLINK("http:x").jpg')
    out = tmp_path / "tags.csv"
    result = CliRunner().invoke(
        app, ["tag-batch", str(folder), "--out", str(out), "--home", str(cnn_home)]
    )
    assert result.exit_code == 0, result.output
    assert "tagged 7, skipped 2" in result.stderr
    assert "broken.jpg: truncated image" in result.stderr
    with open(out, newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert len(rows) == 9 and not list(tmp_path.glob(".*partial"))
    assert '\'=HYPERLINK("http:x")' in rows
    assert rows['\'=HYPERLINK("http:x")']["path"].startswith(str(folder))
    assert rows["notes"]["status"] == "skipped" and rows["notes"]["reason"].startswith(
        "not an image"
    )
    row = rows[others[0]]
    alone = shelfsight.open(cnn_home).tag(folder / f"{others[0]}.jpg")
    for family in ("articleType", "gender", "baseColour"):
        assert row[family] == alone.tags[family].value
        assert float(row[f"{family}_score"]) == alone.tags[family].score
        assert row[f"{family}_source"] == alone.tags[family].source
    assert row["out_of_domain"] in ("0", "1") and row["palette"].endswith("%")
    assert row["outline"] and row["status"] == "tagged"

    # JSON Lines: the whole answer per photo
    jl = tmp_path / "tags.jsonl"
    result = CliRunner().invoke(
        app, ["tag-batch", str(folder), "-o", str(jl), "--home", str(cnn_home)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in jl.read_text().splitlines()]
    assert len(lines) == 9
    assert {x["name"] for x in lines if x["result"]} == {*others, '=HYPERLINK("http:x")'}


def test_cli_reads_a_csv_naming_its_photos(cnn_home, new_photos, tmp_path):
    folder, others = new_photos
    table = tmp_path / "new.csv"
    table.write_text(
        "sku,photo\n" + "".join(f"n{p},{p}.jpg\n" for p in others[:3]) + "gone,missing.jpg\n"
    )
    out = tmp_path / "out.csv"
    args = ["tag-batch", str(table), "--images", str(folder), "--id-column", "sku"]
    result = CliRunner().invoke(
        app, [*args, "--image-column", "photo", "-o", str(out), "--home", str(cnn_home)]
    )
    assert result.exit_code == 0, result.output
    with open(out, newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert {n for n, r in rows.items() if r["status"] == "tagged"} == {f"n{p}" for p in others[:3]}
    assert rows["gone"]["reason"].startswith("missing image")
    # a wrong column is a clear error before anything runs
    result = CliRunner().invoke(app, [*args, "--image-column", "picture", "--home", str(cnn_home)])
    assert result.exit_code == 2 and "missing column 'picture'" in result.output


def test_cli_fuses_a_title_column_with_each_photo(cnn_home, new_photos, fashion_dir, tmp_path):
    folder, others = new_photos
    with open(fashion_dir / "styles.csv", newline="") as fh:
        titles = {r["id"]: r["productDisplayName"] for r in csv.DictReader(fh)}
    table = tmp_path / "worded.csv"
    with open(table, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name"])
        writer.writerows([p, titles[p]] for p in others[:3])
    out = tmp_path / "out.csv"
    args = ["tag-batch", str(table), "--images", str(folder), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--title-column", "name", "--home", str(cnn_home)])
    assert result.exit_code == 0, result.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    # A title that names a gender ("Girls") is fused with the photo; one that names none
    # ("Palm Tree Kids ... Skirts") leaves the photo's gender as it was.
    genders = {"Men", "Women", "Boys", "Girls", "Unisex"}
    for r in rows:
        named = bool(genders & set(titles[r["name"]].split()))
        assert r["gender_source"].endswith("+text") == named, (titles[r["name"]], r)
    assert any(r["gender_source"].endswith("+text") for r in rows)
    plain = tmp_path / "plain.csv"
    args = ["tag-batch", str(table), "--images", str(folder), "-o", str(plain)]
    assert CliRunner().invoke(app, [*args, "--home", str(cnn_home)]).exit_code == 0
    with open(plain, newline="") as fh:
        assert all("text" not in r["gender_source"] for r in csv.DictReader(fh))
    result = CliRunner().invoke(app, [*args, "--title-column", "nom", "--home", str(cnn_home)])
    assert result.exit_code == 2 and "missing column 'nom'" in result.output


@pytest.fixture(scope="module")
def client(cnn_home):
    with TestClient(create_app(Settings(home=str(cnn_home), describe=False, max_batch=10))) as c:
        yield c


def test_http_batch_tags_every_readable_photo_and_skips_the_rest(client, new_photos):
    folder, others = new_photos
    names = [*others[:3], "broken", "notes"]
    files = [
        ("images", (p.name, p.read_bytes(), "image/jpeg"))
        for n in names
        for p in folder.glob(f"{n}.*")
    ]
    r = client.post("/tag/batch", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["tagged"], body["skipped"]) == (3, 2)
    assert [i["name"] for i in body["items"]] == [f[1][0] for f in files]  # in order
    one = client.post("/tag", files={"image": files[0][1]}).json()
    assert body["items"][0]["result"]["tags"] == one["tags"]
    assert body["items"][3]["skipped"]["reason"] == "truncated image"

    too_many = client.post("/tag/batch", files=files * 3)
    assert too_many.status_code == 413 and "at most 10" in too_many.json()["detail"]
    ocr = client.post("/tag/batch?attributes=ocr", files=files[:1])
    assert ocr.status_code == 400


def test_refine_in_words_and_facets(client, ids):
    facets = client.get("/facets").json()["families"]
    assert facets["gender"] and all(n > 0 for n in facets["gender"].values())
    r = client.get(f"/similar/{ids[0]}", params={"k": 5, "q": "like this, but in black for women"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["where"] == {"baseColour": ["Black"], "gender": ["Women"]}
    assert all(p["tags"]["baseColour"] == "Black" for p in body["results"])
    assert client.get(f"/similar/{ids[0]}", params={"q": "shiny"}).json()["ignored"] == ["shiny"]


def test_cli_similar_refines_in_words(cnn_home, ids):
    result = CliRunner().invoke(
        app,
        [
            "similar",
            ids[0],
            "-k",
            "3",
            "--refine",
            "but in black, shiny",
            "--home",
            str(cnn_home),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["where"]["baseColour"] == ["Black"] and body["ignored"] == ["shiny"]
