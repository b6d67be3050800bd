"""One error for "the disk is full", whichever layer hit it.

SQLite says ``database or disk is full`` (SQLITE_FULL), or only ``disk I/O error`` when it
cannot create the WAL index of a database it opens, Python ``OSError`` ENOSPC or
EDQUOT, faiss a ``RuntimeError`` quoting the C library's "No space left on device". The
CLI and the HTTP API (507) report it as one clear message instead of a traceback or a bare
500, and the writes that hit it roll back (see ``Catalogue`` and ``online``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator

from shelfsight.core.errors import StorageError

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


def _no_space_at(path: str | os.PathLike[str] | None) -> bool:
    if path is None:
        return False
    try:
        return os.statvfs(path).f_bavail == 0
    except OSError:
        return False


@contextlib.contextmanager
def disk_full_as_error(where: str, folder: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Re-raise a no-space failure inside the block as ``DiskFull``; anything else as is.
    With ``folder``, an I/O error while its file system has no space left counts too
    (SQLite opening a database on a full disk reports only "disk I/O error")."""
    try:
        yield
    except DiskFull:
        raise
    except (OSError, sqlite3.OperationalError, RuntimeError) as exc:
        io_error = isinstance(exc, sqlite3.OperationalError) and "disk I/O error" in str(exc)
        if is_disk_full(exc) or (io_error and _no_space_at(folder)):
            raise DiskFull(where, exc) from exc
        raise
