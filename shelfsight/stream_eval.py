"""`shelfsight eval stream`: the merchant's work, batch after batch of new products.

A labelled catalogue is split (``--shift``, as ``eval tagging`` does) into a catalogue
and a stream of new products, replayed in batches in ``order`` (a column: time order;
``random``). Each batch is tagged as ``tag-batch`` tags it; a simulated merchant looks at
every flagged tag and corrects it to the product's own label, and keeps every unflagged
one unseen (an error let through when it is wrong). Two taggers meet the same stream:

- ``learning``: the batch goes through the review inbox (``shelfsight.review``): kept,
  bulk-accepted with the corrections, so its products join the catalogue and the index
  with their final tags, and the review thresholds are refitted from the decisions, all
  exactly as a merchant's accept does;
- ``frozen``: the catalogue as indexed, nothing learnt; each batch tagged against it.

Both are built in one scratch workspace: the frozen answers first, then the learning
replay changes the workspace.
"""

from __future__ import annotations

import csv
import logging
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shelfsight.indexer.catalogue import Catalogue, Product
from shelfsight.indexer.ingest import ColumnOptions, Row, _as_text, ingest_rows, read_table
from shelfsight.tagging.evaluation.shift import Shift
from shelfsight.tagging.evaluation.tagging import prepare_setup
from shelfsight.tagging.evaluation.words import query_text
from shelfsight.tagging.results import TagResult

log = logging.getLogger(__name__)
MODES = ("learning", "frozen")


@dataclass
class StreamOptions:
    queries: Path | None = None
    query_images: Path | None = None
    holdout_fraction: float = 0.2
    seed: int = 0
    columns: ColumnOptions | None = None
    shift: Shift | None = None
    order: str = "random"  # or a column of the listings (``year``): its order, ties random
    batch: int = 100
    limit: int | None = None  # at most this many new products (a small slice)
    text_columns: Sequence[str] = ()
    model: str = "cnn"
    workdir: Path | None = None
    progress: bool = False
    decisions_out: Path | None = None  # the learning run's decisions, as `review export`


@dataclass
class _Query:
    product: Product
    order_key: str
    words: str | None = None


@dataclass
class _Tally:
    """One tagger's counts over a run of products."""

    families: list[str]
    products: int = 0
    seconds: float = 0.0
    add_seconds: float = 0.0
    looks: int = 0
    errors: int = 0
    per_family: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, truth: dict[str, str], result: TagResult) -> dict[str, str]:
        """Tally one product; the merchant's corrections (its flagged tags, to the truth)."""
        self.products += 1
        corrections = {}
        for family in self.families:
            want = truth.get(family)
            tag = result.tags.get(family)
            if not want or tag is None:
                continue
            cell = self.per_family.setdefault(
                family, {"n": 0, "flagged": 0, "accepted": 0, "accepted_right": 0}
            )
            cell["n"] += 1
            if tag.review:
                cell["flagged"] += 1
                self.looks += 1
                if tag.value != want:
                    corrections[family] = want
            else:
                cell["accepted"] += 1
                right = tag.value == want
                cell["accepted_right"] += int(right)
                self.errors += int(not right)
        return corrections

    def report(self) -> dict[str, Any]:
        n = max(self.products, 1)
        accepted = sum(c["accepted"] for c in self.per_family.values())
        return {
            "products": self.products,
            "looks": self.looks,
            "looks_per_product": round(self.looks / n, 4),
            "errors_let_through": {
                "count": self.errors,
                "rate": round(self.errors / accepted, 4) if accepted else 0.0,
            },
            "review_rate": {
                f: round(c["flagged"] / c["n"], 4) for f, c in self.per_family.items() if c["n"]
            },
            "accepted_accuracy": {
                f: round(c["accepted_right"] / c["accepted"], 4) if c["accepted"] else None
                for f, c in self.per_family.items()
            },
            "accepted": {f: c["accepted"] for f, c in self.per_family.items()},
            "seconds": round(self.seconds, 2),
            "add_seconds": round(self.add_seconds, 2),
        }

    def merge(self, other: _Tally) -> None:
        self.products += other.products
        self.seconds += other.seconds
        self.add_seconds += other.add_seconds
        self.looks += other.looks
        self.errors += other.errors
        for family, cell in other.per_family.items():
            mine = self.per_family.setdefault(family, dict.fromkeys(cell, 0))
            for key, value in cell.items():
                mine[key] += value


def evaluate_stream(catalog: Path, images: Path, options: StreamOptions) -> dict[str, Any]:
    """Replay the stream through a learning and a frozen tagger; per batch, per half and
    in total for each (``_Tally.report``)."""
    import shelfsight

    o = options
    if o.batch < 1:
        raise ValueError("--batch must be at least 1")
    t0 = time.perf_counter()
    columns = o.columns or ColumnOptions()
    setup = prepare_setup(
        catalog, images, o.queries, o.query_images, o.holdout_fraction, o.seed, columns, o.shift
    )
    with tempfile.TemporaryDirectory(prefix="shelfsight-stream-", dir=o.workdir) as tmp:
        home = Path(tmp) / "workspace"
        shelf = shelfsight.open(home, create=True)
        rows_csv = _write_rows(Path(tmp) / "catalogue.csv", catalog, setup.catalog_rows)
        ingest = shelf.ingest(rows_csv, images, columns)
        index = shelf.index(o.model)
        queries = _queries(Path(tmp), setup, o)
        families = shelf.catalogue.tag_families()
        batches = [queries[i : i + o.batch] for i in range(0, len(queries), o.batch)]
        setup_seconds = time.perf_counter() - t0
        frozen = [_frozen_batch(shelf, b, families) for b in _progress(batches, o, "frozen")]
        learning = [_learning_batch(shelf, b, families) for b in _progress(batches, o, "learning")]
        learnt = shelf.review.stats()["thresholds"]
        if o.decisions_out is not None:
            o.decisions_out.write_text(shelf.review.export("csv"), encoding="utf-8")
        shelf.catalogue.close()
    half = len(batches) // 2
    out: dict[str, Any] = {
        "n_catalog": ingest.loaded,
        "n_stream": len(queries),
        "batches": len(batches),
        "batch": o.batch,
        "order": o.order,
        "shift": setup.shift.label,
        "model": index.model,
        "text_columns": list(o.text_columns),
        "setup_seconds": round(setup_seconds, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "learnt_thresholds": learnt,
    }
    for name, tallies in (("learning", learning), ("frozen", frozen)):
        out[name] = {
            "total": _merged(tallies, families).report(),
            "second_half": _merged(tallies[half:], families).report(),
            "batches": [t.report() for t in tallies],
        }
    lpp = (out["learning"]["second_half"]["looks_per_product"], out["frozen"]["second_half"])
    frozen_lpp = lpp[1]["looks_per_product"]
    out["second_half_looks_change"] = round(lpp[0] / frozen_lpp - 1, 4) if frozen_lpp else None
    return out


def _merged(tallies: Sequence[_Tally], families: list[str]) -> _Tally:
    total = _Tally(families)
    for t in tallies:
        total.merge(t)
    return total


def _progress(batches: list[list[_Query]], o: StreamOptions, name: str) -> Any:
    if o.progress:
        from tqdm import tqdm

        return tqdm(batches, desc=name, unit="batch")
    return _logged(batches, name)


def _logged(batches: list[list[_Query]], name: str) -> Any:
    for n, batch in enumerate(batches, 1):
        if n == 1 or n % 5 == 0:
            log.info("stream batch", extra={"fields": {"tagger": name, "batch": n}})
        yield batch


def _tag(shelf: Any, batch: list[_Query]) -> list[TagResult]:
    from shelfsight.tagging.neighbour_tags.batch import tag_many
    from shelfsight.tagging.neighbour_tags.pipeline import PipelineOptions

    named = [(q.product.id, q.product.image_path) for q in batch]
    words = {q.product.id: q.words for q in batch if q.words}
    items = list(tag_many(shelf.pipeline, named, PipelineOptions(), words=words))
    out = []
    for item in items:
        if item.result is None:  # a photo that cannot be read: no product, no look
            raise ValueError(f"stream product {item.name}: {item.skipped}")
        out.append(item.result)
    return out


def _frozen_batch(shelf: Any, batch: list[_Query], families: list[str]) -> _Tally:
    tally = _Tally(families)
    start = time.perf_counter()
    for q, result in zip(batch, _tag(shelf, batch), strict=True):
        tally.count(q.product.tags, result)
    tally.seconds = time.perf_counter() - start
    return tally


def _learning_batch(shelf: Any, batch: list[_Query], families: list[str]) -> _Tally:
    tally = _Tally(families)
    start = time.perf_counter()
    results = _tag(shelf, batch)
    review = shelf.review
    ids = review.keep(
        results, [q.product.image_path for q in batch], titles=[q.product.title for q in batch]
    )
    accepts = []
    for q, result, item_id in zip(batch, results, ids, strict=True):
        accepts.append((item_id, tally.count(q.product.tags, result), q.product.id))
    added = time.perf_counter()
    review.accept_many(accepts, by="stream", bulk=True)
    tally.add_seconds = time.perf_counter() - added
    tally.seconds = time.perf_counter() - start
    return tally


def _write_rows(path: Path, catalog: Path, rows: list[Row]) -> Path:
    header, _ = read_table(catalog)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _as_text(v) for k, v in row.values.items()})
    return path


def _queries(tmp: Path, setup: Any, o: StreamOptions) -> list[_Query]:
    """The stream's products (labels, photo, words) in ``order``."""
    q_catalogue = Catalogue(tmp / "stream.db")
    ingest_rows(q_catalogue, setup.query_rows, setup.cols, setup.query_images, progress=False)
    out = []
    for p in q_catalogue.iter_products():
        key = "" if o.order == "random" else _as_text(p.fields.get(o.order))
        words = query_text(p, setup.cols, o.text_columns) if o.text_columns else None
        out.append(_Query(p, key, words))
    q_catalogue.close()
    if o.order != "random" and not any(q.order_key for q in out):
        raise ValueError(f"--order {o.order!r}: no stream product has that column")
    random.Random(o.seed).shuffle(out)  # ties (and ``random``) in a seeded order
    out.sort(key=lambda q: _sortable(q.order_key))
    return out[: o.limit] if o.limit else out


def _sortable(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)
