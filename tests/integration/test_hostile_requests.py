"""What an outsider can send, answered at bounded cost (issue 24): memory and pixels per
request, field lengths, filters that cannot be hijacked, formulas that never reach a
spreadsheet, hosts, headers."""

import subprocess
import sys
import textwrap
from io import BytesIO

import pytest
from litestar.testing import TestClient
from PIL import Image

import shelfsight
from shelfsight.core.settings import Settings
from shelfsight.service.app import create_app

pytestmark = pytest.mark.integration


def png(size, colour=(90, 30, 30)):
    buf = BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def api(cnn_home):
    config = Settings(home=str(cnn_home), describe=False)
    with TestClient(create_app(config)) as c:
        yield c


def test_a_batch_of_40_mp_photos_is_refused_whole_or_tagged_in_bounded_memory(cnn_home, tmp_path):
    # 20 of these took a worker from 1.45 to 5.3 GB: every upload was decoded at full size
    # before any was tagged. Made here, in the parent, so the child's peak is its own.
    big = tmp_path / "big.png"
    big.write_bytes(png((6320, 6320)))
    script = textwrap.dedent(
        f"""
        import dataclasses
        import resource
        from litestar.testing import TestClient
        from shelfsight.service.app import create_app
        from shelfsight.core.settings import Settings

        def rss():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

        data = open({str(big)!r}, "rb").read()
        files = [("images", (f"p{{n}}.png", data, "image/png")) for n in range(20)]
        config = Settings(home={str(cnn_home)!r}, describe=False, max_batch=20)
        with TestClient(create_app(config)) as c:
            # The default pixel budget refuses it outright, before decoding anything.
            refused = c.post("/tag/batch", files=files)
            assert refused.status_code == 413, refused.text
            assert refused.json()["error"] == "too many pixels", refused.text
            c.post("/tag/batch", files=files[:1])  # the model loaded and warm
        config = dataclasses.replace(config, max_batch_pixels=10**10)
        with TestClient(create_app(config)) as c:
            c.post("/tag/batch", files=files[:1])
            before = rss()
            # 12 of the 20 are tagged: 2.3 GB more if each were decoded at full size first.
            r = c.post("/tag/batch", files=files[:12])
            grew = rss() - before
            print(r.status_code, r.json()["tagged"], grew, sep="|")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    status, tagged, grew_mb = out.stdout.strip().splitlines()[-1].split("|")
    assert (status, tagged) == ("200", "12")
    assert int(grew_mb) < 500, f"a 12 x 40 MP batch grew the worker by {grew_mb} MB"


def test_too_many_parts_is_a_413_and_a_part_without_a_file_name_skips_itself(api, fashion_dir, ids):
    photo = (fashion_dir / "images" / f"{ids[0]}.jpg").read_bytes()
    many = [("images", (f"{n}.jpg", photo, "image/jpeg")) for n in range(211)]
    r = api.post("/tag/batch", files=many)
    assert r.status_code == 413 and r.json()["error"] == "too many photos", r.text
    files = [
        ("images", ("a.jpg", photo, "image/jpeg")),
        ("images", ("", photo, "image/jpeg")),  # a browser's empty file input looks so
        ("images", ("b.jpg", photo, "image/jpeg")),
    ]
    r = api.post("/tag/batch", files=files)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["name"] for i in items] == ["a.jpg", "image-2", "b.jpg"]
    assert items[1]["skipped"]["reason"] == "not a file"
    assert items[0]["result"]["tags"] == items[2]["result"]["tags"]


def test_another_spelling_of_a_family_cannot_take_over_filters(home, fashion_dir, ids, tmp_path):
    from .test_service_api import add, client, photo, upload

    shelf = shelfsight.open(home)
    men = len(shelf.catalogue.keys_matching(shelf.where(["gender=Men"])))
    # One ingested row with a `Gender` column made --where gender=Men find 1 product.
    odd = tmp_path / "odd.csv"
    odd.write_text("id,productDisplayName,Gender\nodd-1,An odd row,Men\n")
    images = tmp_path / "img"
    images.mkdir()
    (images / "odd-1.jpg").write_bytes(photo(fashion_dir, ids[1]))
    report = shelf.ingest(odd, images)
    assert report.renamed == {"Gender": "gender"} and report.tag_columns == ["gender"]
    assert shelf.catalogue.tag_families().count("gender") == 1
    assert "Gender" not in shelf.catalogue.tag_families()
    assert len(shelf.catalogue.keys_matching(shelf.where(["gender=Men"]))) == men + 1
    with client(home) as c:
        listing = {"id": "shout-1", "title": "x", "tags": {"GENDER": "Women"}}
        r = add(c, [listing], upload(photo(fashion_dir, ids[2])))
        assert r.status_code == 201, r.text
        assert c.get("/products/shout-1").json()["tags"] == {"gender": "Women"}
        assert c.get(f"/similar/{ids[0]}?where=gender=Men").status_code == 200
        assert c.get(f"/similar/{ids[0]}?q=for+men").status_code == 200
        both = {"id": "shout-2", "tags": {"gender": "Men", "Gender": "Women"}}
        r = add(c, [both], upload(photo(fashion_dir, ids[2])))
        assert r.status_code == 400 and "same family" in r.json()["detail"]
        for bad in ({"": "x"}, {"a=b": "x"}, {"x\x00": "y"}, {"usage": "=cmd|' /C calc'!A0"}):
            r = add(c, [{"id": "bad-1", "tags": bad}], upload(photo(fashion_dir, ids[2])))
            assert r.status_code == 400, (bad, r.text)
        assert c.get("/products/bad-1").status_code == 404


def test_a_formula_in_a_catalogue_row_skips_that_row_with_its_reason(
    home, fashion_dir, ids, tmp_path
):
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "id,productDisplayName,articleType\nf-1,Poisoned,=cmd|' /C calc'!A0\nf-2,Plain,Tshirts\n"
    )
    images = tmp_path / "img"
    images.mkdir()
    for pid in ("f-1", "f-2"):
        (images / f"{pid}.jpg").write_bytes((fashion_dir / "images" / f"{ids[3]}.jpg").read_bytes())
    report = shelfsight.open(home).ingest(rows, images)
    assert report.added == 1
    assert [(s.id, s.reason) for s in report.skipped] == [("f-1", "bad tag value")]
    assert "formula" in report.skipped[0].detail


def test_every_field_has_a_maximum_length(api, ids):
    big = "x" * 600
    r = api.post("/describe", files={"title": (None, "y" * 5_000_000)})
    assert r.status_code == 400, r.text[:300]
    for name in ("title", "brand", "gender", "colour", "length", "tone", "product_id"):
        r = api.post("/describe", files={"title": (None, "shirt"), name: (None, big)})
        assert r.status_code == 400, (name, r.text[:300])
    assert api.get(f"/similar/{ids[0]}", params={"where": ["gender=" + big]}).status_code == 400
    assert api.get(f"/similar/{ids[0]}", params={"where": ["gender=Men"] * 51}).status_code == 400
    assert api.get(f"/similar/{ids[0]}?q={big}").status_code == 400
    assert api.get(f"/images/{ids[0]}?size={big}").status_code == 400
    r = api.post("/tag/batch?attributes=" + "colour," * 50, files=[])
    assert r.status_code == 400


def test_a_slow_description_holds_its_slot_and_the_next_is_a_503(cnn_home, ids):
    import threading
    import time

    from .llm_server import ChatServer

    with ChatServer(["A navy blue shirt for men."], delay=4.0) as srv:
        config = Settings(
            home=str(cnn_home),
            slow_slots=1,
            describe_backend="openai",
            describe_options={"base_url": srv.base_url, "model": "m", "max_retries": 0},
        )
        with TestClient(create_app(config), timeout=60) as c:
            first: list = []
            worker = threading.Thread(
                target=lambda: first.append(
                    c.post("/describe", files={"product_id": (None, ids[0])})
                )
            )
            worker.start()
            deadline = time.monotonic() + 30
            while not srv.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            assert srv.requests, "the first description never reached the model"
            second = c.post("/describe", files={"product_id": (None, ids[1])})
            assert second.status_code == 503, second.text
            assert second.headers["retry-after"] and second.json()["error"] == "busy"
            worker.join(60)
            assert first[0].status_code in (200, 422), first[0].text
            after = c.post("/describe", files={"product_id": (None, ids[1])})
            assert after.status_code != 503, after.text  # the slot came back


def test_work_past_its_time_out_keeps_its_slot_until_it_ends(cnn_home):
    import asyncio
    import time

    from shelfsight.service.http.slow_work import run_slow
    from shelfsight.service.http.uploads import ApiError

    app = create_app(Settings(home=str(cnn_home), slow_slots=1, describe=False))
    st = app.state.shelfsight

    async def scenario():
        with pytest.raises(ApiError) as timed_out:
            await run_slow(st, lambda: time.sleep(1.0), timeout=0.1)
        assert timed_out.value.status_code == 504
        with pytest.raises(ApiError) as busy:
            await run_slow(st, lambda: None, timeout=5)
        assert busy.value.status_code == 503  # the abandoned work still runs in its slot
        await asyncio.sleep(1.2)
        assert await run_slow(st, lambda: 42, timeout=5) == 42

    asyncio.run(scenario())


def test_no_file_outlives_its_use(home, fashion_dir, ids):
    from .test_service_api import KEY, add, client, photo, upload

    def stored():
        return sorted(p.name for p in (home / "images").glob("*/*"))

    def title_files():
        return list((home / "cache").glob("titles-*.npy"))

    with client(home) as c:
        for n in range(4):  # every write followed by a search left a full title file
            r = add(
                c,
                [{"id": f"keep-{n}", "title": f"Plain shirt {n}"}],
                upload(photo(fashion_dir, ids[n])),
            )
            assert r.status_code == 201, r.text
            assert c.get("/search?q=shirt&mode=semantic").status_code == 200
            assert len(title_files()) == 1
        assert len(stored()) == 4
        # A new photo for a product: the old one goes, thumbnails with it.
        assert c.get("/images/keep-0?size=thumb").status_code == 200
        old = stored()
        r = add(c, [{"id": "keep-0", "title": "Plain shirt 0"}], upload(photo(fashion_dir, ids[9])))
        assert r.status_code == 201, r.text
        assert len(stored()) == 4 and stored() != old
        assert not list((home / "cache" / "thumbs").glob(f"{old[0].split('.')[0]}-*"))
        assert c.delete("/products/keep-1", headers=KEY).status_code == 200
        assert len(stored()) == 3
        # Two products holding one photo: it stays while either does.
        for pid in ("twin-a", "twin-b"):
            add(c, [{"id": pid, "title": "Twin"}], upload(photo(fashion_dir, ids[20])))
        assert c.delete("/products/twin-a", headers=KEY).status_code == 200
        assert c.get("/images/twin-b").status_code == 200
    # What a crash left (a photo stored, its write never committed) goes at start-up.
    orphan = home / "images" / "ff" / ("f" * 64 + ".jpg")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(photo(fashion_dir, ids[30]))
    with client(home) as c:
        assert c.get("/health").status_code == 200
    assert not orphan.exists()


def test_the_similar_cache_is_bounded_by_bytes_and_ignored_words_share_one_entry(cnn_home, ids):
    config = Settings(home=str(cnn_home), describe=False, similar_cache_mb=1)
    app = create_app(config)
    st = app.state.shelfsight
    with TestClient(app) as c:
        for pid in ids[:40]:  # k=100 answers are ~160 KB each: 40 of them are ~6 MB
            assert c.get(f"/similar/{pid}?k=100").status_code == 200
        assert 0 < st._cache_bytes <= 1024 * 1024 and 1 <= len(st._cache) < 40
        st._cache.clear()
        st._cache_bytes = 0
        for n in range(30):
            r = c.get(f"/similar/{ids[0]}?k=5&q=zzword{n}")
            assert r.json()["ignored"] == [f"zzword{n}"]
        assert len(st._cache) == 1
        plain = c.get(f"/similar/{ids[0]}?k=5").json()
        assert plain["ignored"] == []  # the shared answer was not changed by the last one


def test_nan_and_infinity_are_refused_with_a_reason(home, fashion_dir, ids, tmp_path):
    from .test_service_api import client, photo, upload

    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"id": "n-1", "productDisplayName": "A", "articleType": NaN}\n'
        '{"id": "n-2", "productDisplayName": "B", "articleType": "Tshirts", "price": Infinity}\n'
        '{"id": "n-3", "productDisplayName": "C", "articleType": "Tshirts"}\n'
    )
    images = tmp_path / "img"
    images.mkdir()
    for pid in ("n-1", "n-2", "n-3"):
        (images / f"{pid}.jpg").write_bytes(photo(fashion_dir, ids[5]))
    report = shelfsight.open(home).ingest(rows, images)
    assert report.added == 1
    assert {s.row: s.reason for s in report.skipped} == {1: "malformed row", 2: "malformed row"}
    assert "NaN is not a JSON value" in report.skipped[0].detail
    with client(home) as c:
        r = c.post(
            "/products",
            data={"listings": '{"id": "n-4", "tags": {"usage": NaN}}'},
            files=upload(photo(fashion_dir, ids[5])),
            headers={"X-API-Key": "s3cret"},
        )
        assert r.status_code == 400 and "NaN" in r.json()["detail"]


def test_an_api_key_no_client_can_send_is_caught_at_start_up(cnn_home):
    config = Settings(home=str(cnn_home), api_key=" s3cret\n", describe=False)
    with TestClient(create_app(config)) as c:
        r = c.delete("/products/nope", headers={"X-API-Key": "s3cret"})
        assert r.status_code == 404  # the key matched once the spaces were gone
    with pytest.raises(ValueError, match="printable ASCII"):
        create_app(Settings(home=str(cnn_home), api_key="s\u00e9cret\u2603"))


def test_only_the_servers_own_names_are_answered_and_the_page_is_locked_down(cnn_home):
    config = Settings(
        home=str(cnn_home), describe=False, allowed_hosts=("localhost", "127.0.0.1", "::1")
    )
    with TestClient(create_app(config), base_url="http://127.0.0.1:8000") as c:
        assert c.get("/health").status_code == 200
        assert c.get("/health", headers={"Host": "[::1]:8000"}).status_code == 200
        rebound = c.get("/products", headers={"Host": "attacker.example:8000"})
        assert rebound.status_code == 400 and rebound.json()["error"] == "bad host"
        # Any page could POST big photos blind (a no-cors multipart POST got a 200).
        files = {"images": ("a.png", png((64, 64)), "image/png")}
        blind = c.post("/tag/batch", files=files, headers={"Origin": "https://shop.example"})
        assert blind.status_code == 403 and blind.json()["error"] == "cross-site request"
        own = c.post("/tag/batch", files=files, headers={"Origin": "http://127.0.0.1:8000"})
        assert own.status_code == 200, own.text
        page = c.get("/")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        for r in (page, c.get("/health"), c.get("/static/app.js")):
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"


def test_a_write_waits_a_bounded_time_for_the_lock_then_writes_nothing(home, fashion_dir, ids):
    import time

    from .test_service_api import add, client, photo, upload

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"fh = open({str(home / '.writer.lock')!r}, 'a+')\n"
            "fcntl.flock(fh.fileno(), fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with client(home, lock_timeout=1.0) as c:
            t0 = time.monotonic()
            r = add(c, [{"id": "late-write", "title": "x"}], upload(photo(fashion_dir, ids[7])))
            waited = time.monotonic() - t0
            assert r.status_code == 503 and r.json()["error"] == "busy", r.text
            assert r.headers["retry-after"] and 1.0 <= waited < 10
            holder.kill()
            holder.wait()
            time.sleep(0.5)
            assert c.get("/products/late-write").status_code == 404  # it never lands
            r = add(c, [{"id": "late-write", "title": "x"}], upload(photo(fashion_dir, ids[7])))
            assert r.status_code == 201, r.text
    finally:
        holder.kill()


def test_hostile_listing_words_on_tag_cost_a_bounded_time_and_memory(cnn_home):
    # The words reach a vectoriser of character n-grams, a linear model per family and
    # the kind rule: the longest, most varied text allowed, control characters, other
    # scripts and words naming nothing are answered (or refused) without growing the
    # worker. In a subprocess, so the peak memory measured is the request's own.
    script = textwrap.dedent(
        f"""
        import random, resource, time
        from litestar.testing import TestClient
        from shelfsight.core.settings import Settings
        from shelfsight.service.app import create_app
        from shelfsight.service.routes.tagging import MAX_TEXT

        def rss():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

        rng = random.Random(0)
        letters = "abcdefghijklmnopqrstuvwxyzéøßжяשׁ漢字"
        varied = " ".join(
            "".join(rng.choice(letters) for _ in range(rng.randint(3, 12))) for _ in range(600)
        )[:MAX_TEXT]
        hostile = [
            {{"title": "Men\\x00 Blue\\u202e Tshirt\\x1b[31m", "text": "\\ud7ff" * 10}},
            {{"title": "=HYPERLINK(1) Women Earrings", "text": varied}},
            {{"title": "!!! ??? ... ---"}},
            {{"title": "漢字 женщины Серьги"}},
            {{"text": varied}},
        ]
        config = Settings(home={str(cnn_home)!r}, describe=False)
        with TestClient(create_app(config)) as c:
            assert c.post("/tag", files={{"title": (None, "Men Blue Tshirt")}}).status_code == 200
            before, slowest = rss(), 0.0
            for fields in hostile:
                t0 = time.perf_counter()
                r = c.post("/tag", files={{k: (None, v) for k, v in fields.items()}})
                slowest = max(slowest, time.perf_counter() - t0)
                assert r.status_code in (200, 400), (fields, r.status_code, r.text[:300])
                if r.status_code == 200:
                    for tag in r.json()["tags"].values():
                        assert "\\x00" not in tag["value"] and "\\x1b" not in tag["value"]
            too_long = c.post("/tag", files={{"text": (None, "x" * (MAX_TEXT + 1))}})
            assert too_long.status_code == 400, too_long.text[:300]
            huge = c.post("/tag", files={{"title": (None, "shirt " * 1_000_000)}})
            assert huge.status_code in (400, 413), huge.text[:300]
            assert c.get("/health").status_code == 200
            print(rss() - before, round(slowest, 2), sep="|")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    grew_mb, slowest = out.stdout.strip().splitlines()[-1].split("|")
    assert int(grew_mb) < 150, f"hostile words grew the worker by {grew_mb} MB"
    assert float(slowest) < 10, f"one hostile /tag took {slowest} s"


def test_reading_a_large_review_inbox_costs_a_page_not_the_inbox(home):
    # 20,000 kept items, half of them accepted (70,000 decisions), planted through the
    # inbox's own store: an unauthenticated list, item, stats or filter answers from SQL
    # in bounded memory and time, and what it may ask for is capped before any work. In a
    # subprocess, so the peak memory measured is the requests' own.
    from shelfsight.indexer.catalogue import Catalogue
    from shelfsight.indexer.review_inbox import ReviewInbox, Suggestion

    catalogue = Catalogue(home / "catalogue.db")
    inbox = ReviewInbox(catalogue)
    families = catalogue.tag_families()
    one = {f: Suggestion("Men", 0.9, n % 2 == 0, [("Women", 0.1)]) for n, f in enumerate(families)}
    ids = inbox.keep([one] * 20_000, titles=["Roadster Men Blue Tshirt"] * 20_000)
    inbox.decide_many([(i, {}, None, None) for i in ids[:10_000]])  # 70,000 decisions
    catalogue.close()
    script = textwrap.dedent(
        f"""
        import resource, time
        from litestar.testing import TestClient
        from shelfsight.core.settings import Settings
        from shelfsight.service.app import create_app

        def rss():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

        config = Settings(home={str(home)!r}, describe=False, api_key="s3cret")
        with TestClient(create_app(config)) as c:
            assert c.get("/review?limit=1").status_code == 200
            before, slowest = rss(), 0.0
            for url in ["/review?limit=200", "/review?status=accepted&limit=200",
                        "/review?needs_review=false&family=gender&limit=200",
                        "/review?offset=19990&limit=200", "/review/stats", "/review/1",
                        "/review/999999999999999999999", "/review?limit=100000",
                        "/review/export"]:
                t0 = time.perf_counter()
                r = c.get(url)
                slowest = max(slowest, time.perf_counter() - t0)
                assert r.status_code in (200, 400, 401, 404), (url, r.status_code)
            assert c.get("/review?limit=100000").status_code == 400
            assert c.get("/review/export").status_code == 401
            print(rss() - before, round(slowest, 2), sep="|")
        """
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    grew_mb, slowest = out.stdout.strip().splitlines()[-1].split("|")
    assert int(grew_mb) < 100, f"reading the inbox grew the worker by {grew_mb} MB"
    assert float(slowest) < 5, f"one inbox read took {slowest} s"
