"""One error for "the disk is full", whichever layer hit it.

SQLite says ``database or disk is full`` (SQLITE_FULL), Python ``OSError`` ENOSPC or
EDQUOT, faiss a ``RuntimeError`` quoting the C library's "No space left on device". The
CLI and the HTTP API (507) report it as one clear message instead of a traceback or a bare
500, and the writes that hit it roll back (see ``Catalogue`` and ``online``).
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from collections.abc import Iterator

from shelfsight.indexer.errors import StorageError

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(StorageError, OSError):
    def __init__(self, where: str, cause: BaseException) -> None:
        super().__init__(errno.ENOSPC, f"disk full while writing {where}: {cause}")
        self.where = where


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
            "disk is full" in str(exc)
        )
    if isinstance(exc, OSError):
        return exc.errno in _NO_SPACE
    if isinstance(exc, RuntimeError):  # faiss' C++ I/O errors
        return "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc)
    return False


@contextlib.contextmanager
def disk_full_as_error(where: str) -> Iterator[None]:
    """Re-raise a no-space failure inside the block as ``DiskFull``; anything else as is."""
    try:
        yield
    except DiskFull:
        raise
    except (OSError, sqlite3.OperationalError, RuntimeError) as exc:
        if is_disk_full(exc):
            raise DiskFull(where, exc) from exc
        raise
