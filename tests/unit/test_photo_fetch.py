"""Photos by URL (issue 29): fetched into the workspace from a real local HTTP server,
with the hostile answers a catalogue can point at; re-runs download nothing unchanged."""

import pytest

from shelfsight.indexer.images import ImageError
from shelfsight.indexer.remote_photos.fetch import FetchOptions, PhotoFetcher
from shelfsight.indexer.remote_photos.guard import check_url
from shelfsight.indexer.workspace import Workspace
from tests.photo_server import PhotoHost, jpeg, serving

QUICK = {"read_timeout": 0.4, "deadline": 0.8, "retries": 1, "backoff": 0.01}


@pytest.fixture()
def host():
    photos = {f"/{i}.jpg": jpeg((20 * i, 90, 200 - 10 * i)) for i in range(1, 13)}
    with serving(PhotoHost(photos=photos, stall_seconds=1.5)) as h:
        yield h


@pytest.fixture()
def workspace(tmp_path):
    return Workspace.open(tmp_path / "ws", create=True)


def fetcher(workspace, **kw):
    return PhotoFetcher(workspace, FetchOptions(allow_private=True, **{**QUICK, **kw}))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/a.jpg", "loopback"),
        ("http://localhost:6379/", "loopback"),
        ("http://10.1.2.3/a.jpg", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"),
        ("http://[::1]/a.jpg", "IPv6 loopback"),
        ("http://[::ffff:127.0.0.1]/a.jpg", "IPv4-mapped loopback"),
        ("http://0.0.0.0/a.jpg", "unspecified"),
        ("file:///etc/passwd", "not http"),
        ("ftp://example.com/a.jpg", "not http"),
        ("http:///a.jpg", "no host"),
    ],
)
def test_private_and_non_http_addresses_are_refused_by_default(url, why):
    with pytest.raises(ImageError) as err:
        check_url(url)
    assert err.value.reason == "url refused", why


def test_a_public_address_passes_and_is_pinned():
    target = check_url("http://93.184.216.34/a.jpg")
    assert target.address == "93.184.216.34" and target.port == 80


def test_loopback_is_refused_even_from_the_fetcher_unless_allowed(host, workspace):
    url = f"{host.base}/1.jpg"
    got, _report = PhotoFetcher(workspace, FetchOptions(**QUICK)).fetch_all([url], False)
    assert isinstance(got[url], ImageError) and got[url].reason == "url refused"
    assert host.requests[url[len(host.base) :]] == 0  # never connected
    got, _ = fetcher(workspace).fetch_all([url], False)
    assert got[url].is_file()


def test_each_hostile_answer_is_a_skip_with_its_reason(host, workspace):
    urls = {
        "/gone.jpg": "http error",
        "/loop": "too many redirects",
        "/slow.jpg": "url timed out",
        "/page.jpg": "not an image",
        "/huge.jpg": "image file too large",
        "/1.jpg": None,
        "/moved/2.jpg": None,
    }
    got, report = fetcher(workspace).fetch_all([host.base + u for u in urls], False)
    for path, reason in urls.items():
        result = got[host.base + path]
        if reason is None:
            assert result.is_file(), path
            assert result.is_relative_to(workspace.home / "images")
        else:
            assert isinstance(result, ImageError) and result.reason == reason, (path, result)
    assert report.downloaded == 2 and sum(report.failed.values()) == 5


def test_a_503_is_retried_with_back_off(host, workspace):
    url = host.base + "/flaky.jpg"
    got, _ = fetcher(workspace).fetch_all([url], False)
    assert got[url].is_file() and host.requests["/flaky.jpg"] == 2
    got, _ = fetcher(workspace, retries=0).fetch_all([host.base + "/flaky.jpg?again"], False)
    assert host.requests["/flaky.jpg"] == 3


def test_the_byte_cap_holds_without_a_content_length_too(host, workspace):
    url = host.base + "/1.jpg"
    got, _ = fetcher(workspace, max_bytes=100).fetch_all([url], False)
    assert got[url].reason == "image file too large"


def test_a_rerun_asks_the_server_and_downloads_nothing_unchanged(host, workspace):
    urls = [f"{host.base}/{i}.jpg" for i in range(1, 7)]
    first, report = fetcher(workspace).fetch_all(urls, False)
    assert report.downloaded == 6 and sum(host.bodies.values()) == 6
    again, report = fetcher(workspace).fetch_all(urls, False)
    assert report.downloaded == 0 and report.not_modified == 6
    assert sum(host.bodies.values()) == 6  # the server sent no photo twice
    assert again == first
    # a stored file that went missing is fetched again, not served from the cache
    first[urls[0]].unlink()
    _, report = fetcher(workspace).fetch_all(urls[:1], False)
    assert report.downloaded == 1


def test_no_more_than_per_host_requests_reach_one_host_at_once(host, workspace):
    urls = [f"{host.base}/{i}.jpg" for i in range(1, 13)]
    # Timeouts long enough that no request is abandoned: on a loaded machine a quick one
    # gave up on a slow answer and retried while the server still counted the first
    # (3 at once, seen once in a full run beside an evaluation).
    slow = {"read_timeout": 10.0, "deadline": 20.0}
    fetcher(workspace, workers=8, per_host=2, **slow).fetch_all(urls, False)
    assert 1 <= host.max_concurrent <= 2
