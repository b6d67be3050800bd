"""``Shelfsight``: one open workspace, and everything the tool does to it.

The CLI and the HTTP app are thin layers over this class: they parse, call one method and
render the answer. It opens (never inventing a workspace at a mistyped path), caches
(``live``: each model once, new index versions picked up), locks every write and
delegates: every algorithm lives in its feature's room (``tagging.neighbour_tags``...).

Layers: ``core`` < ``indexer`` (storage, embeddings, the index) < ``tagging`` (tags,
attributes, search, descriptions) < this facade < ``service`` (CLI, HTTP, page).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from shelfsight.core.errors import BadInput, NotFound, NotIndexed
from shelfsight.indexer import image_store, listings
from shelfsight.indexer.batch_sources import BatchSource
from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.indexer.images import ImageInput
from shelfsight.indexer.ingest import ColumnOptions, IngestReport, ingest_file
from shelfsight.indexer.listings import WRITE_MODES as WRITE_MODES
from shelfsight.indexer.model_specs import HYBRID_TRUNK
from shelfsight.indexer.online import WriteGate, add_products, delete_product, recover
from shelfsight.indexer.photo_rows import Photo
from shelfsight.indexer.remote_photos.fetch import FetchOptions, PhotoFetcher
from shelfsight.indexer.vector_index import VectorIndex
from shelfsight.indexer.workspace import Workspace
from shelfsight.live import LiveModels
from shelfsight.tagging.describe.session import Describer
from shelfsight.tagging.neighbour_tags.defaults import DEFAULT_ATTRIBUTES, NOVELTY_PRIOR
from shelfsight.tagging.results import (
    BatchItem,
    ProductInfo,
    SearchResult,
    SimilarProduct,
    SimilarResult,
    TagResult,
)
from shelfsight.tagging.search.filters import Where, checked_filters, refined_filters
from shelfsight.tagging.search.semantic import TitleSearch
from shelfsight.tagging.search.visual import NeighbourSearch, Query, UnknownProduct
from shelfsight.tagging.text_tags.words import listing_text

if TYPE_CHECKING:  # imported where used: they pull in torch, transformers...
    from shelfsight.indexer.build import IndexReport
    from shelfsight.indexer.train import TrainReport
    from shelfsight.review import Review
    from shelfsight.tagging.describe.writer import DescribeChanges, DescribeOptions, Description
    from shelfsight.tagging.neighbour_tags.batch import BatchImages
    from shelfsight.tagging.neighbour_tags.pipeline import Pipeline, PipelineOptions, TagChanges

log = logging.getLogger(__name__)


def open(
    home: str | os.PathLike[str] | None = None,
    create: bool = False,
    describe_backend: str = "edit",
    describe_options: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
    lock_timeout: float | None = None,
) -> Shelfsight:
    """Open the workspace at ``home`` ($SHELFSIGHT_HOME, else ./shelfsight-data).

    Without ``create`` a missing folder is ``NotFound`` rather than a new empty workspace.
    ``describe_backend`` (edit, transformers, openai) and its ``describe_options`` (model,
    base_url...); ``timeout``: seconds for OCR and one description; ``lock_timeout``:
    seconds a write waits for another writer before it is ``Busy`` (None: as long as it
    takes)."""
    workspace = Workspace.open(home, create=create)
    return Shelfsight(workspace, describe_backend, describe_options, timeout, lock_timeout)


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
        self.catalogue = Catalogue(workspace.db_path)
        describing = (describe_backend, describe_options, timeout)
        self.live = LiveModels(workspace, self.catalogue, *describing)
        self.timeout = timeout
        self.writing = WriteGate(workspace, lock_timeout)

    def __repr__(self) -> str:
        return f"<Shelfsight {self.workspace.home}>"

    @property
    def home(self) -> Path:
        return self.workspace.home

    # -- the live index -------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        """The index version this process answers from."""
        return self.live.version

    @property
    def neighbour_search(self) -> NeighbourSearch:
        """Catalogue + index (re-read when another process publishes one) + embedder."""
        return self.live.search

    @property
    def pipeline(self) -> Pipeline:  # colour, shape, OCR and the words around the vote
        return self.live.pipeline

    @property
    def title_search(self) -> TitleSearch:
        """Semantic search over the titles (MiniLM), shared with text-only descriptions."""
        return self.live.titles

    @functools.cached_property
    def review(self) -> Review:  # the review inbox (``shelfsight.review``), made once
        from shelfsight.review import Review

        return Review(self)

    def require_index(self) -> str:  # the live index version, else ``NotIndexed``
        return self.live.require_index()

    def refresh(self) -> None:
        """Pick up an index version another process wrote (reads do this themselves)."""
        self.live.refresh()

    def recover(self) -> None:  # what a killed write left (``indexer.online.recover``)
        recover(self.workspace, self.catalogue)

    # -- reads ----------------------------------------------------------------------------
    def product(self, product_id: str) -> Product:
        product = self.catalogue.get(product_id)
        if product is None:
            raise UnknownProduct(product_id)
        return product

    def photos(self, product_id: str) -> list[Photo]:
        """A product's other photos (its second and later views), in order."""
        product = self.product(product_id)
        return self.catalogue.photos([product.key]).get(product.key, [])

    def image(self, product_id: str, size: str = "full", photo: int = 0) -> tuple[bytes, str]:
        """A product's photo as (bytes, media type): ``full`` as ingested, or a cached JPEG
        ``thumb`` (256 px) or ``medium`` (640 px) (``indexer.image_store.product_image``);
        ``photo`` n > 0 is its n-th other view."""
        image_store.check_size(size)  # before the look-up: a bad size is the caller's error
        product = self.product(product_id)
        if photo:
            view = next((p for p in self.photos(product_id) if p.position == photo), None)
            if view is None:
                raise NotFound(f"product {product_id!r} has no photo {photo}")
            product = dataclasses.replace(
                product, image_path=view.image_path, image_sha256=view.image_sha256
            )
        return image_store.product_image(self.workspace, product, size)

    def query(
        self,
        image_or_id: ImageInput | str,
        with_image: bool = True,
        embed: bool = True,
        paths: bool = True,
    ) -> Query:
        """An id, a path, bytes, a PIL image or an array to search from (``query_any``)."""
        return self.neighbour_search.query_any(image_or_id, with_image, embed, paths)

    def tag(
        self,
        image_or_id: ImageInput | str | list[ImageInput] | None = None,
        options: PipelineOptions | None = None,
        *,
        title: str | None = None,
        text: Sequence[str] = (),
        **changes: Unpack[TagChanges],
    ) -> TagResult:
        """Tags for a photo or a catalogue product: the neighbours' IDW vote (+ the hybrid's
        heads), colour, shape and (``attributes=("ocr",)``) printed text; fused with the
        listing's ``title`` and ``text`` (description, brand...) where they inform, or from
        the words alone without a photo. A list of photos is one new product seen in several
        views: each catalogue product counts at its closest pair of photos, and the first
        photo's pixels give colour, shape and text. ``options`` (or its fields as keywords):
        ``tagging.neighbour_tags.pipeline.PipelineOptions``."""
        from shelfsight.tagging.neighbour_tags.pipeline import pipeline_options

        opts, words = pipeline_options(options, changes), listing_text(title, text)
        if image_or_id is None:
            if not words:
                raise BadInput("nothing to tag: give a photo, a product id or a title")
            return self.pipeline.from_words(words).answer()
        if isinstance(image_or_id, list):
            from shelfsight.indexer.images import decode_image

            photos = [decode_image(im) for im in image_or_id]
            query = self.neighbour_search.query_for_images(photos)
        else:
            query = self.query(image_or_id)
        return self.pipeline.run(query, query.image, opts, words=words).answer()

    def tag_batch(
        self,
        images: BatchImages,
        progress: bool = False,
        source: BatchSource | None = None,
        options: PipelineOptions | None = None,
        **changes: Unpack[TagChanges],
    ) -> Iterator[BatchItem]:
        """Tag many photos, one ``BatchItem`` each, in order: its ``result`` as ``tag``
        gives it, or why it was ``skipped`` (the rest go ahead). ``images``: a folder, a
        CSV/JSONL file (``source`` says how it names photos) or an iterable of images or
        (name, image) pairs (``tagging.neighbour_tags.batch.batch_inputs``). The next
        photos decode while the model embeds the current batch."""
        from shelfsight.tagging.neighbour_tags.batch import tag_inputs
        from shelfsight.tagging.neighbour_tags.pipeline import pipeline_options

        opts = pipeline_options(options, changes)
        return tag_inputs(lambda: self.pipeline, images, source, opts, progress)

    def batch_columns(self, attributes: str | Sequence[str] = DEFAULT_ATTRIBUTES) -> list[str]:
        """The header of ``tag-batch``'s CSV: each family's value, score, source, review."""
        from shelfsight.tagging.neighbour_tags.batch import csv_columns
        from shelfsight.tagging.neighbour_tags.pipeline import pipeline_options

        attrs = pipeline_options(None, {"attributes": attributes}).attributes
        return csv_columns(self.catalogue.tag_families(), attrs)

    def where(self, where: Where) -> dict[str, list[str]]:
        """A tag filter checked against the catalogue: ``{"gender": ["Men"]}`` or ``["g=v"]``."""
        return checked_filters(self.catalogue, where)

    def similar(
        self,
        image_or_id: ImageInput | str,
        k: int = 10,
        where: Where = None,
        embed: bool = True,
        paths: bool = True,
        text: str | None = None,
    ) -> SimilarResult:
        """The catalogue products that look most like a product or a photo; ``text`` refines
        it ("but in red": the values it names join ``where``, other words are ``ignored``).
        A stored product answers from its stored vector; one not embedded yet is embedded
        now, or (``embed=False``) raises ``NotEmbedded``."""
        filters, ignored = self.refine(where, text)
        query = self.query(image_or_id, with_image=False, embed=embed, paths=paths)
        label = query.product.id if query.product is not None else "image"
        found = self.live.search_at(self.version).neighbours(query, k, where=filters)
        products = [SimilarProduct.from_neighbour(n) for n in found]
        return SimilarResult(label, filters, products, ignored)

    def refine(self, where: Where, text: str | None) -> tuple[dict[str, list[str]], list[str]]:
        """``where`` checked, with the values ``text`` names (``tagging.search.filters``)."""
        return refined_filters(self.catalogue, where, text)

    def facets(self) -> dict[str, dict[str, int]]:
        """Every tag family's values and how many products hold each."""
        return self.catalogue.facets()

    def search(
        self, q: str, k: int = 20, where: Where = None, mode: str = "hybrid"
    ) -> SearchResult:
        """Products for a text query: ``keyword`` (BM25 over titles and tag values),
        ``semantic`` (the titles nearest in meaning, all-MiniLM-L6-v2) or ``hybrid`` (both
        fused by reciprocal rank, the default): ``tagging.search.fusion``."""
        from shelfsight.tagging.search.fusion import search_products
        from shelfsight.tagging.search.keyword import keyword_matches

        filters = self.where(where)
        allowed = self.catalogue.keys_matching(filters) if filters else None
        found = search_products(self.catalogue, self.title_search, q, k, allowed, mode)
        hits = [ProductInfo.from_product(f.product, rank=f.rank, score=f.score) for f in found]
        total, facets = keyword_matches(self.catalogue, q, allowed)
        return SearchResult(q, filters, hits, mode, total, facets)

    # -- descriptions ---------------------------------------------------------------------
    @property
    def describer_state(self) -> dict[str, Any]:
        """``idle``, ``loading``, ``ready``, ``failed`` (with the error) or ``off``."""
        return self.live.describers.state

    def describer(self) -> Describer:
        """The catalogue describer (``tagging.describe``), prepared once: vocabulary, product
        nouns, existing descriptions and, for a model backend, the model."""
        return self.live.describers.get()

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
        options: DescribeOptions | None = None,
        **changes: Unpack[DescribeChanges],
    ) -> Description:
        """A listing description (``tagging.describe.writer.Description``) for a photo, a
        catalogue product or, with no image, a title (+ ``fields``: brand, gender, colour...).
        ``options`` (or its fields as keywords, e.g. ``length="short"``, ``tone="premium"``):
        ``DescribeOptions``. An out-of-domain photo raises ``OutOfDomain`` unless ``force``."""
        from shelfsight.tagging.describe.catalogue import DescribeRequest
        from shelfsight.tagging.describe.writer import DescribeOptions, describe_options

        facts = {**(fields or {}), **({"title": title} if title else {})}
        opts = describe_options(options or DescribeOptions(timeout=self.timeout), changes)
        req = DescribeRequest(
            fields=facts,
            k=k,
            attributes=tuple(attributes),
            min_confidence=min_confidence,
            description_column=description_column,
            force=force,
        )
        return self.describer().describe_any(image_or_id, req, opts)

    # -- writes (each under ``self.writing()``: ``indexer.online.WriteGate``) -------------
    def ingest(
        self,
        catalog: str | os.PathLike[str],
        images: str | os.PathLike[str] | None = None,
        columns: ColumnOptions | None = None,
        progress: bool = False,
        format: str = "auto",
        fetch: FetchOptions | None = None,
    ) -> IngestReport:
        """Upsert listings (CSV, JSON Lines, a Shopify or WooCommerce export, a Google
        product feed: ``format``, detected by default); photos named by URL are fetched
        into the workspace under ``fetch``'s limits. Every skipped row is reported with why."""
        if images is not None and not Path(images).is_dir():
            raise BadInput(f"images folder {images} is not a folder")
        folder = Path(images) if images is not None else None
        fetcher = PhotoFetcher(self.workspace, fetch)
        with self.writing():
            options = columns or ColumnOptions()
            return ingest_file(
                self.catalogue, Path(catalog), folder, options, progress, format, fetcher
            )

    def export(
        self,
        format: str = "csv",
        *,
        only_reviewed: bool = False,
        families: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """The catalogue's tags in a platform's import shape (csv, jsonl, shopify,
        woocommerce, google-feed), line by line; options are checked before the first."""
        from shelfsight.indexer.exports.write import ExportOptions, export_lines
        from shelfsight.tagging.neighbour_tags.kinds import novelty_family

        type_family = novelty_family(self.catalogue, self.catalogue.tag_families())
        opts = ExportOptions(format, only_reviewed, families, type_family)
        return export_lines(self.catalogue, opts)

    def export_file(
        self,
        path: str | os.PathLike[str],
        format: str = "csv",
        *,
        only_reviewed: bool = False,
        families: Sequence[str] | None = None,
    ) -> int:
        """``export`` into a file, written whole or not at all; the number of records."""
        from shelfsight.indexer.workspace import atomic_path

        lines = self.export(format, only_reviewed=only_reviewed, families=families)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
            for line in lines:
                fh.write(line)
                count += 1
        return count - (format != "jsonl")  # the header is no record

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
        from shelfsight.indexer.build import EngineOptions, check_index_type, run_index

        check_index_type(index_type)
        engine_options = EngineOptions(engine, address=address, shards=shards)
        if self.catalogue.count() == 0:
            raise NotIndexed("the catalogue is empty; run `shelfsight ingest` first")
        embedder = self.live.load_embedder(model)
        with self.writing():
            args = (self.workspace, self.catalogue, embedder, batch_size, progress, index_type)
            report = run_index(*args, engine=engine_options)
            report.calibration, report.words = self.live.recalibrate(embedder, novelty_prior)
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
                config, options = HybridConfig(arch=cnn), TrainOptions(epochs=epochs, seed=seed)
                args = (self.workspace, self.catalogue, config, options)
                report = train_workspace(*args, progress=progress)
            except ValueError as exc:
                if isinstance(exc, BadInput | NotFound):
                    raise
                raise BadInput(str(exc)) from None
            report.calibration, report.words = self.live.recalibrate(None, novelty_prior)
        return report

    def add(
        self,
        items: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        images: Sequence[Any] | Any = None,
        mode: str = "replace",
    ) -> list[dict[str, Any]]:
        """Add or update products online: store each image, upsert the listing (``id``,
        ``title``, ``tags``, ``fields``), embed it and publish a new index version.

        ``replace`` (default): a listing is the product's whole record. ``merge``: given
        fields overwrite, others (and the image, when ``None`` is given) are kept."""
        checked, uploads = listings.checked_listings(items, images, mode)
        with self.writing():
            index = VectorIndex.load(self.workspace.index_dir)  # the newest, whoever wrote it
            new = listings.listing_records(self.workspace, self.catalogue, checked, uploads, mode)
            decoded = [u[0] if u is not None else None for u in uploads]
            embedder = self.neighbour_search.embedder
            index = add_products(
                self.workspace, self.catalogue, index, embedder, new.records, decoded
            )
            self.live.publish(index)
            image_store.forget(self.workspace, self.catalogue, new.replaced)
            return new.results

    def delete(self, product_id: str) -> Product:
        """Remove a product from the catalogue and the index (a new index version)."""
        with self.writing():
            index = VectorIndex.load(self.workspace.index_dir)
            found = self.catalogue.get(product_id)  # its other views' files go with it
            views = self.catalogue.photos([found.key]).get(found.key, []) if found else []
            product, index = delete_product(self.workspace, self.catalogue, index, product_id)
            if product is None:
                raise UnknownProduct(product_id)
            self.live.publish(index)
            shas = [product.image_sha256, *(v.image_sha256 for v in views)]
            image_store.forget(self.workspace, self.catalogue, shas)
            return product
