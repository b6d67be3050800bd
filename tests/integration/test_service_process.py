"""The real server process (`shelfsight serve`, uvicorn) over real HTTP: reads during
writes, and the state a restart finds."""

import json
import threading

import httpx
import pytest

from .server_process import Server

pytestmark = pytest.mark.integration
KEY = {"X-API-Key": "s3cret"}


def test_reads_during_writes_see_old_or_new_state_across_workers(home, fashion_slice, fashion_dir):
    import csv

    with open(fashion_slice, newline="") as fh:
        ids = [r["id"] for r in csv.DictReader(fh)]
    img = (fashion_dir / "images" / f"{ids[5]}.jpg").read_bytes()
    server = Server(home, workers=2)
    errors, seen = [], set()
    stop = threading.Event()

    def reader():
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                r = c.get(f"/similar/{ids[5]}?k=10")
                if r.status_code != 200 or len(r.json()["results"]) != 10:
                    errors.append(r.text)
                seen.update(x["id"] for x in r.json().get("results", []))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        with httpx.Client(base_url=server.url, timeout=60, headers=KEY) as c:
            for i in range(4):
                r = c.post(
                    "/products",
                    data={"listings": json.dumps({"id": f"w-{i}"})},
                    files={"image": ("a.jpg", img, "image/jpeg")},
                )
                assert r.status_code == 201, r.text
            # every worker sees the writes, whichever wrote them
            for _ in range(6):
                assert c.get("/health").json()["indexed"] == 304
            assert c.delete("/products/w-0").status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join()
        log = server.stop()
    assert errors == [], log[-3000:]
    assert {"w-1", "w-2"} & seen  # the new products did appear in searches

    server = Server(home)  # a restart serves what was written
    try:
        h = httpx.get(server.url + "/health").json()
        assert h["indexed"] == 303 and h["products"] == 303
        assert httpx.get(server.url + "/products/w-0").status_code == 404
        assert httpx.get(server.url + "/products/w-3").status_code == 200
    finally:
        server.stop()


def test_serve_v_logs_one_line_per_request_in_one_format(cnn_home, ids):
    server = Server(cnn_home, verbose=1)
    try:
        assert httpx.get(f"{server.url}/similar/{ids[0]}?k=3").status_code == 200
        assert httpx.get(f"{server.url}/no/such/route").status_code == 404
        assert httpx.post(f"{server.url}/tag").status_code == 400
    finally:
        out = server.stop()
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("ts=") for ln in lines), out  # logfmt, nothing else
    access = [ln for ln in lines if "logger=shelfsight.access" in ln]
    for path, status in ((f"/similar/{ids[0]}", 200), ("/no/such/route", 404), ("/tag", 400)):
        line = next(ln for ln in access if f" path={path} " in ln)
        assert f"status={status} " in line and " ms=" in line
    assert any("msg=serving" in ln and "url=http://127.0.0.1:" in ln for ln in lines)
    assert "UserWarning" not in out and "Warning:" not in out


def test_serve_is_quiet_by_default(cnn_home, ids):
    server = Server(cnn_home)
    try:
        httpx.get(f"{server.url}/similar/{ids[0]}?k=3")
    finally:
        out = server.stop()
    assert "shelfsight.access" not in out
    assert [ln for ln in out.splitlines() if ln.strip()] == [
        ln for ln in out.splitlines() if "msg=serving" in ln
    ]
