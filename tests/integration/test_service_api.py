"""The HTTP API through Litestar's test client, on a real indexed workspace."""

import json

import faiss
import pytest
from litestar.testing import TestClient

from shelfsight.core.settings import Settings
from shelfsight.service.app import create_app

from .llm_server import ChatServer

pytestmark = pytest.mark.integration
KEY = {"X-API-Key": "s3cret"}


def client(home, **kw):
    return TestClient(create_app(Settings(home=str(home), api_key="s3cret", **kw)))


def photo(fashion_dir, pid):
    return (fashion_dir / "images" / f"{pid}.jpg").read_bytes()


def upload(data, name="a.jpg", ctype="image/jpeg"):
    return {"image": (name, data, ctype)}


def form(**fields):
    """Plain form fields sent as multipart, the way a browser's FormData sends them."""
    return {k: (None, str(v)) for k, v in fields.items()}


def add(c, listings, files, headers=KEY):
    return c.post(
        "/products", data={"listings": json.dumps(listings)}, files=files, headers=headers
    )


def test_reads(cnn_home, ids):
    with client(cnn_home) as c:
        health = c.get("/health").json()
        assert health["status"] == "ok" and health["indexed"] == 300
        p = c.get(f"/products/{ids[0]}").json()
        assert p["id"] == ids[0] and p["tags"]
        full = c.get(f"/images/{ids[0]}")
        thumb = c.get(f"/images/{ids[0]}?size=thumb")
        assert full.headers["content-type"] == "image/jpeg"
        assert len(thumb.content) < len(full.content) or len(full.content) < 20_000
        assert c.get(f"/images/{ids[0]}?size=huge").status_code == 400
        assert c.get("/products/does-not-exist").json()["error"] == "unknown product"
        assert c.get("/images/does-not-exist").status_code == 404
        assert "/tag" in c.get("/schema/openapi.json").json()["paths"]
        assert "Shelfsight" in c.get("/").text


def test_similar_by_id_and_by_photo_with_filters(cnn_home, ids, fashion_dir):
    with client(cnn_home) as c:
        out = c.get(f"/similar/{ids[0]}?k=5&where=gender=Men&where=gender=Women").json()
        assert 0 < len(out["results"]) <= 5
        assert all(r["tags"]["gender"] in ("Men", "Women") for r in out["results"])
        assert ids[0] not in [r["id"] for r in out["results"]]
        by_photo = c.post("/similar?k=5", files=upload(photo(fashion_dir, ids[0]))).json()
        # the same photo is in the catalogue, so it is excluded from its own neighbours
        assert ids[0] not in [r["id"] for r in by_photo["results"]]
        assert c.get("/similar/does-not-exist").status_code == 404
        assert c.get(f"/similar/{ids[0]}?where=nonsense").json()["error"] == "bad filter"
        assert c.get(f"/similar/{ids[0]}?k=0").status_code == 400
        assert c.get(f"/similar/{ids[0]}?k=1000").status_code == 400


def test_search_is_ranked_and_filtered(cnn_home):
    with client(cnn_home) as c:
        out = c.get("/search?q=shirt&k=50&mode=keyword").json()["results"]
        assert out and all("shirt" in (r["title"] + json.dumps(r["tags"])).lower() for r in out)
        assert [r["rank"] for r in out] == sorted(r["rank"] for r in out)  # BM25, best first
        fused = c.get("/search?q=shirt&k=50").json()["results"]  # hybrid: fused score
        assert fused and [r["score"] for r in fused] == sorted(
            (r["score"] for r in fused), reverse=True
        )
        men = c.get("/search?q=shirt&where=gender=Men").json()["results"]
        assert men and all(r["tags"]["gender"] == "Men" for r in men)
        # FTS syntax in a query is text, not an error
        assert c.get('/search?q="(shirt AND*').status_code == 200
        assert c.get("/search?q=").status_code == 400


def test_tag_returns_tags_colours_shape_and_voters(cnn_home, ids, fashion_dir):
    with client(cnn_home) as c:
        out = c.post("/tag?k=5", files=upload(photo(fashion_dir, ids[3]))).json()
    assert {"gender", "articleType"} <= set(out["tags"])
    assert all({"value", "score", "source"} <= set(t) for t in out["tags"].values())
    assert out["colour"]["palette"] and out["shape"]["tags"]
    assert len(out["neighbours"]) == 5 and out["neighbours"][0]["thumbnail"].startswith("/images/")


@pytest.mark.parametrize(
    ("files", "status", "error"),
    [
        ({"image": ("a.txt", b"just text", "text/plain")}, 415, "unsupported media type"),
        ({"image": ("a.jpg", b"", "image/jpeg")}, 400, "empty image file"),
        ({"image": ("a.jpg", b"not really a jpeg", "image/jpeg")}, 422, "not an image"),
        ({"other": ("a.jpg", b"x", "image/jpeg")}, 400, None),
    ],
)
def test_bad_uploads_get_clear_4xx(cnn_home, files, status, error):
    with client(cnn_home) as c:
        r = c.post("/tag", files=files)
    assert r.status_code == status, r.text
    if error:
        assert r.json()["error"] == error


def test_truncated_oversized_and_too_many_pixels(cnn_home, ids, fashion_dir):
    data = photo(fashion_dir, ids[0])
    with client(cnn_home) as c:
        r = c.post("/tag", files=upload(data[: len(data) // 2]))
        assert (r.status_code, r.json()["error"]) == (422, "truncated image")
        assert c.post("/tag?attributes=colour,x-ray", files=upload(data)).status_code == 400
    with client(cnn_home, max_upload_bytes=len(data) - 1) as c:
        assert c.post("/tag", files=upload(data)).json()["error"] == "upload too large"
    with client(cnn_home, max_pixels=1000) as c:
        r = c.post("/tag", files=upload(data))
        assert (r.status_code, r.json()["error"]) == (413, "image too large")


def test_writes_need_the_key(home, ids, fashion_dir):
    listing = {"id": "new-1", "title": "New shirt"}
    files = upload(photo(fashion_dir, ids[0]))
    with client(home) as c:
        assert add(c, listing, files, headers={}).status_code == 401
        assert add(c, listing, files, headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.delete(f"/products/{ids[0]}").status_code == 401
    with TestClient(create_app(Settings(home=str(home)))) as c:  # no key configured
        r = add(c, listing, files)
        assert r.status_code == 403 and "SHELFSIGHT_API_KEY" in r.json()["detail"]


def test_add_update_delete_online_and_after_restart(home, ids, fashion_dir):
    img = photo(fashion_dir, ids[7])
    with client(home) as c:
        before = c.get("/health").json()
        r = add(
            c, {"id": "new-1", "title": "Brand new tee", "tags": {"gender": "Men"}}, upload(img)
        )
        assert r.status_code == 201 and r.json()["results"] == [{"id": "new-1", "status": "added"}]
        after = c.get("/health").json()
        assert after["indexed"] == before["indexed"] + 1
        assert after["index_version"] != before["index_version"]
        nearest = c.get("/similar/new-1?k=1").json()["results"][0]
        assert nearest["id"] == ids[7]  # its own photo's product is the closest
        assert c.get("/search?q=brand new tee").json()["results"][0]["id"] == "new-1"
        r = add(c, {"id": "new-1", "title": "Renamed tee"}, upload(img))
        assert r.json()["results"][0]["status"] == "updated"
        assert c.get("/health").json()["indexed"] == after["indexed"]

        def similar_ids():
            return [r["id"] for r in c.get(f"/similar/{ids[3]}?k=100").json()["results"]]

        nearest_to_3 = similar_ids()[0]
        assert similar_ids()[0] == nearest_to_3  # answered again (from the cache)
        assert c.delete(f"/products/{nearest_to_3}", headers=KEY).status_code == 200
        assert nearest_to_3 not in similar_ids()  # the write invalidated the cached answer
        assert c.delete(f"/products/{ids[2]}", headers=KEY).status_code == 200
        assert c.delete(f"/products/{ids[2]}", headers=KEY).status_code == 404
    with client(home) as c:  # a restart reads what was written
        assert c.get("/products/new-1").json()["title"] == "Renamed tee"
        assert c.get(f"/products/{ids[2]}").status_code == 404
        assert c.get("/health").json()["indexed"] == before["indexed"] - 1
        assert c.get("/similar/new-1?k=1").json()["results"][0]["id"] == ids[7]
        index = c.app.state.shelfsight.shelf.neighbour_search.index.index
        stored = set(faiss.vector_to_array(index.id_map).tolist())
        assert len(stored) == index.ntotal == before["indexed"] - 1


def test_a_batch_with_bad_rows_keeps_the_good_ones(home, ids, fashion_dir):
    listings = [
        {"id": "ok-1", "title": "Good", "image": "a"},
        {"id": "bad-1", "title": "Broken", "image": "b"},
        {"id": "bad-2", "title": "No file", "image": "c"},
    ]
    files = {
        "a": ("a.jpg", photo(fashion_dir, ids[1]), "image/jpeg"),
        "b": ("b.jpg", b"\xff\xd8\xff garbage", "image/jpeg"),
    }
    with client(home) as c:
        out = add(c, listings, files).json()
        assert out["results"] == [{"id": "ok-1", "status": "added"}]
        assert {s["id"]: s["reason"] for s in out["skipped"]} == {
            "bad-1": "not an image",
            "bad-2": "missing image",
        }
        assert c.get("/products/ok-1").status_code == 200
        assert c.get("/products/bad-1").status_code == 404


@pytest.mark.parametrize(
    ("listings", "error"),
    [
        ([{"id": "x", "title": "a"}, {"id": "x", "title": "b"}], "duplicate id"),
        ({"id": "../../etc/passwd", "title": "a"}, "bad id"),
        ({"title": "no id"}, "bad id"),
        ({"id": "x", "tags": ["not", "a", "map"]}, "bad tags"),
        ("not json at all", "bad JSON"),
    ],
)
def test_bad_listings_are_refused_before_writing(home, ids, fashion_dir, listings, error):
    with client(home) as c:
        before = c.get("/health").json()
        body = listings if isinstance(listings, str) else json.dumps(listings)
        r = c.post(
            "/products",
            data={"listings": body},
            files=upload(photo(fashion_dir, ids[0])),
            headers=KEY,
        )
        assert r.status_code == 400 and r.json()["error"] == error
        assert c.get("/health").json() == before


def test_describe_through_an_openai_endpoint(home, ids):
    # every word but the puffery is the record's (black, casual, women, the title's flats)
    said = "Black casual flats for women, smart for everyday wear."  # its title: flats
    with ChatServer([said]) as srv:
        cfg = {
            "describe_backend": "openai",
            "describe_options": {"base_url": srv.base_url, "model": "m"},
        }
        with client(home, **cfg) as c:
            out = c.post("/describe", files=form(product_id=ids[0], length="short"))
            assert out.status_code == 200, out.text
            body = out.json()
            assert body["text"] == "Black casual flats for women." and body["facts"]["title"]
            assert len(body["neighbours"]) == 5 and body["unsupported_claims"] == []
            assert c.post("/describe", files=form(product_id=ids[0], tone="x")).status_code == 400
            assert c.post("/describe", files=form(length="short")).status_code == 400
            assert c.post("/describe", files=form(product_id="nope")).status_code == 404
    dead = {
        "describe_backend": "openai",
        "describe_options": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_retries": 0},
    }
    with client(home, **dead) as c:
        r = c.post("/describe", files=form(product_id=ids[0]))
        assert r.status_code == 502 and "cannot reach" in r.json()["detail"]


def test_describer_is_prepared_at_start_up_and_writes_every_length(cnn_home, ids):
    import time

    with client(cnn_home) as c:
        deadline = time.monotonic() + 60
        while c.get("/describe/status").json()["state"] != "ready":
            assert time.monotonic() < deadline, c.get("/describe/status").json()
            time.sleep(0.2)
        status = c.get("/describe/status").json()
        assert status["backend"] == "edit" and status["seconds"] >= 0
        words = {}
        for length in ("short", "medium", "long"):
            r = c.post("/describe", files=form(product_id=ids[0], length=length))
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["backend"] == "edit" and body["length"] == length
            words[length] = body["words"]
        # the sample catalogue has no descriptions: longer texts add only true facts
        assert words["short"] <= 15 and words["short"] <= words["medium"] <= words["long"]
        # a form field that is not UTF-8 text is a 400 that says so, not a 500
        r = c.post(
            "/describe", files={"product_id": (None, b"\x97\xff"), "length": (None, "short")}
        )
        assert r.status_code == 400 and r.json()["error"] == "bad encoding"
    with client(cnn_home, describe=False) as c:
        assert c.get("/describe/status").json()["state"] == "off"
        r = c.post("/describe", files=form(product_id=ids[0]))
        assert r.status_code == 503 and "SHELFSIGHT_DESCRIBE" in r.json()["detail"]


def test_a_language_model_is_loaded_at_start_up_not_on_the_first_request(cnn_home, ids):
    import time

    with client(cnn_home, describe_backend="transformers") as c:
        deadline = time.monotonic() + 120
        while (status := c.get("/describe/status").json())["state"] != "ready":
            assert status["state"] in ("idle", "loading") and time.monotonic() < deadline
            time.sleep(0.5)
        assert status["backend"].startswith("transformers:")
        backend = c.app.state.shelfsight.shelf.describer().describer.backend
        assert backend.loaded and backend.loads == 1
        r = c.post("/describe", files=form(product_id=ids[0], length="short"))
        assert r.status_code == 200, r.text
        assert 3 <= r.json()["words"] <= 15 and backend.loads == 1  # reused, not reloaded


def test_a_product_added_online_lends_its_words_to_the_guard(home, ids, fashion_dir):
    with client(home) as c:
        describer = c.app.state.shelfsight.shelf.describer()
        assert "zorblaxian" not in describer.describer.vocabulary.known
        listing = {"id": "new-words", "title": "Zorblaxian Men Navy Shirt", "tags": {}}
        r = add(c, listing, upload(photo(fashion_dir, ids[9])))
        assert r.status_code == 201, r.text
        r = c.post("/describe", files=form(product_id=ids[9]))
        assert r.status_code == 200, r.text
        assert "zorblaxian" in describer.describer.vocabulary.known  # read again after the write


def test_the_page_has_a_favicon(cnn_home):
    with client(cnn_home) as c:
        r = c.get("/favicon.ico")
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.content.startswith(b"<svg") and 'rel="icon"' in c.get("/").text


def test_the_api_docs_work_offline(cnn_home):
    """/schema is Swagger UI, /schema/redoc Redoc, every script and style served by the
    app (Litestar's defaults load them from a CDN: a blank page without the internet)."""
    import re

    with client(cnn_home) as c:
        assert c.get("/schema").text == c.get("/schema/swagger").text
        for docs in ("/schema/swagger", "/schema/redoc"):
            page = c.get(docs)
            assert page.status_code == 200
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
            assert urls and not [u for u in urls if "://" in u], (docs, urls)
            assert "@import url(" not in page.text  # no web fonts either
            for url in urls:
                assert c.get(url).status_code == 200, url
        assert c.get("/schema/openapi.yaml").status_code == 200
