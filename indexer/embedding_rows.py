"""The catalogue's stored vectors: one row per product and model, tied to the photo it was
computed from (its hash), so a new photo makes the old vector stale rather than wrong."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import sqlite_utils


class EmbeddingRows:
    """The ``embeddings`` table's reads and writes, shared by ``Catalogue``."""

    @property
    def db(self) -> sqlite_utils.Database:  # the catalogue's connection
        raise NotImplementedError

    def transaction(self) -> contextlib.AbstractContextManager[None]:  # the catalogue's
        raise NotImplementedError

    def keys_needing_embedding(self, model: str) -> list[tuple[int, str]]:
        """(key, image_path) of products with no embedding for ``model`` of their current image."""
        rows = self.db.query(
            """
            select p.key, p.image_path from products p
            left join embeddings e on e.product_key = p.key and e.model = ?
            where p.image_path is not null
              and (e.product_key is null or e.image_sha256 is not p.image_sha256)
            order by p.key
            """,
            [model],
        )
        return [(r["key"], r["image_path"]) for r in rows]

    def put_embeddings(self, model: str, keys: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        marks = ",".join("?" * len(keys))
        shas = {
            r["key"]: r["image_sha256"]
            for r in self.db.query(
                f"select key, image_sha256 from products where key in ({marks})",
                [int(k) for k in keys],
            )
        }
        with self.transaction():
            self.db.table("embeddings").upsert_all(
                (
                    {
                        "product_key": int(k),
                        "model": model,
                        "image_sha256": shas.get(int(k)),
                        "vector": vectors[i].tobytes(),
                    }
                    for i, k in enumerate(keys)
                ),
                pk=("product_key", "model"),
            )

    def embedded_keys(self, model: str) -> list[int]:
        """Keys of products whose current image has a vector from ``model``."""
        rows = self.db.execute(
            """
            select e.product_key from embeddings e join products p on p.key = e.product_key
            where e.model = ? and e.image_sha256 is p.image_sha256
            """,
            [model],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def embedding(self, model: str, key: int) -> np.ndarray | None:
        """The stored vector of one product's current image, if embedded with ``model``."""
        rows = list(
            self.db.query(
                """
                select e.vector from embeddings e join products p on p.key = e.product_key
                where e.model = ? and e.product_key = ? and e.image_sha256 is p.image_sha256
                """,
                [model, int(key)],
            )
        )
        return np.frombuffer(rows[0]["vector"], dtype=np.float32) if rows else None

    def load_embeddings(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(keys, vectors) of every current product embedded with ``model``."""
        rows = list(
            self.db.query(
                """
                select e.product_key, e.vector from embeddings e
                join products p on p.key = e.product_key
                where e.model = ? and e.image_sha256 is p.image_sha256
                order by e.product_key
                """,
                [model],
            )
        )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        keys = np.array([r["product_key"] for r in rows], dtype=np.int64)
        vectors = np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
        return keys, vectors
