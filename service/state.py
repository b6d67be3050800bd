"""What one service process holds: its settings and the open workspace (``Shelfsight``)."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shelfsight.indexer.workspace import Workspace

from shelfsight.library import WRITE_MODES, Shelfsight

MB = 1024 * 1024
T = TypeVar("T")
log = logging.getLogger(__name__)
__all__ = ["WRITE_MODES", "ServiceConfig", "ServiceState"]
_OFF = ("0", "false", "off", "no")


@dataclass
class ServiceConfig:
    home: str | None = None
    api_key: str | None = None
    max_upload_bytes: int = 15 * MB
    max_pixels: int = 40_000_000
    slow_timeout: float = 30.0  # OCR and description generation
    # A client gets this long to send its whole request body; a slow-loris upload would
    # otherwise hold a connection (and its buffers) forever. 15 MB at 2 Mbit/s fits.
    body_timeout: float = 60.0
    similar_cache: int = 8192  # answers kept per worker; 0 turns the cache off
    describe_backend: str = "edit"
    describe_options: dict[str, Any] = field(default_factory=dict)
    # Descriptions on: the describer (and its model, if any) is prepared at start-up, in
    # the background, so the first /describe does not pay for it (20-46 s with a model).
    describe_enabled: bool = True

    @classmethod
    def from_env(cls) -> ServiceConfig:
        env = os.environ
        opts = {
            k: v
            for k, v in {
                "model": env.get("SHELFSIGHT_LLM_MODEL") or env.get("SHELFSIGHT_OPENAI_MODEL"),
                "base_url": env.get("SHELFSIGHT_OPENAI_BASE_URL"),
            }.items()
            if v
        }
        return cls(
            home=env.get("SHELFSIGHT_HOME"),
            api_key=env.get("SHELFSIGHT_API_KEY") or None,
            max_upload_bytes=int(env.get("SHELFSIGHT_MAX_UPLOAD_BYTES", 15 * MB)),
            max_pixels=int(env.get("SHELFSIGHT_MAX_PIXELS", 40_000_000)),
            slow_timeout=float(env.get("SHELFSIGHT_SLOW_TIMEOUT", 30.0)),
            body_timeout=float(env.get("SHELFSIGHT_BODY_TIMEOUT", 60.0)),
            similar_cache=int(env.get("SHELFSIGHT_SIMILAR_CACHE", 8192)),
            describe_backend=env.get("SHELFSIGHT_DESCRIBE_BACKEND", "edit"),
            describe_options=opts,
            describe_enabled=env.get("SHELFSIGHT_DESCRIBE", "1").lower()
            not in ("0", "false", "off"),
        )


class ServiceState:
    """The HTTP layer's share: its configuration and an answer cache over one library
    ``Shelfsight``, which does the work (writer lock, models, new index versions)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.shelf = Shelfsight(
            Workspace.open(config.home, create=False),
            describe_backend=config.describe_backend,
            describe_options=config.describe_options,
            timeout=config.slow_timeout,
        )
        self.shelf.recover()
        self.shelf.refresh()  # the index now: a workspace without one fails at start-up
        if not config.describe_enabled:
            self.shelf.describer_state = {"state": "off"}
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_lock = threading.Lock()

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """An answer that depends only on the index and the catalogue, reused until either
        changes (a new index version or catalogue generation, whoever wrote it)."""
        if self.config.similar_cache <= 0:
            return compute()
        full = (self.shelf.version, self.shelf.catalogue.generation(), *key)
        with self._cache_lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
        value = compute()
        with self._cache_lock:
            self._cache[full] = value
            while len(self._cache) > self.config.similar_cache:
                self._cache.popitem(last=False)
        return value

    def warm_describer(self) -> None:
        """Prepare the describer now (start-up, in a background thread)."""
        if not self.config.describe_enabled:
            return
        try:
            self.shelf.describer()
        except Exception as exc:  # reported by /describe/status and on the next /describe
            log.warning("describer not ready: %s", exc)
