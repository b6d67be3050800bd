"""What an open workspace has loaded: the live index version and the models that answer
from it, each made once, the index re-read when another process publishes a new one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shelfsight.core.errors import BadInput, NotIndexed
from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace
from shelfsight.tagging.describe.session import Describer, DescriberSession
from shelfsight.tagging.search.semantic import TitleSearch
from shelfsight.tagging.search.visual import NeighbourSearch

if TYPE_CHECKING:  # imported where used: they pull in torch, OpenCV, transformers...
    from shelfsight.indexer.embedders import Embedder
    from shelfsight.tagging.neighbour_tags.calibration import Calibration
    from shelfsight.tagging.neighbour_tags.pipeline import Pipeline

log = logging.getLogger(__name__)


class LiveModels:
    """The catalogue's search, tagging pipeline, title search and describer, built on
    first use and shared by every thread of the process."""

    def __init__(
        self,
        workspace: Workspace,
        catalogue: Catalogue,
        describe_backend: str = "edit",
        describe_options: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.workspace = workspace
        self.catalogue = catalogue
        self.describe_backend = describe_backend
        self.describe_options = dict(describe_options or {})
        self.timeout = timeout
        self.version: str | None = None
        self._search: NeighbourSearch | None = None
        self._pipeline: Pipeline | None = None
        self._titles: TitleSearch | None = None
        self._lock = threading.Lock()
        self.describers = DescriberSession(self._new_describer)

    def current_version(self) -> str | None:
        return VectorIndex.current_version(self.workspace.index_dir)

    @property
    def search(self) -> NeighbourSearch:
        """The catalogue + live index + embedder, at the newest published version."""
        return self.search_at(self.current_version())

    def search_at(self, current: str | None) -> NeighbourSearch:
        if self._search is None or current != self.version:
            with self._lock:
                if self._search is None:
                    self._search = NeighbourSearch(self.workspace, self.catalogue)
                    self.version = current
                elif current != self.version:
                    self._search.index = VectorIndex.load(self.workspace.index_dir)
                    self.version = current
        return self._search

    def require_index(self) -> str:
        version = self.current_version()
        if version is None:
            raise NotIndexed(
                f"no index in {self.workspace.index_dir}; run `shelfsight index` first"
            )
        return version

    def refresh(self) -> None:
        # One small file read: the HTTP service calls this on every request.
        current = self.current_version()
        if current is not None:
            self.search_at(current)

    @property
    def pipeline(self) -> Pipeline:
        search = self.search
        if self._pipeline is None:
            from shelfsight.tagging.neighbour_tags.pipeline import Pipeline  # colour, OCR: heavy

            self._pipeline = Pipeline(search)
        return self._pipeline

    @property
    def titles(self) -> TitleSearch:
        with self._lock:
            if self._titles is None:
                self._titles = TitleSearch(self.workspace, self.catalogue)
            return self._titles

    def publish(self, index: VectorIndex) -> None:
        """Answer from ``index`` (just written by this process) from now on."""
        # One reference assignment: a search in flight keeps the index object it started with.
        self.search.index = index
        self.version = self.current_version()
        log.info(
            "index version in use",
            extra={"fields": {"version": self.version, "vectors": len(index)}},
        )

    def load_embedder(self, spec: str) -> Embedder:
        """The embedding model ``spec`` names (``auto``, ``cnn``, ``hybrid``...)."""
        from shelfsight.indexer.embedders import load_embedder

        try:
            return load_embedder(spec, self.workspace.home)
        except ValueError as exc:
            if isinstance(exc, BadInput):
                raise
            raise BadInput(str(exc)) from None

    def recalibrate(
        self, embedder: Embedder | None, novelty_prior: float
    ) -> tuple[Calibration, dict[str, Any]]:
        """A new model or a rebuilt index: everything built on the old one is dropped, and
        what its scores mean is fitted again (``tagging.neighbour_tags.calibration``), and
        the listing words' model with its fusion (``tagging.neighbour_tags.text_fit``)."""
        from shelfsight.tagging.neighbour_tags.calibration_fit import calibrate_workspace
        from shelfsight.tagging.neighbour_tags.defaults import DEFAULT_PIXEL_WEIGHT
        from shelfsight.tagging.neighbour_tags.text_fit import fit_text_tags
        from shelfsight.tagging.pixels.colour_model import weight_from_settings

        self._search = self._pipeline = None
        self.describers.reset()
        search = NeighbourSearch(self.workspace, self.catalogue, embedder=embedder)
        self._search, self.version = search, self.current_version()
        calibration = calibrate_workspace(search, novelty_prior=novelty_prior)
        settings = calibration.settings
        weight = weight_from_settings(settings, DEFAULT_PIXEL_WEIGHT)
        scoring = (settings["power"], settings["alpha"], weight)
        words = fit_text_tags(search, int(settings["k"]), *scoring)
        if words is None:  # no titles to learn from: tags come from the photo alone
            self.workspace.text_tags_path.unlink(missing_ok=True)
            return calibration, {}
        words.save(self.workspace.text_tags_path)
        return calibration, words.summary

    def _new_describer(self) -> Describer:
        from shelfsight.tagging.describe.backends import load_backend
        from shelfsight.tagging.describe.catalogue import CatalogueDescriber
        from shelfsight.tagging.describe.writer import DescriptionWriter

        backend = load_backend(self.describe_backend, timeout=self.timeout, **self.describe_options)
        writer = DescriptionWriter(backend)
        return CatalogueDescriber(self.search, writer, self.pipeline, self.titles)
