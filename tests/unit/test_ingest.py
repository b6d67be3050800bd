import csv
import io
import json

import pytest
from PIL import Image

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.ingest import CatalogueError, ColumnOptions, ingest_file


def write_jpeg(path, color=(200, 30, 30), mode="RGB"):
    img = Image.new("RGB", (32, 32), color)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, format="JPEG")


def write_csv(path, rows, header=None):
    header = header or list(rows[0])
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


@pytest.fixture()
def images(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    write_jpeg(d / "1.jpg")
    write_jpeg(d / "2.jpg", color=(10, 10, 200))
    write_jpeg(d / "3.jpg", mode="CMYK")
    (d / "4.jpg").write_bytes(b"")  # zero bytes
    (d / "5.jpg").write_text("not an image at all")
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(buf, format="JPEG")
    (d / "6.jpg").write_bytes(buf.getvalue()[:400])  # truncated
    return d


@pytest.fixture()
def cat(tmp_path):
    c = Catalogue(tmp_path / "ws" / "catalogue.db")
    yield c
    c.close()


def row(i, colour="Red", kind="Shirts", title=None):
    return {
        "id": str(i),
        "productDisplayName": title or f"Brand Men {colour} {kind}",
        "articleType": kind,
        "baseColour": colour,
        "year": "2012",
    }


def test_every_bad_row_is_skipped_with_its_reason(tmp_path, images, cat):
    rows = [row(i) for i in range(1, 8)] + [row(1), {**row(9), "id": ""}]
    write_csv(tmp_path / "c.csv", rows)
    report = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    reasons = {s.id: s.reason for s in report.skipped}
    assert reasons == {
        "4": "empty image file",
        "5": "not an image",
        "6": "truncated image",
        "7": "missing image",
        "1": "duplicate id",
        "": "empty id",
    }
    assert report.added == 3 and cat.count() == 3
    assert report.converted == {"CMYK": 1}
    dup = next(s for s in report.skipped if s.reason == "duplicate id")
    assert dup.row == 9 and "row 2" in dup.detail


def test_tag_columns_default_to_other_text_columns(tmp_path, images, cat):
    write_csv(tmp_path / "c.csv", [row(1), row(2, colour="Blue")])
    report = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    # year is numeric and the title is the title: neither is a tag family.
    assert report.tag_columns == ["articleType", "baseColour"]
    p = cat.get("2")
    assert p.title == "Brand Men Blue Shirts"
    assert p.tags == {"articleType": "Shirts", "baseColour": "Blue"}
    assert list(cat.keys_matching({"baseColour": ["Blue"]})) == [p.key]


def test_description_like_columns_are_not_tags(tmp_path, images, cat):
    rows = [{**row(i), "desc": f"A long merchant description number {i} " * 3} for i in (1, 2)]
    write_csv(tmp_path / "c.csv", rows)
    report = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    assert "desc" not in report.tag_columns


def test_missing_column_stops_before_writing(tmp_path, images, cat):
    write_csv(tmp_path / "c.csv", [row(1)])
    for opts in (
        ColumnOptions(id_column="sku"),
        ColumnOptions(tag_columns=["colour"]),
        ColumnOptions(title_column="name"),
        ColumnOptions(image_pattern="{sku}.jpg"),
        ColumnOptions(image_column="path"),
    ):
        with pytest.raises(CatalogueError, match="missing column"):
            ingest_file(cat, tmp_path / "c.csv", images, opts, progress=False)
    assert cat.count() == 0


def test_rerun_is_idempotent_and_updates_changes(tmp_path, images, cat):
    write_csv(tmp_path / "c.csv", [row(1), row(2)])
    first = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    key = cat.get("1").key
    again = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    assert (first.added, again.added, again.unchanged, again.updated) == (2, 0, 2, 0)
    write_csv(tmp_path / "c.csv", [row(1, colour="Green"), row(2)])
    third = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    assert (third.updated, third.unchanged) == (1, 1)
    assert cat.get("1").tags["baseColour"] == "Green" and cat.get("1").key == key
    assert cat.count() == 2


def test_jsonl_with_a_malformed_line(tmp_path, images, cat):
    lines = [json.dumps(row(1)), "{not json", json.dumps(row(2)), "[1, 2]"]
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    report = ingest_file(cat, tmp_path / "c.jsonl", images, ColumnOptions(), progress=False)
    assert report.added == 2
    assert [s.reason for s in report.skipped] == ["malformed row", "malformed row"]
    assert [s.row for s in report.skipped] == [2, 4]


def test_image_column_and_pattern(tmp_path, images, cat):
    rows = [{**row(1), "file": "2.jpg"}, {**row(2), "file": ""}]
    write_csv(tmp_path / "c.csv", rows)
    opts = ColumnOptions(image_column="file")
    report = ingest_file(cat, tmp_path / "c.csv", images, opts, progress=False)
    assert report.added == 1 and report.skipped[0].reason == "missing image"
    assert cat.get("1").image_path.endswith("2.jpg")


def test_trailing_comma_header_is_tolerated(tmp_path, images, cat):
    (tmp_path / "c.csv").write_text("id,articleType,\n1,Shirts,\n2,Jeans,\n")
    report = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    assert report.added == 2 and report.tag_columns == ["articleType"]


def test_a_huge_csv_field_skips_that_row_only(tmp_path, images, cat):
    rows = [row(1), {**row(2), "productDisplayName": "x" * 200_000}, row(3)]
    write_csv(tmp_path / "c.csv", rows)
    report = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    assert report.added == 2 and {p.id for p in cat.iter_products()} == {"1", "3"}
    assert [s.reason for s in report.skipped] == ["malformed row"]
    assert "field limit" in report.skipped[0].detail


def test_deeply_nested_json_line_is_skipped(tmp_path, images, cat):
    lines = [json.dumps(row(1)), '{"id": "2", "x": ' + "[" * 6000 + "]" * 6000 + "}"]
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    report = ingest_file(cat, tmp_path / "c.jsonl", images, ColumnOptions(), progress=False)
    assert report.added == 1
    assert report.skipped[0].reason == "malformed row" and "nested" in report.skipped[0].detail


def test_ids_follow_the_api_rule_and_paths_stay_inside_images(tmp_path, images, cat):
    outside = tmp_path / "x.jpg"
    write_jpeg(outside)
    rows = [row(1), {**row(1), "id": "../x"}, {**row(1), "id": "a/b"}, {**row(2), "id": " "}]
    write_csv(tmp_path / "c.csv", rows)
    report = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    assert report.added == 1
    assert sorted(s.reason for s in report.skipped) == ["bad id", "bad id", "empty id"]
    rows = [{**row(1), "file": "../x.jpg"}, {**row(2), "file": str(outside)}]
    write_csv(tmp_path / "d.csv", rows)
    opts = ColumnOptions(image_column="file")
    report = ingest_file(cat, tmp_path / "d.csv", images, opts, progress=False)
    assert [s.reason for s in report.skipped] == ["image outside --images"] * 2


def test_rerun_repairs_a_product_whose_tag_rows_were_lost(tmp_path, images, cat):
    write_csv(tmp_path / "c.csv", [row(1), row(2)])
    ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    key = cat.get("1").key
    cat.db.execute("delete from tags where product_key = ?", [key])  # a torn older write
    again = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(), progress=False)
    assert (again.updated, again.unchanged) == (1, 1)
    assert cat.inconsistencies()["tag_rows_differ"] == []
    assert key in cat.keys_matching({"articleType": [cat.get("1").tags["articleType"]]})


def test_ingest_records_which_column_is_the_brand_colour_and_description(tmp_path, images, cat):
    rows = [
        {"id": str(i), "title": f"Shirt {i}", "Maker": "Acme", "shade": c, "blurb": f"A shirt {i}"}
        for i, c in ((1, "Red"), (2, "Blue"), (3, "Red"))
    ]
    write_csv(tmp_path / "c.csv", rows)
    report = ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(tag_columns=["shade"]))
    # nothing conventional: no brand or colour, and a guess is not made later either
    assert report.columns == {"title": "title", "brand": None, "colour": None, "description": None}
    assert cat.column("brand") is None and cat.column("colour") is None
    named = ColumnOptions(
        tag_columns=["shade"],
        brand_column="Maker",
        colour_column="shade",
        description_column="blurb",
    )
    ingest_file(cat, tmp_path / "c.csv", images, named)
    assert [cat.column(r) for r in ("brand", "colour", "description")] == [
        "Maker",
        "shade",
        "blurb",
    ]
    with pytest.raises(CatalogueError, match="--brand-column"):
        ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(brand_column="Brand"))


def test_conventional_columns_are_found_and_old_workspaces_fall_back_to_them(tmp_path, images, cat):
    rows = [
        {"id": "1", "productDisplayName": "Red tee", "brand": "Puma", "baseColour": "Red"},
        {"id": "2", "productDisplayName": "Blue tee", "brand": "Nike", "baseColour": "Blue"},
    ]
    write_csv(tmp_path / "c.csv", rows)
    ingest_file(cat, tmp_path / "c.csv", images, ColumnOptions(tag_columns=["baseColour"]))
    assert cat.column("title") == "productDisplayName" and cat.column("brand") == "brand"
    assert cat.column("colour") == "baseColour" and cat.column("description") is None
    cat.set_meta("columns", None)  # a workspace ingested before the roles were recorded
    assert cat.column("colour") == "baseColour" and cat.column("brand") == "brand"
