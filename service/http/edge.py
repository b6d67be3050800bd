"""What every request passes before routing: the Host and Origin checks and the
security headers.

A page on any web site can point a DNS name it controls at 127.0.0.1 (DNS rebinding) and
then read a loopback server as if it were that site: the catalogue, the photos. Checking
the Host header against the names the server is known by stops it. Litestar's
``AllowedHostsConfig`` compares the header port included, so every name would need each
port listed; this compares the name alone and answers in the API's error format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import cast
from urllib.parse import urlsplit

from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Message,
    Receive,
    Scope,
    Send,
)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def host_name(header: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


async def _refuse(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"status_code": status, "error": error, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status,
                                     "headers": headers}  # fmt: skip
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)


class HostCheck:
    """The Host check (``allowed`` names; None = any), and no cross-site writes: a POST
    or DELETE whose ``Origin`` is another site is refused before its body is read. A
    browser sends one blind from any page (a no-cors multipart POST of big photos got a
    200); the API's own clients (the page, scripts, curl) are same-origin or send none."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed is None else {host_name(h) for h in allowed}
        # "*.example.com" allows every sub-domain of example.com.
        self.suffixes = tuple(h[1:] for h in self.allowed or () if h.startswith("*."))

    def _known(self, name: str) -> bool:
        return self.allowed is None or name in self.allowed or name.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            http = cast("HTTPScope", scope)
            headers = dict(http["headers"])
            name = host_name(headers.get(b"host", b"").decode("latin-1"))
            if not self._known(name):
                detail = (
                    f"this server does not answer to {name!r}; "
                    "set SHELFSIGHT_ALLOWED_HOSTS to the names it is reached by"
                )
                await _refuse(send, 400, "bad host", detail)
                return
            origin = headers.get(b"origin", b"").decode("latin-1")
            if http["method"] not in SAFE_METHODS and origin:
                other = host_name(urlsplit(origin).netloc) if origin != "null" else "null"
                if other != name and (self.allowed is None or other not in self.allowed):
                    detail = f"a {http['method']} from another site ({origin}) is not accepted"
                    await _refuse(send, 403, "cross-site request", detail)
                    return
        await self.app(scope, receive, send)


# Every response, errors and static files included (Litestar's app-level response headers
# skip both): no MIME sniffing, no framing, no referrer to other sites.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
