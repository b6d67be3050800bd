"""Fetch catalogue photos by URL into the workspace's image store, politely and boundedly.

A bounded pool (``workers``) with at most ``per_host`` requests to any one host at a time;
connect and read timeouts plus a deadline per photo (a server that trickles a byte every few
seconds is cut off); retries with exponential back-off on connection failures, 429 and 5xx;
a byte cap read off the wire (``Accept-Encoding: identity`` and the raw stream, so a
compressed body can never inflate past it); redirects followed by hand, each target checked
by the address guard; ``If-None-Match`` / ``If-Modified-Since`` from the cache, so a re-run
downloads nothing unchanged. Every failure is an ``ImageError`` with a short reason (the
ingest report's skip), never an exception out of the batch.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from tqdm import tqdm

from shelfsight.indexer.images import ImageError, decode_bytes
from shelfsight.indexer.remote_photos.cache import CachedPhoto, PhotoCache
from shelfsight.indexer.remote_photos.guard import Target, check_url
from shelfsight.indexer.workspace import Workspace

log = logging.getLogger(__name__)

MB = 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
RETRIED = (429, 500, 502, 503, 504)
USER_AGENT = "Shelfsight/0.1 (catalogue photo fetch)"


@dataclass
class FetchOptions:
    workers: int = 8  # photos in flight at once
    per_host: int = 4  # of which at most this many from one host
    connect_timeout: float = 5.0
    read_timeout: float = 10.0  # between two reads
    deadline: float = 30.0  # one try of one photo, all reads together
    retries: int = 2  # after the first try
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_bytes: int = 20 * MB
    max_redirects: int = 5
    allow_private: bool = False  # fetch from private, loopback and link-local addresses


@dataclass
class FetchReport:
    downloaded: int = 0
    not_modified: int = 0  # revalidated: the server said 304, the stored file is reused
    failed: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "downloaded": self.downloaded,
            "not_modified": self.not_modified,
            "failed": dict(self.failed),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class _Fetched:
    photo: CachedPhoto
    downloaded: int  # bytes; 0 when the cached file was reused


class PhotoFetcher:
    def __init__(self, workspace: Workspace, opts: FetchOptions | None = None) -> None:
        self.workspace = workspace
        self.opts = opts or FetchOptions()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        # A connection pool per host: connections go to a pinned address, and two names
        # on one CDN address must never share a TLS connection made for the other.
        self._clients: dict[str, httpx.Client] = {}
        self._slots_lock = threading.Lock()

    def fetch_all(
        self, urls: Sequence[str], progress: bool = True
    ) -> tuple[dict[str, Path | ImageError], FetchReport]:
        """Each distinct URL -> its stored file, or the ``ImageError`` that skips it."""
        wanted = list(dict.fromkeys(urls))
        report = FetchReport()
        out: dict[str, Path | ImageError] = {}
        if not wanted:
            return out, report
        start = time.monotonic()
        cache = PhotoCache(self.workspace.photo_url_cache)
        opts = self.opts
        try:
            cached = cache.get_many(wanted)
            with ThreadPoolExecutor(opts.workers, thread_name_prefix="photo-fetch") as pool:
                futures = {pool.submit(self._fetch, url, cached.get(url)): url for url in wanted}
                bar = tqdm(
                    as_completed(futures),
                    total=len(futures),
                    desc="fetch photos",
                    unit="photo",
                    disable=not progress,
                )
                for done, future in enumerate(bar, start=1):
                    url = futures[future]
                    try:
                        got = future.result()
                    except ImageError as exc:
                        out[url] = exc
                        report.failed[exc.reason] += 1
                        continue
                    out[url] = Path(got.photo.path)
                    if got.downloaded:
                        report.downloaded += 1
                        report.bytes += got.downloaded
                        cache.put(got.photo)
                    else:
                        report.not_modified += 1
                    if not progress and done % 500 == 0:
                        log.info("fetching photos", extra={"fields": {"done": done}})
        finally:
            cache.close()
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        report.seconds = time.monotonic() - start
        log.info("photos fetched", extra={"fields": report.as_dict()})
        return out, report

    # -- one photo -----------------------------------------------------------------------
    def _fetch(self, url: str, cached: CachedPhoto | None) -> _Fetched:
        current = url
        for _ in range(self.opts.max_redirects + 1):
            target = check_url(current, self.opts.allow_private)
            headers = cached.validators() if cached is not None else {}
            status, location, body = self._with_retries(target, headers)
            if status in REDIRECTS:
                if not location:
                    raise ImageError("http error", f"{status} redirect without a Location")
                current = urljoin(current, location)
                continue
            if status == 304 and cached is not None:
                return _Fetched(cached, 0)
            if status != 200:
                raise ImageError("http error", f"{url[:200]} answered {status}")
            return self._store(url, body)
        raise ImageError(
            "too many redirects", f"{url[:200]}: more than {self.opts.max_redirects} redirects"
        )

    def _store(self, url: str, body: tuple[bytes, str | None, str | None]) -> _Fetched:
        from shelfsight.indexer.image_store import store

        data, etag, last_modified = body
        try:
            decoded = decode_bytes(data)
        except ImageError as exc:
            raise ImageError("not an image", f"{url[:200]}: {exc.detail or exc.reason}") from None
        fields = store(self.workspace, decoded, data)
        photo = CachedPhoto(url, fields["image_path"], decoded.sha256, etag, last_modified)
        return _Fetched(photo, len(data))

    def _with_retries(
        self, target: Target, headers: dict[str, str]
    ) -> tuple[int, str | None, tuple[bytes, str | None, str | None]]:
        opts = self.opts
        for attempt in range(opts.retries + 1):
            last = attempt == opts.retries
            try:
                with self._host_slot(target.host) as client:
                    status, location, body = self._get(client, target, headers)
            except (httpx.TimeoutException, _TooSlow) as exc:
                if last:
                    raise ImageError("url timed out", f"{target.url[:200]}: {exc}") from None
            except httpx.TransportError as exc:
                if last:
                    raise ImageError("url unreachable", f"{target.url[:200]}: {exc}") from None
            else:
                if status not in RETRIED or last:
                    return status, location, body
            # Full jitter: many photos from one failing host do not retry in step.
            time.sleep(random.uniform(0, opts.backoff * 2**attempt))
        raise AssertionError("unreachable")

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[httpx.Client]:
        """One of ``per_host`` turns at ``host``, and the host's own client."""
        opts = self.opts
        with self._slots_lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(opts.per_host))
            client = self._clients.get(host)
            if client is None:
                client = self._clients[host] = httpx.Client(
                    timeout=httpx.Timeout(opts.read_timeout, connect=opts.connect_timeout),
                    limits=httpx.Limits(max_connections=opts.per_host),
                    follow_redirects=False,
                )
        with slot:
            yield client

    def _get(
        self, client: httpx.Client, target: Target, headers: dict[str, str]
    ) -> tuple[int, str | None, tuple[bytes, str | None, str | None]]:
        url = httpx.URL(target.url)
        netloc_host = target.host if url.port is None else f"{target.host}:{url.port}"
        request_headers = {
            "Host": netloc_host,
            "User-Agent": USER_AGENT,
            "Accept": "image/*",
            "Accept-Encoding": "identity",
            **headers,
        }
        # Connect to the address the guard checked; TLS still verifies the URL's name.
        pinned = url.copy_with(host=target.address)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        deadline = time.monotonic() + self.opts.deadline
        with client.stream(
            "GET", pinned, headers=request_headers, extensions=extensions
        ) as response:
            status = response.status_code
            if status in REDIRECTS:
                return status, response.headers.get("location"), (b"", None, None)
            if status != 200:
                return status, None, (b"", None, None)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.opts.max_bytes:
                raise ImageError(
                    "image file too large",
                    f"{target.url[:200]}: {declared} bytes, more than {self.opts.max_bytes}",
                )
            data = bytearray()
            for chunk in response.iter_raw():
                data += chunk
                if len(data) > self.opts.max_bytes:
                    raise ImageError(
                        "image file too large",
                        f"{target.url[:200]}: more than {self.opts.max_bytes} bytes",
                    )
                if time.monotonic() > deadline:
                    raise _TooSlow(f"not all sent within {self.opts.deadline:g} s")
            body = (
                bytes(data),
                response.headers.get("etag"),
                response.headers.get("last-modified"),
            )
            return status, None, body


class _TooSlow(Exception):
    pass
