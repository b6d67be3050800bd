"""The SQLite catalogue (sqlite-utils, WAL): products, their tags, and their embeddings.

Every product has a stable integer ``key``; FAISS stores that key, so the index never
needs its own id map and a product id can be any string.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from shelfsight.core.errors import BadInput
from shelfsight.indexer.columns import guess_column
from shelfsight.indexer.disk_full import disk_full_as_error
from shelfsight.indexer.embedding_rows import EmbeddingRows
from shelfsight.indexer.photo_rows import PhotoRows
from shelfsight.indexer.tag_names import canonical_families, check_family, check_value


@dataclass
class Product:
    key: int
    id: str
    title: str
    image_path: str | None
    image_sha256: str | None
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "image_path": self.image_path,
            "tags": self.tags,
            "fields": self.fields,
        }


class UnknownFilter(BadInput):
    """A tag filter naming a family or value the catalogue does not have."""

    error = "unknown filter"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Catalogue(EmbeddingRows, PhotoRows):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection per thread: the HTTP service reads from worker threads, and a
        # shared connection would mix their transactions (and a reader would see another
        # thread's uncommitted write). WAL lets the readers run beside one writer.
        self._local = threading.local()
        with disk_full_as_error(f"the catalogue {path}", path.parent):
            self.db.enable_wal()
            self._ensure_schema()

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            db = self._local.db = sqlite_utils.Database(conn)
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def _ensure_schema(self) -> None:
        db = self.db
        if "products" not in db.table_names():
            db.table("products").create(
                {
                    "key": int,
                    "id": str,
                    "title": str,
                    "image_path": str,
                    "image_sha256": str,
                    "width": int,
                    "height": int,
                    "tags": str,
                    "fields": str,
                    "updated_at": str,
                },
                pk="key",
                not_null={"id"},
            )
            db.table("products").create_index(["id"], unique=True)
            db.table("products").create_index(["image_sha256"])
        if "tags" not in db.table_names():
            db.table("tags").create(
                {"product_key": int, "family": str, "value": str},
                pk=("product_key", "family"),
            )
            db.table("tags").create_index(["family", "value"])
        if "embeddings" not in db.table_names():
            db.table("embeddings").create(
                {"product_key": int, "model": str, "image_sha256": str, "vector": bytes},
                pk=("product_key", "model"),
            )
        if "meta" not in db.table_names():
            db.table("meta").create({"name": str, "value": str}, pk="name")
        self._ensure_photo_schema()
        if "products_fts" not in db.table_names():
            # Full-text search over titles and tag values; triggers keep it in step with
            # every insert, update and delete.
            db.table("products").enable_fts(
                ["title", "tags"], create_triggers=True, tokenize="porter"
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One logical write: all of it commits or none of it (sqlite-utils' ``atomic``;
        nested calls become savepoints). A full disk rolls back and raises ``DiskFull``.

        The write lock is taken at the start (``BEGIN IMMEDIATE``, waiting on the busy
        timeout). A deferred transaction that reads before it writes (sqlite-utils'
        upsert reads the table's columns first) cannot be upgraded once another
        connection has committed since that read: SQLite answers "database is locked" at
        once, without waiting. CI saw it when the review refit's thread stored its
        thresholds while an accept committed beside it."""
        conn = self.db.conn
        with disk_full_as_error(f"the catalogue {self.path}"):
            if conn.in_transaction:
                with self.db.atomic():
                    yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                with self.db.atomic():
                    yield
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, name: str, default: Any = None) -> Any:
        rows = list(self.db.query("select value from meta where name = ?", [name]))
        return json.loads(rows[0]["value"]) if rows else default

    def column(self, role: str) -> str | None:
        """The column holding ``role`` (title, brand, colour, description) as ingest
        recorded it; for a workspace ingested before roles were recorded, the conventional
        name among its tag families (colour) or fields."""
        recorded = self.get_meta("columns")
        if isinstance(recorded, dict) and role in recorded:
            return recorded[role]
        if role == "colour":
            return guess_column(role, self.tag_families())
        rows = list(self.db.query("select fields from products limit 1"))
        return guess_column(role, json.loads(rows[0]["fields"] or "{}") if rows else [])

    def set_meta(self, name: str, value: Any) -> None:
        with self.transaction():
            self.db.table("meta").upsert({"name": name, "value": json.dumps(value)}, pk="name")

    # -- products ---------------------------------------------------------------------
    def generation(self) -> int:
        """A number that changes with every write to products, from any process: a
        cheap freshness check for caches of what the catalogue says."""
        row = self.db.execute("select value from meta where name = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _bump_generation(self) -> None:
        # Inside the caller's transaction, so readers see the new number with the new rows.
        self.db.execute(
            "insert into meta (name, value) values ('generation', '1') on conflict(name) "
            "do update set value = cast(value as integer) + 1"
        )

    def count(self) -> int:
        return self.db.table("products").count

    def _select_in(self, sql: str, values: Iterable[Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (with one ``({marks})`` placeholder) for every value, queried
        500 at a time: SQLite caps the number of bound parameters."""
        value_list = list(values)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(value_list), 500):
            chunk = value_list[start : start + 500]
            rows += self.db.query(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    def keys_by_id(self, ids: Iterable[str] | None = None) -> dict[str, int]:
        if ids is None:
            return {r["id"]: r["key"] for r in self.db.query("select key, id from products")}
        rows = self._select_in("select key, id from products where id in ({marks})", ids)
        return {r["id"]: r["key"] for r in rows}

    def next_key(self) -> int:
        row = next(self.db.query("select coalesce(max(key), 0) + 1 as k from products"))
        return int(row["k"])

    def allocate_keys(self, ids: Iterable[str]) -> tuple[dict[str, int], set[str]]:
        """A key for every id: the product's own, or a fresh one for a new id. The one
        place keys are handed out (ingest, the API, the library's ``add``); returns
        (id -> key, the new ids)."""
        wanted = list(dict.fromkeys(ids))
        keys = self.keys_by_id(wanted)
        fresh = self.next_key()
        new: set[str] = set()
        for pid in wanted:
            if pid not in keys:
                keys[pid], fresh = fresh, fresh + 1
                new.add(pid)
        return keys, new

    def add_tag_families(self, families: Iterable[str]) -> None:
        """Record tag families (in first-seen order) next to the ones already known, and
        forget those no product holds any more (a deleted product's odd family must not
        keep shadowing filters)."""
        known = self.get_meta("tag_families", [])
        merged = list(dict.fromkeys([*known, *map(check_family, families)]))
        # One indexed look-up per family, not a scan of every tag row (7M at 1M products).
        merged = [
            f
            for f in merged
            if self.db.execute("select 1 from tags where family = ? limit 1", [f]).fetchone()
        ]
        if merged != known:
            self.set_meta("tag_families", merged)

    def family_names(self, names: Iterable[str]) -> dict[str, str]:
        """Each name -> the family it is stored as (``tag_names.canonical_families``)."""
        return canonical_families(names, self.tag_families())

    def upsert_products(self, records: Sequence[dict[str, Any]]) -> None:
        """Insert or replace products (each with its ``key``) and their tag rows: one
        transaction, so a kill or a full disk leaves all of it or none."""
        with self.transaction():
            for rec in records:
                row = dict(rec)
                tags = row.pop("tags")
                photos = row.pop("photos", None)  # absent: the other photos stay as they are
                for family, value in tags.items():  # the last guard: callers check first
                    check_value(check_family(family), value)
                row["tags"] = json.dumps(tags, ensure_ascii=False)
                row["fields"] = json.dumps(row.get("fields") or {}, ensure_ascii=False)
                row["updated_at"] = _now()
                self.db.table("products").upsert(row, pk="key")
                if photos is not None:
                    self._write_photos(row["key"], photos)
                self.db.execute("delete from tags where product_key = ?", [row["key"]])
                self.db.table("tags").insert_all(
                    (
                        {"product_key": row["key"], "family": fam, "value": val}
                        for fam, val in tags.items()
                    ),
                    pk=("product_key", "family"),
                )
            # Last, in the same transaction: a reader that sees the new number sees the
            # new rows (bumped first, a reader could cache old rows under the new number).
            self._bump_generation()

    def _row_to_product(self, r: dict[str, Any]) -> Product:
        return Product(
            key=r["key"],
            id=r["id"],
            title=r["title"] or "",
            image_path=r["image_path"],
            image_sha256=r["image_sha256"],
            tags=json.loads(r["tags"] or "{}"),
            fields=json.loads(r["fields"] or "{}"),
        )

    def get(self, product_id: str) -> Product | None:
        rows = list(self.db.query("select * from products where id = ?", [product_id]))
        return self._row_to_product(rows[0]) if rows else None

    def by_keys(self, keys: Iterable[int]) -> dict[int, Product]:
        rows = self._select_in("select * from products where key in ({marks})", map(int, keys))
        return {r["key"]: self._row_to_product(r) for r in rows}

    def summaries(self, keys: Sequence[int]) -> dict[int, Product]:
        """Id, title and tags only (no fields): what a search result shows, read cheaply."""
        key_list = [int(k) for k in keys]
        if not key_list:
            return {}
        marks = ",".join("?" * len(key_list))
        rows = self.db.execute(
            f"select key, id, title, tags from products where key in ({marks})", key_list
        ).fetchall()
        return {
            r[0]: Product(r[0], r[1], r[2] or "", None, None, json.loads(r[3] or "{}"))
            for r in rows
        }

    def titles(self) -> list[tuple[int, str]]:
        """(key, title) of every product that has a title, in key order."""
        rows = self.db.execute(
            "select key, title from products where title is not null and title != '' order by key"
        ).fetchall()
        return [(int(k), str(t)) for k, t in rows]

    def iter_products(self, page: int = 500) -> Iterator[Product]:
        """Every product in key order, read a page per query: each page is read whole by
        whichever thread asks for it (a streamed HTTP answer moves between threads), and no
        cursor stays open between pages."""
        last = -1
        while True:
            rows = list(
                self.db.query(
                    "select * from products where key > ? order by key limit ?", [last, page]
                )
            )
            yield from (self._row_to_product(r) for r in rows)
            if len(rows) < page:
                return
            last = rows[-1]["key"]

    def image_paths_with_sha(self, sha256: str) -> list[str]:
        """Every file of that content a product holds: its own photo or another view."""
        rows = self.db.execute(
            "select image_path from products where image_sha256 = ? and image_path is not null",
            [sha256],
        ).fetchall()
        return [r[0] for r in rows] + self.photo_paths_with_sha(sha256)

    def keys_with_sha(self, sha256: str) -> list[int]:
        """The products holding a photo of that content, as their own or another view."""
        rows = self.db.execute(
            "select key from products where image_sha256 = ? "
            "union select product_key from photos where image_sha256 = ?",
            [sha256, sha256],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def delete_product(self, product_id: str) -> Product | None:
        """Remove a product, its tags and its embeddings in one transaction."""
        with self.transaction():
            product = self.get(product_id)
            if product is None:
                return None
            self.db.execute("delete from tags where product_key = ?", [product.key])
            self.db.execute("delete from embeddings where product_key = ?", [product.key])
            self._forget_photos(product.key)
            self.db.execute("delete from products where key = ?", [product.key])
            self.add_tag_families([])  # prunes families no product holds now
            self._bump_generation()
        return product

    def tag_rows(self, keys: Iterable[int] | None = None) -> dict[int, dict[str, str]]:
        """The ``tags`` table (what filters read), per product key."""
        sql = "select product_key, family, value from tags"
        if keys is None:
            rows = list(self.db.query(sql))
        else:
            rows = self._select_in(sql + " where product_key in ({marks})", map(int, keys))
        out: dict[int, dict[str, str]] = {}
        for r in rows:
            out.setdefault(int(r["product_key"]), {})[r["family"]] = r["value"]
        return out

    def inconsistencies(self) -> dict[str, list[int]]:
        """Products whose ``tags`` rows disagree with their record, and tag rows of no
        product: what a half-applied write leaves behind (empty lists when sound)."""
        rows = self.tag_rows()
        records = {
            int(k): json.loads(t or "{}")
            for k, t in self.db.execute("select key, tags from products").fetchall()
        }
        return {
            "tag_rows_differ": sorted(k for k, tags in records.items() if rows.get(k, {}) != tags),
            "orphan_tag_rows": sorted(set(rows) - set(records)),
        }

    def full_text(
        self, match: str, limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[Product, float]]:
        """Products matching an FTS5 ``match`` expression over titles and tag values, with
        their BM25 rank (lower is better), best first; only keys in ``allowed`` if given."""
        where: str | None = None
        if allowed is not None:
            where = f"key in ({','.join(str(int(k)) for k in allowed)})"
        rows = self.db.table("products").search(
            match, limit=limit, where=where, where_args=[] if where else None, include_rank=True
        )
        return [(self._row_to_product(r), float(r["rank"])) for r in rows]

    def text_matches(
        self, match: str, allowed: np.ndarray | None = None, cap: int = 10_000
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """How many products match an FTS5 ``match`` expression (counted up to ``cap``:
        what one request may read is bounded) and their tag values counted over all of
        them (the facets of a search, not of the page it shows)."""
        inner = "select rowid from products_fts where products_fts match ?"
        params: list[Any] = [match]
        if allowed is not None:
            inner += f" and rowid in ({','.join(str(int(k)) for k in allowed)})"
        inner += " limit ?"
        params.append(cap)
        total = self.db.execute(f"select count(*) from ({inner})", params).fetchone()[0]
        facets: dict[str, dict[str, int]] = {}
        sql = (
            f"select family, value, count(*) from tags where product_key in ({inner}) "
            "group by family, value order by family, count(*) desc"
        )
        for family, value, n in self.db.execute(sql, params).fetchall():
            facets.setdefault(family, {})[value] = n
        return int(total), facets

    # -- tags -------------------------------------------------------------------------
    def tag_families(self) -> list[str]:
        stored = self.get_meta("tag_families")
        if stored:
            return list(stored)
        return [r["family"] for r in self.db.query("select distinct family from tags order by 1")]

    def keys_matching(self, where: dict[str, list[str]]) -> np.ndarray:
        """Keys of products whose tags match: OR within a family, AND across families."""
        clauses: list[str] = []
        params: list[str] = []
        for family, values in where.items():
            marks = ",".join("?" * len(values))
            clauses.append(
                f"key in (select product_key from tags where family = ? and value in ({marks}))"
            )
            params.extend([family, *values])
        sql = "select key from products" + (" where " + " and ".join(clauses) if clauses else "")
        return np.fromiter((r["key"] for r in self.db.query(sql, params)), dtype=np.int64)

    def resolve_where(self, where: dict[str, list[str]]) -> dict[str, list[str]]:
        """A tag filter in the catalogue's own spelling: families and values match without
        regard to case (``gender=men`` is ``gender=Men``). A family or value that does not
        exist is refused, naming what does: an empty answer would look like "no such
        products"."""
        families = self.tag_families()
        by_fold: dict[str, str] = {}
        for f in families:  # the first spelling (older workspaces may hold two)
            by_fold.setdefault(f.casefold(), f)
        out: dict[str, list[str]] = {}
        for family, values in where.items():
            canonical = family if family in families else by_fold.get(family.casefold())
            if canonical is None:
                close = difflib.get_close_matches(family, families, n=3, cutoff=0.6)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise UnknownFilter(
                    f"unknown tag family {family!r}; {hint}the catalogue has: {', '.join(families)}"
                )
            known = list(self.value_counts(canonical))
            values_by_fold = {v.casefold(): v for v in known}
            for value in values:
                found = values_by_fold.get(value.casefold())
                if found is None:
                    close = difflib.get_close_matches(value, known, n=5, cutoff=0.5)
                    more = " ..." if len(known) > 20 else ""
                    hint = (
                        f"did you mean {', '.join(close)}?"
                        if close
                        else f"values: {', '.join(known[:20])}{more}"
                    )
                    raise UnknownFilter(f"no product has {canonical}={value!r}; {hint}")
                out.setdefault(canonical, []).append(found)
        return out

    def facets(self) -> dict[str, dict[str, int]]:
        """Every family's values with their product counts, most common first."""
        out: dict[str, dict[str, int]] = {f: {} for f in self.tag_families()}
        rows = self.db.query(
            "select family, value, count(*) as n from tags group by family, value "
            "order by family, n desc, value"
        )
        for r in rows:
            out.setdefault(r["family"], {})[r["value"]] = r["n"]
        return out

    def value_counts(self, family: str) -> dict[str, int]:
        rows = self.db.query(
            "select value, count(*) as n from tags where family = ? group by value order by n desc",
            [family],
        )
        return {r["value"]: r["n"] for r in rows}
