"""What one service process holds: its settings and the open workspace (``Shelfsight``)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import msgspec

from shelfsight.core.settings import MB, Settings
from shelfsight.library import Shelfsight
from shelfsight.library import open as open_workspace

T = TypeVar("T")
PY_OBJECTS_PER_JSON_BYTE = 6
log = logging.getLogger(__name__)


def _size_of(value: Any) -> int:
    """What an answer takes in memory, from its JSON length: a k=100 /similar answer is
    26.8 KB of JSON and 146 KB of Python objects (tracemalloc, 5.4x), so 6x."""
    return PY_OBJECTS_PER_JSON_BYTE * len(msgspec.json.encode(value)) + 512


class ServiceState:
    """The HTTP layer's share: its settings and an answer cache over one library
    ``Shelfsight``, which does the work (writer lock, models, new index versions)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shelf: Shelfsight = open_workspace(
            settings.home,
            describe_backend=settings.describe_backend,
            describe_options=settings.describe_options,
            timeout=settings.slow_timeout,
            lock_timeout=settings.lock_timeout,
        )
        self.shelf.recover()
        self.shelf.refresh()  # the index now: a workspace without one fails at start-up
        if not settings.describe:
            self.shelf.live.describers.turn_off()
        # Slow work (descriptions, OCR) runs here, never more than its slots at once: a
        # request that timed out keeps its slot until its thread really ends.
        slots = max(1, settings.slow_slots)
        self.slow = threading.BoundedSemaphore(slots)
        self.slow_pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="slow")
        self._cache: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._cache_bytes = 0
        self._cache_lock = threading.Lock()

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """An answer that depends only on the index and the catalogue, reused until either
        changes (a new index version or catalogue generation, whoever wrote it). The cache
        holds at most ``similar_cache_mb`` of answers, least recently used out first."""
        budget = self.settings.similar_cache_mb * MB
        if budget <= 0:
            return compute()
        full = (self.shelf.version, self.shelf.catalogue.generation(), *key)
        with self._cache_lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full][0]
        value = compute()
        size = _size_of(value)
        with self._cache_lock:
            if full not in self._cache and size <= budget:
                self._cache[full] = (value, size)
                self._cache_bytes += size
            while self._cache_bytes > budget:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._cache_bytes -= dropped
        return value

    def warm_describer(self) -> None:
        """Prepare the describer now (start-up, in a background thread)."""
        if not self.settings.describe:
            return
        try:
            self.shelf.describer()
        except Exception as exc:  # reported by /describe/status and on the next /describe
            log.warning("describer not ready: %s", exc)
