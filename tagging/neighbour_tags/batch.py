"""Tagging many photos at once, as ``shelfsight index`` embeds: the next photos are decoded
and preprocessed in a worker thread while the model embeds the current batch, and a photo
that cannot be read becomes a ``Skip`` with its reason instead of ending the run.

Each tagged photo gets exactly the answer ``/tag`` gives for it alone (same neighbours,
calibration, colour and shape); only the embedding is batched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from shelfsight.core.errors import Skip
from shelfsight.indexer.batch_sources import BatchSource, batch_sources, batch_words
from shelfsight.indexer.embedders.batches import DEFAULT_BATCH
from shelfsight.indexer.images import MAX_PIXELS, DecodedImage, ImageError, decode_image
from shelfsight.indexer.tag_names import FORMULA_START
from shelfsight.tagging.neighbour_tags.pipeline import Pipeline, PipelineOptions
from shelfsight.tagging.results import BatchItem
from shelfsight.tagging.search.visual import Neighbour, Query
from shelfsight.tagging.text_tags.words import listing_text

log = logging.getLogger(__name__)
SHAPE_FAMILIES = ("outline", "proportion", "symmetry")


@dataclass
class _Loaded:
    name: str
    path: str | None
    image: DecodedImage | None = None
    array: np.ndarray | None = None
    skip: Skip | None = None


def _load(embedder: Any, items: list[tuple[str, Any]], max_pixels: int) -> list[_Loaded]:
    out = []
    for name, source in items:
        path = str(source) if isinstance(source, str | os.PathLike) else None
        try:
            image = decode_image(source, max_pixels)
            out.append(_Loaded(name, path, image, embedder.preprocess(image.image)))
        except ImageError as exc:
            out.append(_Loaded(name, path, skip=Skip(exc.reason, exc.detail, id=name, path=path)))
    return out


def _chunks(items: Iterable[tuple[str, Any]], size: int) -> Iterator[list[tuple[str, Any]]]:
    chunk: list[tuple[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


BatchImages = str | os.PathLike[str] | Iterable[Any]


def batch_inputs(
    images: BatchImages, source: BatchSource | None = None
) -> tuple[Iterable[tuple[str, Any]], int | None, list[Skip], dict[str, str]]:
    """(name, image) pairs to tag, their number when known, and the rows of a source file
    that name no photo. ``images`` is a folder (every image file under it), a CSV/JSONL
    file naming its photos as ``ingest`` does (``source`` says how), or an iterable of
    images or (name, image) pairs; and each photo's listing words, by name, when the
    table names word columns."""
    if isinstance(images, str | os.PathLike):
        opts = source or BatchSource()
        found, skipped = batch_sources(Path(images), **vars(opts))
        words = {n: listing_text(None, w) for n, w in batch_words(Path(images), opts).items()}
        return found, len(found), skipped, words
    total = len(images) if isinstance(images, Sequence) else None
    named = (
        item if isinstance(item, tuple) else (_name_of(item, n), item)
        for n, item in enumerate(images)
    )
    return named, total, [], {}


def tag_inputs(
    pipeline: Callable[[], Pipeline],
    images: BatchImages,
    source: BatchSource | None,
    opts: PipelineOptions,
    progress: bool = False,
) -> Iterator[BatchItem]:
    """``batch_inputs`` tagged by ``tag_many``; the rows of a source file that name no
    photo come first as skipped items (nothing stops for them). The pipeline is asked for
    only once a photo needs it."""
    named, total, skipped, words = batch_inputs(images, source)
    for skip in skipped:
        yield BatchItem(skip.id or f"row-{skip.row}", skip.path, skipped=skip)
    yield from tag_many(pipeline(), named, opts, progress=progress, total=total, words=words)


def _name_of(image: Any, n: int) -> str:
    """A photo's name in a batch: its file's stem, else its place in the batch."""
    if isinstance(image, str | os.PathLike):
        return Path(image).stem
    return f"image-{n + 1}"


def tag_many(
    pipeline: Pipeline,
    items: Iterable[tuple[str, Any]],
    opts: PipelineOptions,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
    total: int | None = None,
    max_pixels: int = MAX_PIXELS,
    words: Mapping[str, str] | None = None,
) -> Iterator[BatchItem]:
    """(name, image) pairs -> one ``BatchItem`` each, in order, tagged or skipped (with
    the listing's ``words`` by name, where given)."""
    words = words or {}
    search = pipeline.search
    embedder = search.embedder  # loaded once, before the first batch is read
    chunks = _chunks(items, batch_size)

    def finish(x: _Loaded, query: Query, found: list[Neighbour]) -> BatchItem:
        said = words.get(x.name)
        result = pipeline.run(query, x.image, opts, neighbours=found, words=said)
        return BatchItem(x.name, x.path, result.answer(), words=said)

    # Decoding the next batch and the per-photo work (neighbours, colour, shape: 3/4 of
    # the time, single-threaded) of the last one run in the pool while the model embeds.
    workers = max(2, os.cpu_count() or 2)
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tag-batch") as pool,
        tqdm(total=total, desc="tag", unit="img", disable=not progress) as bar,
    ):
        loading: list[Future[list[_Loaded]]] = []
        for chunk in chunks:
            loading.append(pool.submit(_load, embedder, chunk, max_pixels))
            if len(loading) == 2:
                break
        finishing: list[Future[BatchItem] | BatchItem] = []
        while loading:
            loaded = loading.pop(0).result()
            nxt = next(chunks, None)
            if nxt is not None:
                loading.append(pool.submit(_load, embedder, nxt, max_pixels))
            ok = [x for x in loaded if x.skip is None]
            arrays = [x.array for x in ok if x.array is not None]
            vectors = embedder.embed_arrays(np.stack(arrays)) if arrays else np.zeros((0,))
            # A photo already in the catalogue must not vote for itself (as /tag).
            queries = [
                Query(v, search.catalogue.keys_with_sha(x.image.sha256), image=x.image)
                for x, v in zip(ok, vectors, strict=True)
                if x.image is not None
            ]
            found = search.neighbours_many(queries, opts.k)
            work = {id(x): (q, n) for x, q, n in zip(ok, queries, found, strict=True)}
            for x in loaded:
                if x.skip is not None:
                    log.info("skipped", extra={"fields": {"name": x.name, **x.skip.as_dict()}})
                    finishing.append(BatchItem(x.name, x.path, skipped=x.skip))
                else:
                    finishing.append(pool.submit(finish, x, *work[id(x)]))
            # Hand back what is done, in order, keeping one batch of work queued.
            while len(finishing) > batch_size or (finishing and not loading):
                head = finishing.pop(0)
                bar.update(1)
                yield head if isinstance(head, BatchItem) else head.result()


def csv_columns(families: list[str], attributes: tuple[str, ...]) -> list[str]:
    """The flat table's header: per family its value, score, source and review flag."""
    fams = list(families)
    if "colour" in attributes:
        fams.append("colour")
    if "shape" in attributes:
        fams += list(SHAPE_FAMILIES)
    if "ocr" in attributes:
        fams.append("brand")
    cols = ["name", "path", "status", "reason", "title"]
    for f in dict.fromkeys(fams):
        cols += [f, f"{f}_score", f"{f}_source", f"{f}_review"]
    return [*cols, "out_of_domain", "nearest_distance", "duplicate_of", "palette", "text"]


def csv_header(columns: list[str]) -> dict[str, str]:
    """The header row as written: a family named like a formula (older workspaces
    could hold one) is neutralised as any cell is."""
    return {c: spreadsheet_safe(c) for c in columns}


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=HYPERLINK(...)`` as a file
    name, a poisoned tag value voted in by neighbours) gets a leading apostrophe, as
    OWASP's CSV-injection rule says; numbers and other text are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_row(item: BatchItem) -> dict[str, Any]:
    """One photo as a flat row (the columns of ``csv_columns``; absent ones stay empty),
    every text cell ``spreadsheet_safe``."""
    return {k: spreadsheet_safe(v) for k, v in _flat_row(item).items()}


def _flat_row(item: BatchItem) -> dict[str, Any]:
    row: dict[str, Any] = {"name": item.name, "path": item.path or "", "title": item.words or ""}
    if item.skipped is not None or item.result is None:
        skip = item.skipped
        row.update(status="skipped", reason=f"{skip.reason}: {skip.detail}" if skip else "")
        return row
    r = item.result
    row["status"] = "tagged"
    for family, t in r.tags.items():
        row[family] = t.value
        row[f"{family}_score"] = t.score
        row[f"{family}_source"] = t.source
        row[f"{family}_review"] = int(t.review)
    if r.match is not None:
        row["out_of_domain"] = int(r.match.out_of_domain)
        row["nearest_distance"] = r.match.nearest_distance
        row["duplicate_of"] = r.match.duplicate_of or ""
    if r.colour is not None:
        row["palette"] = "; ".join(f"{s.name} {round(s.share * 100)}%" for s in r.colour.palette)
    if r.ocr is not None:
        row["text"] = " | ".join(ln.text for ln in r.ocr.lines)
    return row
