"""What one service process holds: its settings and the open workspace (``Shelfsight``)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from shelfsight.indexer.settings import MB, Settings, settings

from shelfsight.library import WRITE_MODES, Shelfsight
from shelfsight.library import open as open_workspace

T = TypeVar("T")
PY_OBJECTS_PER_JSON_BYTE = 6
log = logging.getLogger(__name__)
__all__ = ["WRITE_MODES", "ServiceConfig", "ServiceState"]
_DEFAULT = Settings()  # the defaults live with the settings they are defaults of


@dataclass
class ServiceConfig:
    home: str | None = None
    api_key: str | None = None
    max_upload_bytes: int = _DEFAULT.max_upload_bytes
    max_pixels: int = _DEFAULT.max_pixels
    max_batch: int = _DEFAULT.max_batch
    max_batch_bytes: int = _DEFAULT.max_batch_bytes
    max_batch_pixels: int = _DEFAULT.max_batch_pixels
    slow_timeout: float = _DEFAULT.slow_timeout  # OCR and description generation
    # A client gets this long to send its whole request body; a slow-loris upload would
    # otherwise hold a connection (and its buffers) forever. 15 MB at 2 Mbit/s fits.
    body_timeout: float = _DEFAULT.body_timeout
    lock_timeout: float = _DEFAULT.lock_timeout
    slow_slots: int = _DEFAULT.slow_slots
    # Host names the server answers to (DNS rebinding); None or "*" = any. From the
    # environment: SHELFSIGHT_ALLOWED_HOSTS, else the loopback names.
    allowed_hosts: tuple[str, ...] | None = None
    similar_cache_mb: float = _DEFAULT.similar_cache_mb  # answers kept per worker; 0 = off
    describe_backend: str = _DEFAULT.describe_backend
    describe_options: dict[str, Any] = field(default_factory=dict)
    # Descriptions on: the describer (and its model, if any) is prepared at start-up, in
    # the background, so the first /describe does not pay for it (20-46 s with a model).
    describe_enabled: bool = True

    @classmethod
    def from_env(cls) -> ServiceConfig:
        env = settings()
        opts = {
            k: v
            for k, v in {
                "model": env.llm_model or env.openai_model,
                "base_url": env.openai_base_url,
            }.items()
            if v
        }
        return cls(
            home=env.home,
            api_key=env.api_key,
            max_upload_bytes=env.max_upload_bytes,
            max_pixels=env.max_pixels,
            max_batch=env.max_batch,
            max_batch_bytes=env.max_batch_bytes,
            max_batch_pixels=env.max_batch_pixels,
            slow_timeout=env.slow_timeout,
            body_timeout=env.body_timeout,
            lock_timeout=env.lock_timeout,
            slow_slots=env.slow_slots,
            allowed_hosts=env.allowed_hosts,
            similar_cache_mb=env.similar_cache_mb,
            describe_backend=env.describe_backend,
            describe_options=opts,
            describe_enabled=env.describe,
        )


def _size_of(value: Any) -> int:
    """What an answer takes in memory, from its JSON length: a k=100 /similar answer is
    26.8 KB of JSON and 146 KB of Python objects (tracemalloc, 5.4x), so 6x."""
    return PY_OBJECTS_PER_JSON_BYTE * len(msgspec.json.encode(value)) + 512


class ServiceState:
    """The HTTP layer's share: its configuration and an answer cache over one library
    ``Shelfsight``, which does the work (writer lock, models, new index versions)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.shelf: Shelfsight = open_workspace(
            config.home,
            describe_backend=config.describe_backend,
            describe_options=config.describe_options,
            timeout=config.slow_timeout,
            lock_timeout=config.lock_timeout,
        )
        self.shelf.recover()
        self.shelf.refresh()  # the index now: a workspace without one fails at start-up
        if not config.describe_enabled:
            self.shelf.describer_state = {"state": "off"}
        # Slow work (descriptions, OCR) runs here, never more than its slots at once: a
        # request that timed out keeps its slot until its thread really ends.
        slots = max(1, config.slow_slots)
        self.slow = threading.BoundedSemaphore(slots)
        self.slow_pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="slow")
        self._cache: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._cache_bytes = 0
        self._cache_lock = threading.Lock()

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """An answer that depends only on the index and the catalogue, reused until either
        changes (a new index version or catalogue generation, whoever wrote it). The cache
        holds at most ``similar_cache_mb`` of answers, least recently used out first."""
        budget = self.config.similar_cache_mb * MB
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
        if not self.config.describe_enabled:
            return
        try:
            self.shelf.describer()
        except Exception as exc:  # reported by /describe/status and on the next /describe
            log.warning("describer not ready: %s", exc)
