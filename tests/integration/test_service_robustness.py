"""Inputs that used to crash, hang or half-apply against the HTTP API, each answered
with a clear 4xx/5xx and nothing lost (issue 12)."""

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from io import BytesIO

import httpx
import pytest
from PIL import Image

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace

from .server_process import Server
from .test_service_api import KEY, add, client, form, photo, upload

pytestmark = pytest.mark.integration


def png(size):
    buf = BytesIO()
    Image.new("RGB", size, (90, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def agree(home):
    """Catalogue rows, tag rows and index ids agree."""
    ws = Workspace.open(home, create=False)
    cat = Catalogue(ws.db_path)
    index = VectorIndex.load(ws.index_dir)
    assert cat.inconsistencies() == {"tag_rows_differ": [], "orphan_tag_rows": []}
    in_index = set(index.ids().tolist())
    assert in_index == set(cat.embedded_keys(index.model))
    assert in_index <= set(cat.keys_by_id().values())


def test_a_strip_is_refused_and_a_wide_photo_stays_in_bounded_memory(cnn_home, fashion_dir, ids):
    script = textwrap.dedent(
        f"""
        import resource
        from io import BytesIO
        from PIL import Image
        from litestar.testing import TestClient
        from shelfsight.service.app import create_app
        from shelfsight.core.settings import Settings

        def png(size):
            buf = BytesIO()
            Image.new("RGB", size, (90, 30, 30)).save(buf, format="PNG")
            return buf.getvalue()

        def rss():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

        with TestClient(create_app(Settings(home={str(cnn_home)!r}))) as c:
            photo = open({str(fashion_dir / "images" / f"{ids[0]}.jpg")!r}, "rb").read()
            def post(data):
                return c.post("/similar", files={{"image": ("a", data, "image/png")}})

            assert post(photo).status_code == 200  # the model loaded and warm
            before = rss()
            strip, wide = post(png((60000, 2))), post(png((20000, 1000)))
            grew = rss() - before
            print(strip.status_code, strip.json()["error"], wide.status_code, grew, sep="|")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    strip_status, error, wide_status, grew_mb = out.stdout.strip().split("|")
    assert (strip_status, error, wide_status) == ("422", "bad aspect ratio", "200")
    assert int(grew_mb) < 300, f"a 20000x1000 upload grew the worker by {grew_mb} MB"


def test_deeply_nested_listings_are_a_400(home):
    with client(home) as c:
        r = c.post(
            "/products",
            data={"listings": "[" * 6000 + "]" * 6000},
            files=upload(png((40, 40))),
            headers=KEY,
        )
        assert r.status_code == 400 and r.json()["error"] == "bad JSON"


def test_a_replaced_image_file_is_a_410_not_a_500(home, fashion_dir, ids, tmp_path):
    import shutil

    with client(home) as c:
        ws = Workspace.open(home, create=False)
        src = Catalogue(ws.db_path).get(ids[3]).image_path
        moved = tmp_path / "own-copy.jpg"
        shutil.copy(src, moved)  # the shared sample stays untouched
        Catalogue(ws.db_path).db.execute(
            "update products set image_path = ? where id = ?", [str(moved), ids[3]]
        )
        assert c.get(f"/images/{ids[3]}").status_code == 200
        moved.write_text("now a text file")
        for size in ("full", "medium"):
            r = c.get(f"/images/{ids[3]}?size={size}")
            assert r.status_code == 410 and r.json()["error"] == "image changed", r.text
        moved.unlink()
        assert c.get(f"/images/{ids[3]}").status_code == 404


def test_a_post_that_adds_nothing_is_a_422_with_reasons(home):
    with client(home) as c:
        r = add(c, [{"id": "n-1", "image": "nope"}], upload(png((40, 40))))
        assert r.status_code == 422
        assert r.json()["skipped"] == [
            {
                "id": "n-1",
                "reason": "missing image",
                "detail": "no file part named 'nope'",
                "row": None,
                "path": None,
            }
        ]


def test_replace_and_merge(home, fashion_dir, ids):
    with client(home) as c:
        img = upload(photo(fashion_dir, ids[0]))
        first = {"id": "m-1", "title": "Navy shirt", "tags": {"gender": "Men"}, "brand": "Acme"}
        assert add(c, first, img).status_code == 201
        # merge: only what is sent changes; no image part keeps the image and its vector
        merge = json.dumps({"id": "m-1", "tags": {"usage": "Casual"}})
        r = c.post("/products?mode=merge", files=form(listings=merge), headers=KEY)
        assert r.status_code == 201, r.text
        p = c.get("/products/m-1").json()
        assert p["title"] == "Navy shirt" and p["fields"] == {"brand": "Acme"}
        assert p["tags"] == {"gender": "Men", "usage": "Casual"}
        assert c.get("/similar/m-1?k=3").status_code == 200
        # replace (the default): the listing is the whole record
        assert add(c, {"id": "m-1", "title": "Shirt"}, img).status_code == 201
        p = c.get("/products/m-1").json()
        assert (p["title"], p["tags"], p["fields"]) == ("Shirt", {}, {})
        assert (
            c.post("/products?mode=upsert", data={"listings": "{}"}, headers=KEY).status_code == 400
        )
    agree(home)


def test_unknown_filters_are_a_400_that_lists_what_exists(cnn_home, ids):
    with client(cnn_home) as c:
        r = c.get(f"/similar/{ids[0]}?where=colour=Red")
        assert r.status_code == 400 and "articleType" in r.json()["detail"]
        r = c.get("/search?q=shirt&where=gender=Mne")
        assert r.status_code == 400 and "did you mean Men" in r.json()["detail"]
        # a value in another case is the catalogue's own
        assert c.get("/search?q=shirt&where=gender=men").status_code == 200
        assert c.get(f"/similar/{ids[0]}?where=gender=Men").status_code == 200


def test_slow_bodies_time_out_and_the_model_loads_off_the_event_loop(home, fashion_slice, tmp_path):
    """One real server: a body that never arrives gets a 408 and its connection closed; a
    /similar for a product not embedded yet loads the model without stalling /health."""
    import csv

    from typer.testing import CliRunner

    from shelfsight.service.cli import app

    with open(fashion_slice, newline="") as fh:
        row = next(csv.DictReader(fh))
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    Image.new("RGB", (60, 80), (20, 20, 160)).save(img_dir / "late-1.jpg")
    with open(tmp_path / "late.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(row))
        w.writeheader()
        w.writerow({**row, "id": "late-1"})
    res = CliRunner().invoke(
        app, ["ingest", str(tmp_path / "late.csv"), "--images", str(img_dir), "--home", str(home)]
    )
    assert res.exit_code == 0, res.output  # ingested, not indexed: no vector yet

    server = Server(home, env={"SHELFSIGHT_BODY_TIMEOUT": "2"})
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as s:
            s.sendall(
                b"POST /tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n"
            )
            t0 = time.monotonic()
            reply = b""
            while chunk := s.recv(4096):  # ends when the server closes the connection
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
            assert time.monotonic() - t0 < 10

        slowest = []
        box = {}

        def first_similar():
            box["r"] = httpx.get(server.url + "/similar/late-1?k=3", timeout=120)

        t = threading.Thread(target=first_similar)
        t.start()
        while t.is_alive():
            t0 = time.monotonic()
            assert httpx.get(server.url + "/health", timeout=30).status_code == 200
            slowest.append(time.monotonic() - t0)
            time.sleep(0.05)
        t.join()
        assert box["r"].status_code == 200 and len(box["r"].json()["results"]) == 3
        assert max(slowest) < 1.5, f"/health waited {max(slowest):.1f} s during a model load"
    finally:
        server.stop()


DISK_FULL_PROBE = textwrap.dedent(
    """
    # Runs inside `unshare -rm`: a private tmpfs of a fixed size holds the workspace.
    import json, os, shutil, subprocess, sys
    from pathlib import Path
    src, photo, free = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    mnt = Path(sys.argv[4]); mnt.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], check=True)
    home, cold = mnt / "ws", mnt / "cold"
    shutil.copytree(src, home)
    shutil.copytree(src, cold)
    import sqlite3
    db = sqlite3.connect(cold / "catalogue.db")  # a workspace no process has open
    db.execute("pragma wal_checkpoint(truncate)"); db.execute("pragma journal_mode=delete")
    db.close()
    from litestar.testing import TestClient
    from shelfsight.service.app import create_app
    from shelfsight.core.settings import Settings
    # The service is up when the disk fills: it opened its catalogue with room to spare.
    app = create_app(Settings(home=str(home), api_key="k"))
    st = os.statvfs(mnt)
    avail = st.f_bavail * st.f_frsize
    with open(mnt / "fill", "wb") as fh:  # leave `free` bytes
        fh.truncate(0)
        left = max(0, avail - free)
        while left > 0:
            n = fh.write(b"\\0" * min(left, 1 << 20)); left -= n
    out = {}
    with TestClient(app) as c:
        r = c.post("/products", data={"listings": json.dumps({"id": "full-1", "title": "x"})},
                   files={"image": ("a.jpg", photo.read_bytes(), "image/jpeg")},
                   headers={"X-API-Key": "k"})
        out["status"], out["body"] = r.status_code, r.json()
        out["read"] = c.get("/health").status_code
    ing = subprocess.run([str(Path(sys.executable).parent / "shelfsight"), "ingest",
                          sys.argv[5], "--images", sys.argv[6], "--home", str(home)],
                         capture_output=True, text=True)
    out["cli"] = [ing.returncode, ing.stderr[-500:]]
    # Opening a catalogue on the full disk (SQLite cannot create its WAL index) says so.
    look = subprocess.run([str(Path(sys.executable).parent / "shelfsight"), "similar", "x",
                           "--home", str(cold)], capture_output=True, text=True)
    out["cold"] = [look.returncode, look.stderr[-500:]]
    shutil.copytree(home, sys.argv[7])  # for the checks outside the namespace
    print(json.dumps(out))
    """
)


@pytest.mark.parametrize("free_kb", [0, 48, 600])
def test_disk_full_is_a_507_and_leaves_catalogue_and_index_agreeing(
    cnn_home, fashion_dir, fashion_slice, ids, tmp_path, free_kb
):
    """A real full disk (a tmpfs in a private mount namespace), filled to leave 0, 48 KB
    (the image fits, the catalogue does not) and 600 KB (the catalogue fits, the new index
    version does not): each write fails whole, with a clear message."""
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode()[:200]}")
    script = tmp_path / "probe.py"
    script.write_text(DISK_FULL_PROBE)
    after = tmp_path / "after"
    out = subprocess.run(
        [
            "unshare",
            "-rm",
            sys.executable,
            str(script),
            str(cnn_home),
            str(fashion_dir / "images" / f"{ids[0]}.jpg"),
            str(free_kb * 1024),
            str(tmp_path / "mnt"),
            str(fashion_slice),
            str(fashion_dir / "images"),
            str(after),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 507, result
    assert (
        result["body"]["error"] == "disk full" and "nothing was changed" in result["body"]["detail"]
    )
    assert result["read"] == 200
    rc, err = result["cli"]
    assert rc in (0, 1) and "Traceback" not in err
    if rc == 1:
        assert "disk full" in err and "nothing was changed" in err
    rc, err = result["cold"]
    if free_kb == 0:
        assert rc == 1 and "disk full" in err and "Traceback" not in err, err
    else:  # room for the WAL index: the look-up runs (and finds no such product)
        assert rc == 3 and "Traceback" not in err, err
    cat = Catalogue(after / "catalogue.db")
    assert cat.get("full-1") is None and cat.count() == 300
    agree(after)
