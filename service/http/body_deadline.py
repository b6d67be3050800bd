"""A deadline on receiving a request's body.

uvicorn times out idle keep-alive connections but not a request whose body trickles in
(or never comes): each such connection holds a task and its buffers for ever. This ASGI
middleware gives the whole body ``seconds`` to arrive; past that the request fails with
408 and, since the body was never read to its end, the server closes the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send


class BodyDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    @classmethod
    def factory(cls, seconds: float) -> Callable[[ASGIApp], ASGIApp]:
        def wrap(app: ASGIApp) -> ASGIApp:
            return cls(app, seconds)

        return wrap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False

        async def timed_receive() -> ReceiveMessage:
            nonlocal body_done
            if body_done:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            try:
                message: Any = await asyncio.wait_for(receive(), deadline - loop.time())
            except TimeoutError:
                raise HTTPException(
                    status_code=408,
                    detail=f"the request body did not arrive within {self.seconds:.0f} s",
                    extra={"error": "request timeout"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed_receive, send)
