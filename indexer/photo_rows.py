"""A product's other photos (the second and later views a shop export lists) and their
vectors: ``photos`` (product key, position 1.., the file and its hash) and
``photo_embeddings`` (one row per photo and model, tied to the photo's hash like
``embeddings``). The product's own photo stays in ``products``: position 0."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from shelfsight.indexer.photo_ids import KEY_MASK, PHOTO_SHIFT, photo_id


@dataclass(frozen=True)
class Photo:
    position: int  # 1 = the product's second photo
    image_path: str
    image_sha256: str
    width: int = 0
    height: int = 0
    source: str = ""  # the URL or path the catalogue file named


class PhotoRows:
    """The ``photos`` and ``photo_embeddings`` tables' reads and writes, shared by
    ``Catalogue`` (its connection, its transactions)."""

    @property
    def db(self) -> sqlite_utils.Database:  # the catalogue's connection
        raise NotImplementedError

    def transaction(self) -> contextlib.AbstractContextManager[None]:  # the catalogue's
        raise NotImplementedError

    def _ensure_photo_schema(self) -> None:
        db = self.db
        if "photos" not in db.table_names():
            db.table("photos").create(
                {
                    "product_key": int,
                    "position": int,
                    "image_path": str,
                    "image_sha256": str,
                    "width": int,
                    "height": int,
                    "source": str,
                },
                pk=("product_key", "position"),
            )
            db.table("photos").create_index(["image_sha256"])
        if "photo_embeddings" not in db.table_names():
            db.table("photo_embeddings").create(
                {"photo_id": int, "model": str, "image_sha256": str, "vector": bytes},
                pk=("photo_id", "model"),
            )

    def _write_photos(self, key: int, photos: Sequence[Photo | dict[str, Any]]) -> None:
        """Replace ``key``'s other photos (inside the caller's transaction)."""
        self.db.execute("delete from photos where product_key = ?", [key])
        rows = [p.__dict__ if isinstance(p, Photo) else dict(p) for p in photos]
        self.db.table("photos").insert_all(
            ({**r, "product_key": key} for r in rows), pk=("product_key", "position")
        )

    def _forget_photos(self, key: int) -> None:
        self.db.execute("delete from photos where product_key = ?", [key])
        self.db.execute(
            "delete from photo_embeddings where (photo_id & ?) = ?", [KEY_MASK, int(key)]
        )

    def photos(self, keys: Iterable[int]) -> dict[int, list[Photo]]:
        """Each product's other photos, in order."""
        wanted = [int(k) for k in keys]
        out: dict[int, list[Photo]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.query(
                f"select * from photos where product_key in ({marks}) "
                "order by product_key, position",
                chunk,
            )
            for r in rows:
                key = int(r.pop("product_key"))
                out.setdefault(key, []).append(Photo(**r))
        return out

    def photo_paths_with_sha(self, sha256: str) -> list[str]:
        rows = self.db.execute(
            "select image_path from photos where image_sha256 = ?", [sha256]
        ).fetchall()
        return [r[0] for r in rows]

    def photos_needing_embedding(self, model: str) -> list[tuple[int, str]]:
        """(photo id, path) of other photos with no vector from ``model`` of their file."""
        rows = self.db.execute(
            """
            select p.product_key, p.position, p.image_path from photos p
            left join photo_embeddings e
              on e.photo_id = (p.product_key | (p.position << ?)) and e.model = ?
            where e.photo_id is null or e.image_sha256 is not p.image_sha256
            order by p.product_key, p.position
            """,
            [PHOTO_SHIFT, model],
        ).fetchall()
        return [(photo_id(k, pos), path) for k, pos, path in rows]

    def put_photo_embeddings(self, model: str, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"select product_key | (position << ?), image_sha256 from photos "
            f"where (product_key | (position << ?)) in ({marks})",
            [PHOTO_SHIFT, PHOTO_SHIFT, *map(int, ids)],
        ).fetchall()
        shas = {int(i): None for i in ids} | {int(r[0]): r[1] for r in rows}
        with self.transaction():
            self.db.table("photo_embeddings").upsert_all(
                (
                    {
                        "photo_id": int(i),
                        "model": model,
                        "image_sha256": shas[int(i)],
                        "vector": vectors[n].tobytes(),
                    }
                    for n, i in enumerate(ids)
                ),
                pk=("photo_id", "model"),
            )

    def load_photo_embeddings(
        self, model: str, keys: Iterable[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, vectors) of every current other photo embedded with ``model`` (of
        ``keys``' products only, when given)."""
        sql = """
            select e.photo_id, e.vector from photo_embeddings e
            join photos p on e.photo_id = (p.product_key | (p.position << ?))
            where e.model = ? and e.image_sha256 is p.image_sha256
            """
        args: list[Any] = [PHOTO_SHIFT, model]
        if keys is not None:
            wanted = [int(k) for k in keys]
            sql += f" and p.product_key in ({','.join('?' * len(wanted))})"
            args += wanted
        rows = self.db.execute(sql + " order by e.photo_id", args).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return ids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
