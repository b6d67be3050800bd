"""One logfmt line per HTTP request (at INFO: ``shelfsight serve -v``): method, path,
status and milliseconds, measured from the request's arrival to the response's last byte."""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("shelfsight.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)  # off: not a clock read more per request
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: the app failed before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            fields: dict[str, Any] = {
                "method": scope.get("method", ""),
                "path": scope.get("path", ""),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
            client = scope.get("client")
            if client:
                fields["client"] = client[0]
            log.info("request", extra={"fields": fields})
