"""``Shelfsight``: one open workspace, and everything the tool does to it.

The CLI and the HTTP app are thin layers over this class: they parse, call one method and
render the answer. It owns what they used to do each on their own: the workspace (and
refusing to invent one at a mistyped path), the writer lock around every write, loading
each model once, and picking up index versions another process published.

Layers: ``indexer`` (storage, embeddings, the index) < ``tagging`` (tags, attributes,
descriptions) < this facade < ``service`` (CLI, HTTP, page).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage

from shelfsight.indexer import image_store
from shelfsight.indexer.batch_sources import BatchSource, batch_sources
from shelfsight.indexer.catalogue import Catalogue, Product, search_terms
from shelfsight.indexer.errors import BadInput, ImageChanged, NotFound, NotIndexed, Skip
from shelfsight.indexer.images import (
    DecodedImage,
    ImageError,
    ImageInput,
    decode_bytes,
    decode_image,
    read_image_file,
)
from shelfsight.indexer.ingest import ColumnOptions, IngestReport, ingest_file
from shelfsight.indexer.model_specs import HYBRID_TRUNK
from shelfsight.indexer.online import (
    LockBusy,
    add_products,
    delete_product,
    reconcile,
    stored_image_path,
    writer_lock,
)
from shelfsight.indexer.tag_names import canonical_families, check_value
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace, atomic_path
from shelfsight.tagging.defaults import DEFAULT_ATTRIBUTES, NOVELTY_PRIOR
from shelfsight.tagging.neighbours import (
    NeighbourSearch,
    NotEmbedded,
    Query,
    UnknownProduct,
    parse_where,
)
from shelfsight.tagging.results import (
    BatchItem,
    ProductInfo,
    SearchResult,
    SimilarProduct,
    SimilarResult,
)
from shelfsight.tagging.results import TagResult as TagResult
from shelfsight.tagging.title_search import TitleSearch

if TYPE_CHECKING:  # imported where used: they pull in torch, transformers...
    from shelfsight.indexer.build import IndexReport
    from shelfsight.indexer.train import TrainReport
    from shelfsight.tagging.describe.writer import Description
    from shelfsight.tagging.pipeline import Pipeline, PipelineOptions

log = logging.getLogger(__name__)
WRITE_MODES = ("replace", "merge")
SEARCH_MODES = ("hybrid", "keyword", "semantic")
# Reciprocal rank fusion (Cormack et al. 2009): 60 is their constant; each list is read
# this deep, so a product ranked 100th by one and 1st by the other still surfaces.
RRF_K, RRF_DEPTH = 60, 100
THUMB_SIZES = {"thumb": 256, "medium": 640}


class ImageMissing(NotFound):
    error = "image missing"


Where = Mapping[str, Sequence[str]] | Sequence[str] | None
MAX_FILTERS = 50
MAX_FILTER_LENGTH = 200


def open(
    home: str | os.PathLike[str] | None = None, create: bool = False, **options: Any
) -> Shelfsight:
    """Open the workspace at ``home`` ($SHELFSIGHT_HOME, else ./shelfsight-data).

    Without ``create`` a missing folder is ``NotFound`` rather than a new empty workspace.
    ``options``: ``describe_backend`` (edit, transformers, openai), ``describe_options``
    (passed to the backend: model, base_url...), ``timeout`` (seconds for OCR and one
    description), ``lock_timeout`` (seconds a write waits for another writer before it is
    ``Busy``; None waits as long as it takes)."""
    return Shelfsight(Workspace.open(home, create=create), **options)


class Shelfsight:
    """A workspace: its catalogue, its live index and the models that answer from it."""

    def __init__(
        self,
        workspace: Workspace,
        describe_backend: str = "edit",
        describe_options: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
        lock_timeout: float | None = None,
    ) -> None:
        self.workspace = workspace
        self.lock_timeout = lock_timeout
        self.catalogue = Catalogue(workspace.db_path)
        self.describe_backend = describe_backend
        self.describe_options = dict(describe_options or {})
        self.timeout = timeout
        self.version: str | None = None
        self._search: NeighbourSearch | None = None
        self._pipeline: Pipeline | None = None
        self._describer: Any = None
        self._titles: TitleSearch | None = None
        self._write = threading.Lock()  # writers in this process; the file lock covers others
        self._open_lock = threading.Lock()
        self._describer_lock = threading.Lock()
        self.describer_state: dict[str, Any] = {"state": "idle"}

    def __repr__(self) -> str:
        return f"<Shelfsight {self.workspace.home}>"

    @property
    def home(self) -> Path:
        return self.workspace.home

    # -- the live index -------------------------------------------------------------------
    @property
    def neighbour_search(self) -> NeighbourSearch:
        """The catalogue + live index + embedder; the index is re-read when another process
        (a worker, the CLI) publishes a new version. ``NotIndexed`` before the first index."""
        return self._search_at(VectorIndex.current_version(self.workspace.index_dir))

    def _search_at(self, current: str | None) -> NeighbourSearch:
        if self._search is None or current != self.version:
            with self._open_lock:
                if self._search is None:
                    self._search = NeighbourSearch(self.workspace, self.catalogue)
                    self.version = current
                elif current != self.version:
                    self._search.index = VectorIndex.load(self.workspace.index_dir)
                    self.version = current
        return self._search

    @property
    def pipeline(self) -> Pipeline:
        search = self.neighbour_search
        if self._pipeline is None:
            from shelfsight.tagging.pipeline import Pipeline  # colour, shape, OCR: heavy

            self._pipeline = Pipeline(search)
        return self._pipeline

    def require_index(self) -> str:
        """The live index version, or ``NotIndexed`` when there is none yet."""
        version = VectorIndex.current_version(self.workspace.index_dir)
        if version is None:
            raise NotIndexed(
                f"no index in {self.workspace.index_dir}; run `shelfsight index` first"
            )
        return version

    def refresh(self) -> None:
        """Pick up an index version another process wrote (reads do this themselves)."""
        # One small file read: the HTTP service calls this on every request.
        current = VectorIndex.current_version(self.workspace.index_dir)
        if current is not None:
            self._search_at(current)

    def recover(self) -> None:
        """Repair what a write killed between its index swap and its catalogue commit left
        (index ids of products that never committed), like a database replaying its log,
        and remove stored photos no product holds (a write killed after storing its photo).
        Skipped when another process is writing: its write publishes a fresh index."""
        if VectorIndex.current_version(self.workspace.index_dir) is None:
            return
        try:
            with writer_lock(self.workspace, wait=False):
                index = VectorIndex.load(self.workspace.index_dir)
                _, report = reconcile(self.workspace, self.catalogue, index)
                swept = image_store.sweep(self.workspace, self.catalogue)
        except LockBusy:
            return
        if swept:
            log.info("removed %d stored photo files no product holds", swept)
        if report.changed:
            log.warning(
                "recovered index: removed=%d added=%d", len(report.removed), len(report.added)
            )

    # -- reads ----------------------------------------------------------------------------
    def product(self, product_id: str) -> Product:
        product = self.catalogue.get(product_id)
        if product is None:
            raise UnknownProduct(product_id)
        return product

    def image(self, product_id: str, size: str = "full") -> tuple[bytes, str]:
        """A product's photo as (bytes, media type): the file as ingested (``full``), or a
        JPEG thumbnail (``thumb`` 256 px, ``medium`` 640 px) made once and cached.

        ``NotFound`` when the file is gone; ``ImageChanged`` when the file at that path is
        no longer the image the catalogue recorded (replaced, truncated)."""
        if size != "full" and size not in THUMB_SIZES:
            raise BadInput(f"size must be full or one of {sorted(THUMB_SIZES)}")
        product = self.product(product_id)
        if not product.image_path or not product.image_sha256:
            raise ImageMissing(f"{product_id!r} has no image")
        cache = self.workspace.thumbnail(product.image_sha256, size)
        if size != "full" and cache.is_file():
            return cache.read_bytes(), "image/jpeg"
        data = self._stored_bytes(product)
        try:
            if size == "full":
                with PILImage.open(io.BytesIO(data)) as probe:  # the header only
                    fmt = probe.format or "JPEG"
                return data, f"image/{fmt.lower()}"
            thumb = decode_bytes(data).image
        except (ImageError, OSError) as exc:
            raise ImageChanged(f"the image of {product_id!r}: {exc}") from None
        thumb.thumbnail((THUMB_SIZES[size], THUMB_SIZES[size]))
        with atomic_path(cache) as tmp:
            thumb.save(tmp, "JPEG", quality=85)
        return cache.read_bytes(), "image/jpeg"

    @staticmethod
    def _stored_bytes(product: Product) -> bytes:
        try:
            data = read_image_file(Path(str(product.image_path)))
        except ImageError as exc:
            if exc.reason == "missing image":
                raise ImageMissing(f"the image of {product.id!r} is not on disk") from None
            raise ImageChanged(f"the image of {product.id!r}: {exc}") from None
        if hashlib.sha256(data).hexdigest() != product.image_sha256:
            raise ImageChanged(f"the file of {product.id!r} changed after ingest; ingest it again")
        return data

    def query(
        self,
        image_or_id: ImageInput | str,
        with_image: bool = True,
        embed: bool = True,
        paths: bool = True,
    ) -> Query:
        """A product id (a ``str`` the catalogue knows, else a file path unless ``paths``
        is off, as for ids from an HTTP client), a path, bytes, a PIL image or a numpy
        array, as something to search from."""
        search = self.neighbour_search
        if isinstance(image_or_id, str):
            try:
                return search.query_for_product(image_or_id, with_image=with_image, embed=embed)
            except UnknownProduct:
                if not paths:
                    raise
                if not Path(image_or_id).is_file():
                    raise NotFound(
                        f"{image_or_id!r} is neither a product id nor an image file"
                    ) from None
            except ImageError as exc:  # a stored product whose file can no longer be read
                raise NotEmbedded(f"{image_or_id!r} has no vector and {exc}") from None
        return search.query_for_image(decode_image(image_or_id))

    def tag(self, image_or_id: ImageInput | str, **options: Any) -> TagResult:
        """Tags for a photo or a catalogue product: the neighbours' IDW vote (+ the hybrid's
        heads), colour, shape and (``attributes=("ocr",)``) printed text.

        ``options`` are ``PipelineOptions``: ``k``, ``attributes``, ``power``, ``alpha``,
        ``pixel_weight``, ``colour_column``, ``min_score``, ``review_threshold``,
        ``ocr_timeout``."""
        opts = self._pipeline_options(options)
        query = self.query(image_or_id)
        return self.pipeline.run(query, query.image, opts).answer()

    def tag_batch(
        self,
        images: str | os.PathLike[str] | Iterable[ImageInput | tuple[str, ImageInput]],
        progress: bool = False,
        source: BatchSource | None = None,
        **options: Any,
    ) -> Iterator[BatchItem]:
        """Tag many photos, one ``BatchItem`` each, in order: its ``result`` as ``tag``
        gives it, or why it was ``skipped`` (the rest go ahead).

        ``images`` is a folder (every image file under it), a CSV/JSONL file naming its
        photos as ``ingest`` does (``source`` says how), or an iterable of images or
        (name, image) pairs. The next photos decode while the model embeds the current
        batch; the options are ``tag``'s."""
        from shelfsight.tagging.batch import tag_many

        opts = self._pipeline_options(options)
        skipped: list[Skip] = []
        if isinstance(images, str | os.PathLike):
            found, skipped = batch_sources(Path(images), **vars(source or BatchSource()))
            named: Iterable[tuple[str, Any]] = found
            total: int | None = len(found)
        else:
            total = len(images) if isinstance(images, Sequence) else None
            named = (
                item if isinstance(item, tuple) else (_name_of(item, n), item)
                for n, item in enumerate(images)
            )
        for skip in skipped:  # rows that name no photo come first; nothing stops for them
            yield BatchItem(skip.id or f"row-{skip.row}", skip.path, skipped=skip)
        yield from tag_many(self.pipeline, named, opts, progress=progress, total=total)

    def batch_columns(self, attributes: str | Sequence[str] = DEFAULT_ATTRIBUTES) -> list[str]:
        """The header of ``tag-batch``'s CSV: each family's value, score, source, review."""
        from shelfsight.tagging.batch import csv_columns

        attrs = self._pipeline_options({"attributes": attributes}).attributes
        return csv_columns(self.catalogue.tag_families(), attrs)

    def _pipeline_options(self, options: dict[str, Any]) -> PipelineOptions:
        if isinstance(options.get("attributes"), str):
            attrs = options["attributes"].split(",")
            options["attributes"] = tuple(a.strip() for a in attrs if a.strip())
        from shelfsight.tagging.pipeline import PipelineOptions

        try:
            return PipelineOptions(**options)
        except TypeError as exc:
            raise BadInput(f"tag: {exc}") from None

    def where(self, where: Where) -> dict[str, list[str]]:
        """A tag filter, checked against the catalogue: ``{"gender": ["Men"]}`` or
        ``["gender=Men", "usage=Casual"]`` (OR within a family, AND across)."""
        if where is None:
            return {}
        # Bounded whatever the way in: each filter is a look-up, and a fuzzy one on a miss.
        items = (
            [f"{f}={v}" for f, vs in where.items() for v in vs]
            if isinstance(where, Mapping)
            else [str(x) for x in where]
        )
        if len(items) > MAX_FILTERS:
            raise BadInput(f"at most {MAX_FILTERS} filters at once ({len(items)} given)")
        if any(len(x) > MAX_FILTER_LENGTH for x in items):
            raise BadInput(f"a filter is at most {MAX_FILTER_LENGTH} characters long")
        if isinstance(where, Mapping):
            filters = {str(f): [str(v) for v in vs] for f, vs in where.items()}
        else:
            filters = parse_where(list(where))
        return self.catalogue.resolve_where(filters)

    def similar(
        self,
        image_or_id: ImageInput | str,
        k: int = 10,
        where: Where = None,
        embed: bool = True,
        paths: bool = True,
        text: str | None = None,
    ) -> SimilarResult:
        """The catalogue products that look most like a product or a photo.

        ``text`` refines it in words ("like this, but in red"): the tag values it names
        join ``where``; words naming none come back as ``ignored``. A stored product
        answers from its stored vector without loading a model; one not embedded yet is
        embedded now, or (``embed=False``) raises ``NotEmbedded``."""
        filters, ignored = self.refine(where, text)
        query = self.query(image_or_id, with_image=False, embed=embed, paths=paths)
        label = query.product.id if query.product is not None else "image"
        found = self._search_at(self.version).neighbours(query, k, where=filters)
        products = [SimilarProduct.from_neighbour(n) for n in found]
        return SimilarResult(label, filters, products, ignored)

    def refine(self, where: Where, text: str | None) -> tuple[dict[str, list[str]], list[str]]:
        """``where`` checked, with the tag values ``text`` names added (AND across
        families, OR within one); and the words of ``text`` that named no value."""
        filters = self.where(where)
        if not text:
            return filters, []
        named, ignored = self.catalogue.filters_in_text(text)
        for family, values in named.items():
            have = filters.setdefault(family, [])
            have += [v for v in values if v not in have]
        return filters, ignored

    def facets(self) -> dict[str, dict[str, int]]:
        """Every tag family's values and how many products hold each."""
        return self.catalogue.facets()

    @property
    def title_search(self) -> TitleSearch:
        """Semantic search over the titles (MiniLM), shared with text-only descriptions."""
        with self._open_lock:
            if self._titles is None:
                self._titles = TitleSearch(self.workspace, self.catalogue)
            return self._titles

    def search(
        self, q: str, k: int = 20, where: Where = None, mode: str = "hybrid"
    ) -> SearchResult:
        """Products for a text query.

        ``keyword``: BM25 over titles and tag values, any of the words (stop words left
        out, each also as a prefix), those holding more of them first. ``semantic``:
        the titles nearest in meaning (all-MiniLM-L6-v2). ``hybrid`` (default): both
        lists fused by reciprocal rank (``score`` = sum of 1 / (60 + rank)), so a product
        both find comes first and either alone still counts."""
        if mode not in SEARCH_MODES:
            raise BadInput(f"mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
        filters = self.where(where)
        allowed = self.catalogue.keys_matching(filters) if filters else None
        depth = max(k, RRF_DEPTH) if mode == "hybrid" else k
        keyword = self.catalogue.search_text(q, depth, allowed) if mode != "semantic" else []
        if mode == "keyword":
            hits = [ProductInfo.from_product(h.product, rank=round(h.rank, 4)) for h in keyword]
            return SearchResult(q, filters, hits, mode)
        semantic = self.title_search.search(q, depth, allowed) if q.strip() else []
        if mode == "semantic":
            products = self.catalogue.by_keys(key for key, _ in semantic)
            hits = [
                ProductInfo.from_product(products[key], score=round(sim, 4))
                for key, sim in semantic
                if key in products
            ]
            return SearchResult(q, filters, hits, mode)
        fused: dict[int, float] = {}
        # A keyword hit counts for the share of the query's words it holds: one holding
        # only "for"-like side words of a query about meaning does not outvote the titles
        # nearest in meaning.
        words = max(1, len(search_terms(q)))
        for rank, hit in enumerate(keyword, start=1):
            fused[hit.product.key] = hit.matched / words / (RRF_K + rank)
        for rank, (key, _) in enumerate(semantic, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda key: -fused[key])[:k]
        products = {h.product.key: h.product for h in keyword}
        products |= self.catalogue.by_keys(key for key in best if key not in products)
        bm25 = {h.product.key: h.rank for h in keyword}
        hits = [
            ProductInfo.from_product(
                products[key],
                rank=round(bm25[key], 4) if key in bm25 else None,
                score=round(fused[key], 5),
            )
            for key in best
            if key in products
        ]
        return SearchResult(q, filters, hits, mode)

    # -- descriptions ---------------------------------------------------------------------
    def describer(self) -> Any:
        """The catalogue describer (``tagging.describe``), prepared once: vocabulary, product
        nouns, existing descriptions and, for a model backend, the model."""
        from shelfsight.tagging.describe.backends import BackendError, load_backend
        from shelfsight.tagging.describe.catalogue import CatalogueDescriber
        from shelfsight.tagging.describe.writer import Describer

        with self._describer_lock:
            if self._describer is None:
                backend = load_backend(
                    self.describe_backend, timeout=self.timeout, **self.describe_options
                )
                search = self.neighbour_search
                self._describer = CatalogueDescriber(
                    search, Describer(backend), self.pipeline, self.title_search
                )
            describer = self._describer
        if self.describer_state["state"] != "ready":
            started = time.perf_counter()
            self.describer_state = {"state": "loading", "backend": describer.describer.label}
            try:
                describer.prepare()
            except BackendError as exc:
                self.describer_state = {**self.describer_state, "state": "failed"}
                self.describer_state["error"] = str(exc)
                raise
            self.describer_state = {
                **self.describer_state,
                "state": "ready",
                "seconds": round(time.perf_counter() - started, 2),
            }
            log.info("describer ready", extra={"fields": self.describer_state})
        return describer

    def describe(
        self,
        image_or_id: ImageInput | str | None = None,
        *,
        title: str | None = None,
        fields: Mapping[str, str] | None = None,
        k: int = 5,
        force: bool = False,
        attributes: Sequence[str] = ("colour", "shape"),
        min_confidence: float = 0.5,
        description_column: str | None = None,
        **options: Any,
    ) -> Description:
        """A listing description (``tagging.describe.writer.Description``) for a photo, a
        catalogue product or, with no image, a title (+ ``fields``: brand, gender, colour...).

        ``options`` are ``DescribeOptions``: ``length`` (house, short, medium, long),
        ``tone`` (neutral, premium, playful), ``language``, ``temperature``, ``seed``,
        ``max_shared_ngram``. An out-of-domain photo raises ``OutOfDomain`` unless
        ``force``."""
        from shelfsight.tagging.describe.catalogue import DescribeRequest
        from shelfsight.tagging.describe.writer import DescribeOptions

        facts = {**(fields or {}), **({"title": title} if title else {})}
        try:
            opts = DescribeOptions(timeout=self.timeout, **options)
        except (TypeError, ValueError) as exc:
            raise BadInput(str(exc)) from None
        req = DescribeRequest(
            fields=facts,
            k=k,
            attributes=tuple(attributes),
            min_confidence=min_confidence,
            description_column=description_column,
            force=force,
        )
        if image_or_id is None:
            if not facts.get("title"):
                raise BadInput("nothing to describe: give an image, a product id or a title")
            return self.describer().describe(req, opts)
        if isinstance(image_or_id, str) and self.catalogue.get(image_or_id) is not None:
            req.target = image_or_id
            return self.describer().describe(req, opts)
        query = self.query(image_or_id)
        return self.describer().describe_query(query, req, opts)

    # -- writes ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """The workspace's writer lock (every process) and this object's (every thread)."""
        limit = self.lock_timeout
        deadline = None if limit is None else time.monotonic() + limit
        if not self._write.acquire(timeout=-1 if limit is None else limit):
            raise LockBusy(f"another write held {self.workspace.home} for {limit:g} s; try again")
        try:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with writer_lock(self.workspace, timeout=left):
                yield
        finally:
            self._write.release()

    def ingest(
        self,
        catalog: str | os.PathLike[str],
        images: str | os.PathLike[str] | None = None,
        columns: ColumnOptions | None = None,
        progress: bool = False,
    ) -> IngestReport:
        """Load listings (CSV or JSON Lines) into the catalogue: an upsert; every skipped row
        is in the report with its reason."""
        if images is not None and not Path(images).is_dir():
            raise BadInput(f"images folder {images} is not a folder")
        with self.writing():
            return ingest_file(
                self.catalogue,
                Path(catalog),
                Path(images) if images is not None else None,
                columns or ColumnOptions(),
                progress=progress,
            )

    def index(
        self,
        model: str = "auto",
        *,
        batch_size: int = 8,
        index_type: str | None = None,
        engine: str = "local",
        address: str | None = None,
        shards: str | None = None,
        novelty_prior: float = NOVELTY_PRIOR,
        progress: bool = False,
    ) -> IndexReport:
        """Embed every product not embedded yet, rebuild the FAISS index (atomic swap) and
        fit what its scores mean (calibration). Returns ``indexer.build.IndexReport``."""
        from shelfsight.indexer.build import EngineOptions, run_index
        from shelfsight.indexer.index_types import INDEX_TYPES

        if index_type is not None and index_type not in INDEX_TYPES:
            raise BadInput(f"unknown index type {index_type!r}; choose {', '.join(INDEX_TYPES)}")
        try:
            engine_options = EngineOptions(engine, address=address, shards=shards)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        if engine == "ray" and importlib.util.find_spec("ray") is None:
            raise BadInput("the ray engine needs Ray: pip install 'ray[data]'")
        if self.catalogue.count() == 0:
            raise NotIndexed("the catalogue is empty; run `shelfsight ingest` first")
        embedder = self._load_embedder(model)
        with self.writing():
            report = run_index(
                self.workspace,
                self.catalogue,
                embedder,
                batch_size=batch_size,
                progress=progress,
                index_type=index_type,
                engine=engine_options,
            )
            report.calibration = self._calibrate(embedder, novelty_prior)
        # Semantic search's title vectors, made now rather than on the first query.
        self.title_search.index(progress=progress)
        return report

    def train(
        self,
        *,
        epochs: int = 18,
        seed: int = 0,
        cnn: str = HYBRID_TRUNK,
        novelty_prior: float = NOVELTY_PRIOR,
        progress: bool = False,
    ) -> TrainReport:
        """Fit the hybrid CNN-ViT to the catalogue's tags, then re-embed, re-index and
        re-calibrate with it. Returns ``indexer.train.TrainReport``."""
        from shelfsight.indexer.embedders.hybrid import HybridConfig
        from shelfsight.indexer.train import TrainOptions, train_workspace

        with self.writing():
            try:
                report = train_workspace(
                    self.workspace,
                    self.catalogue,
                    cfg=HybridConfig(arch=cnn),
                    opts=TrainOptions(epochs=epochs, seed=seed),
                    progress=progress,
                )
            except ValueError as exc:
                if isinstance(exc, BadInput | NotFound):
                    raise
                raise BadInput(str(exc)) from None
            report.calibration = self._calibrate(None, novelty_prior)
        return report

    def add(
        self,
        listings: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        images: Sequence[Any] | Any = None,
        mode: str = "replace",
    ) -> list[dict[str, Any]]:
        """Add or update products online: store each image, upsert the listing (``id``,
        ``title``, ``tags``, ``fields``), embed it and publish a new index version.

        ``replace`` (default): a listing is the product's whole record. ``merge``: given
        fields overwrite, others (and the image, when ``None`` is given) are kept."""
        if mode not in WRITE_MODES:
            raise BadInput(f"mode must be one of {', '.join(WRITE_MODES)}")
        if isinstance(listings, Mapping):
            listings, images = [listings], [images]
        listings = [dict(x) for x in listings]
        images = list(images) if images is not None else [None] * len(listings)
        if len(images) != len(listings):
            raise BadInput(f"{len(listings)} listings but {len(images)} images")
        for item in listings:
            tags = item.get("tags") or {}
            canonical_families(tags, [])  # valid names, one spelling per family
            for family, value in tags.items():
                check_value(family, str(value))
        uploads = [None if i is None else _with_bytes(i) for i in images]
        with self.writing():
            index = VectorIndex.load(self.workspace.index_dir)  # the newest, whoever wrote it
            records, results = [], []
            replaced: list[str | None] = []  # photos the new ones take the place of
            keys, new = self.catalogue.allocate_keys(str(item["id"]) for item in listings)
            current = self.catalogue.by_keys(k for pid, k in keys.items() if pid not in new)
            for item, upload in zip(listings, uploads, strict=True):
                pid = str(item["id"])
                key = keys[pid]
                old = current.get(key)
                record: dict[str, Any] = {"key": key, "id": pid}
                # GENDER=Women joins the catalogue's gender, never a family of its own.
                family_of = self.catalogue.family_names(item.get("tags") or {})
                tags = {family_of[f]: str(v) for f, v in (item.get("tags") or {}).items()}
                if mode == "merge" and old is not None:
                    record["title"] = item.get("title", old.title)
                    record["tags"] = {**old.tags, **tags}
                    record["fields"] = {**old.fields, **item.get("fields", {})}
                else:
                    record["title"] = item.get("title", "")
                    record["tags"] = tags
                    record["fields"] = item.get("fields", {})
                if upload is not None:
                    image, data = upload
                    path = stored_image_path(self.workspace, image.sha256, image.format)
                    if not path.exists():
                        with atomic_path(path) as tmp:
                            tmp.write_bytes(data)
                    record.update(
                        image_path=str(path),
                        image_sha256=image.sha256,
                        width=image.width,
                        height=image.height,
                    )
                elif old is None:
                    raise BadInput(f"{pid!r} is a new product and needs an image")
                records.append(record)
                results.append({"id": pid, "status": "updated" if old else "added"})
                if old is not None and upload is not None:
                    replaced.append(old.image_sha256)
            search = self.neighbour_search
            index = add_products(
                self.workspace,
                self.catalogue,
                index,
                search.embedder,
                records,
                [u[0] if u is not None else None for u in uploads],
            )
            self._publish(index)
            image_store.forget(self.workspace, self.catalogue, replaced)
            return results

    def delete(self, product_id: str) -> Product:
        """Remove a product from the catalogue and the index (a new index version)."""
        with self.writing():
            index = VectorIndex.load(self.workspace.index_dir)
            product, index = delete_product(self.workspace, self.catalogue, index, product_id)
            if product is None:
                raise UnknownProduct(product_id)
            self._publish(index)
            image_store.forget(self.workspace, self.catalogue, [product.image_sha256])
            return product

    # -- evaluation -----------------------------------------------------------------------
    @staticmethod
    def evaluate_tagging(
        catalog: str | os.PathLike[str], images: str | os.PathLike[str], **options: Any
    ) -> list[dict[str, Any]]:
        """Tag held-out products of a labelled catalogue as new ones and score them
        (``tagging.evaluate.evaluate_tagging``; it builds its own scratch workspace)."""
        from shelfsight.tagging.evaluate import evaluate_tagging

        options.setdefault("progress", False)
        return evaluate_tagging(Path(catalog), Path(images), **options)

    # -- internals ------------------------------------------------------------------------
    def _publish(self, index: VectorIndex) -> None:
        # One reference assignment: a search in flight keeps the index object it started with.
        self.neighbour_search.index = index
        self.version = VectorIndex.current_version(self.workspace.index_dir)
        log.info(
            "index version in use",
            extra={"fields": {"version": self.version, "vectors": len(index)}},
        )

    def _load_embedder(self, spec: str) -> Any:
        from shelfsight.indexer.embedders import load_embedder

        try:
            return load_embedder(spec, self.workspace.home)
        except ValueError as exc:
            if isinstance(exc, BadInput):
                raise
            raise BadInput(str(exc)) from None

    def _calibrate(self, embedder: Any, novelty_prior: float) -> Any:
        from shelfsight.tagging.calibration import calibrate_workspace

        self._search = self._pipeline = self._describer = None  # a new model, a new index
        search = NeighbourSearch(self.workspace, self.catalogue, embedder=embedder)
        self._search, self.version = search, VectorIndex.current_version(self.workspace.index_dir)
        return calibrate_workspace(search, novelty_prior=novelty_prior)


def _name_of(image: Any, n: int) -> str:
    """A photo's name in a batch: its file's stem, else its place in the batch."""
    if isinstance(image, str | os.PathLike):
        return Path(image).stem
    return f"image-{n + 1}"


def _with_bytes(image: Any) -> tuple[DecodedImage, bytes]:
    """An image to store: its decoded form and the bytes that go on disk."""
    if isinstance(image, tuple) and len(image) == 2 and isinstance(image[0], DecodedImage):
        return image
    if isinstance(image, str | os.PathLike):
        data = read_image_file(Path(image))
        return decode_bytes(data), data
    if isinstance(image, bytes | bytearray | memoryview):
        return decode_bytes(bytes(image)), bytes(image)
    picture = decode_image(image).image  # PIL or numpy: kept as a lossless PNG
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    data = buffer.getvalue()
    return decode_bytes(data), data


def evaluate_describe(
    catalog: str | os.PathLike[str],
    backend: str = "edit",
    backend_options: Mapping[str, Any] | None = None,
    *,
    queries: str | os.PathLike[str] | None = None,
    holdout_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    k: int = 5,
    columns: Any = None,
    controls: bool = True,
    progress: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Describe held-out listings of a catalogue with descriptions and score them against
    their real texts, next to a neighbour copy and a template
    (``tagging.describe.evaluate``). ``options`` are ``DescribeOptions``."""
    from shelfsight.tagging.describe.backends import load_backend
    from shelfsight.tagging.describe.evaluate import evaluate_describe as run
    from shelfsight.tagging.describe.writer import DescribeOptions

    try:
        opts = DescribeOptions(**options)
    except (TypeError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    model = load_backend(backend, **dict(backend_options or {}))
    return run(
        Path(catalog),
        model,
        Path(queries) if queries is not None else None,
        holdout_fraction,
        seed,
        limit,
        k,
        opts,
        columns,
        progress=progress,
        controls=controls,
    )
