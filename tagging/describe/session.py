"""The workspace's describer as the library holds it: made on first use, prepared (its
catalogue words, nouns and model) before it answers, and its state for status pages."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from shelfsight.core.errors import BackendError  # the family: no backend module loaded

if TYPE_CHECKING:
    from shelfsight.tagging.describe.catalogue import DescribeRequest
    from shelfsight.tagging.describe.writer import DescribeOptions, Description
    from shelfsight.tagging.search.visual import Query

log = logging.getLogger(__name__)


class Describer(Protocol):
    """What writes a listing description for a catalogue product, a title or a photo
    (``tagging.describe.catalogue.CatalogueDescriber``)."""

    @property
    def label(self) -> str:
        """The backend that writes, as status pages name it (``edit``, a model name)."""
        ...

    def prepare(self) -> None: ...

    def describe(
        self, req: DescribeRequest, opts: DescribeOptions | None = None
    ) -> Description: ...

    def describe_query(
        self, query: Query, req: DescribeRequest, opts: DescribeOptions | None = None
    ) -> Description: ...

    def describe_any(
        self, target: Any, req: DescribeRequest, opts: DescribeOptions | None = None
    ) -> Description:
        """A product id, a photo or (``None``) the title in ``req``."""
        ...


class DescriberSession:
    """One describer per open workspace, built by ``make`` on first use; ``state`` says
    ``idle``, ``loading``, ``ready``, ``failed`` (with the error) or ``off``."""

    def __init__(self, make: Callable[[], Describer]) -> None:
        self._make = make
        self._describer: Describer | None = None
        self._lock = threading.Lock()
        self.state: dict[str, Any] = {"state": "idle"}

    def reset(self) -> None:
        """Forget the describer (a new model or index): the next use builds it again (and
        its first answer reads the catalogue again, as every answer checks)."""
        with self._lock:
            self._describer = None

    def turn_off(self) -> None:
        self.state = {"state": "off"}

    def get(self) -> Describer:
        """The describer, prepared; a backend that fails to load raises ``BackendError``
        and leaves the state ``failed`` until a later call succeeds."""
        with self._lock:
            if self._describer is None:
                self._describer = self._make()
            describer = self._describer
        if self.state["state"] != "ready":
            started = time.perf_counter()
            self.state = {"state": "loading", "backend": describer.label}
            try:
                describer.prepare()
            except BackendError as exc:
                self.state = {**self.state, "state": "failed", "error": str(exc)}
                raise
            seconds = round(time.perf_counter() - started, 2)
            self.state = {**self.state, "state": "ready", "seconds": seconds}
            log.info("describer ready", extra={"fields": self.state})
        return describer
