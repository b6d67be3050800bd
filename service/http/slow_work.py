"""Slow work (a description, an OCR read) in a few slots per worker process.

``asyncio.wait_for`` cannot stop a thread: a description that timed out ran on, and new
requests piled more behind it. Here each runs only in a free slot, a request finding none
is refused at once (503, ``Retry-After``), and a timed-out one keeps its slot until its
thread really ends, so what an outsider can start is bounded by the slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from shelfsight.service.http.state import ServiceState
from shelfsight.service.http.uploads import ApiError

T = TypeVar("T")
RETRY_AFTER = {"Retry-After": "5"}


async def run_slow(st: ServiceState, fn: Callable[[], T], timeout: float) -> T:
    """Run slow work (a description, an OCR read) in one of the worker's few slow slots;
    with none free, 503 at once. Past ``timeout`` the client gets a 504 and the thread
    runs on in its slot, so abandoned work can never pile up."""
    if not st.slow.acquire(blocking=False):
        raise ApiError(
            503,
            "busy",
            f"all {st.settings.slow_slots} slots for slow work (descriptions, OCR) are taken; "
            "try again shortly",
            headers=RETRY_AFTER,
        )

    def job() -> T:
        try:
            return fn()
        finally:
            st.slow.release()

    try:
        future = asyncio.get_running_loop().run_in_executor(st.slow_pool, job)
    except BaseException:
        st.slow.release()
        raise
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        raise ApiError(504, "timed out", f"the work took longer than {timeout:.0f} s") from None
