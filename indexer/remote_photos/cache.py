"""What each photo URL answered last time: its validators (``ETag``, ``Last-Modified``)
and the stored file it became, so a re-run asks the server "changed?" and downloads
nothing that was not (a 304 reuses the file). Derived data: the workspace's cache folder,
re-created by fetching again when lost; an entry whose file is gone is not used."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils


@dataclass(frozen=True)
class CachedPhoto:
    url: str
    path: str
    sha256: str
    etag: str | None = None
    last_modified: str | None = None

    def validators(self) -> dict[str, str]:
        """The conditional request headers that ask whether the photo changed."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class PhotoCache:
    """One SQLite table, read and written by the thread that runs the fetch."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(path)
        self.db.execute("pragma journal_mode=wal")
        if "photos" not in self.db.table_names():
            self.db.table("photos").create(
                {
                    "url": str,
                    "path": str,
                    "sha256": str,
                    "etag": str,
                    "last_modified": str,
                    "fetched_at": str,
                },
                pk="url",
            )

    def get_many(self, urls: Iterable[str]) -> dict[str, CachedPhoto]:
        out = {}
        wanted = list(dict.fromkeys(urls))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.query(f"select * from photos where url in ({marks})", chunk):
                if Path(r["path"]).is_file():
                    out[r["url"]] = CachedPhoto(
                        r["url"], r["path"], r["sha256"], r["etag"], r["last_modified"]
                    )
        return out

    def put(self, photo: CachedPhoto) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.db.table("photos").upsert({**photo.__dict__, "fetched_at": now}, pk="url")

    def close(self) -> None:
        self.db.close()
