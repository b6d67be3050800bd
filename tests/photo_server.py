"""A local photo host for the URL-fetch tests: real HTTP on 127.0.0.1, with the hostile
answers a merchant's CDN or a catalogue's typo can give (404, a redirect loop, a server
that stalls, an HTML page where a photo should be, a body over the cap, a 503 that
clears on retry). ``ETag`` / ``If-None-Match`` as a CDN does it; ``bodies`` counts the
photos actually sent."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (48, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


@dataclass
class PhotoHost:
    photos: dict[str, bytes] = field(default_factory=dict)  # path -> body
    bodies: Counter[str] = field(default_factory=Counter)  # path -> 200s sent
    requests: Counter[str] = field(default_factory=Counter)
    stall_seconds: float = 3.0
    base: str = ""
    concurrent: int = 0
    max_concurrent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(host: PhotoHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            with host._lock:
                host.requests[path] += 1
                host.concurrent += 1
                host.max_concurrent = max(host.max_concurrent, host.concurrent)
            try:
                self._answer(path)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout under test): nothing to answer
            finally:
                with host._lock:
                    host.concurrent -= 1

        def _answer(self, path: str) -> None:
            if path in host.photos:
                body = host.photos[path]
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                time.sleep(0.02)  # a CDN's latency, so the pool's parallelism shows
                host.bodies[path] += 1
                self._send(200, body, "image/jpeg", {"ETag": etag})
            elif path.startswith("/loop"):
                self._send(302, b"", "text/plain", {"Location": f"/loop{path[5:]}x"})
            elif path == "/slow.jpg":
                time.sleep(host.stall_seconds)
                self._send(200, host.photos.get("/1.jpg", b""), "image/jpeg")
            elif path == "/page.jpg":
                self._send(200, b"<html><body>Not found</body></html>", "text/html")
            elif path == "/huge.jpg":
                self.send_response(200)
                self.send_header("Content-Length", str(10**9))
                self.end_headers()
            elif path == "/flaky.jpg":
                if host.requests[path] == 1:
                    self._send(503, b"busy", "text/plain")
                else:
                    self._send(200, jpeg((0, 128, 0)), "image/jpeg")
            elif path.startswith("/moved/"):
                self._send(301, b"", "text/plain", {"Location": "/" + path[len("/moved/") :]})
            else:
                self._send(404, b"no such photo", "text/plain")

        def _send(
            self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler


@contextmanager
def serving(host: PhotoHost) -> Iterator[PhotoHost]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(host))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
