"""The one place a library error becomes an HTTP status or a CLI exit code.

Lookups walk the exception's classes, most specific first, so a new error type lands in
its family's row without touching this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shelfsight.core.errors import (
    BackendError,
    BadInput,
    Busy,
    ImageChanged,
    ModelError,
    NotFound,
    NotIndexed,
    OutOfDomain,
    ShelfsightError,
    StorageError,
)
from shelfsight.indexer.images import ImageError

HTTP_STATUS: dict[type[BaseException], int] = {
    ImageChanged: 410,
    OutOfDomain: 422,  # well-formed, but there is nothing in the catalogue to ground it on
    BadInput: 400,
    NotFound: 404,
    NotIndexed: 409,  # the product exists; its vector or the index does not yet
    Busy: 503,
    BackendError: 502,
    ModelError: 500,
    StorageError: 507,
    ShelfsightError: 500,
}
# An image is refused for what it is: too big to decode, empty, or not decodable.
IMAGE_STATUS = {"image too large": 413, "empty image file": 400}

EXIT_CODE: dict[type[BaseException], int] = {
    BadInput: 2,  # like a usage error: fix the input and run again
    NotFound: 3,
    NotIndexed: 4,
    ModelError: 5,
    BackendError: 6,
    Busy: 7,
    StorageError: 1,
    ShelfsightError: 1,
}


def _lookup(table: dict[type[BaseException], int], exc: BaseException, default: int) -> int:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default


def http_status(exc: BaseException) -> int:
    if isinstance(exc, ImageError):
        return IMAGE_STATUS.get(exc.reason, 422)
    return _lookup(HTTP_STATUS, exc, 500)


def exit_code(exc: BaseException) -> int:
    return _lookup(EXIT_CODE, exc, 1)


def error_name(exc: BaseException) -> str:
    return str(getattr(exc, "error", "") or "error")


def message(exc: BaseException) -> str:
    """The one line the CLI prints: the error's name is part of it there."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}; nothing was changed"
    return str(exc)


def detail(exc: BaseException) -> str:
    """The HTTP body's ``detail``, beside its ``error`` name."""
    if isinstance(exc, ImageError):  # the reason is the body's ``error`` already
        return exc.detail or exc.reason
    return message(exc)


@dataclass
class ErrorBody:
    """Every error the API answers: a short stable ``error``, a human ``detail``, and for
    a rejected parameter, which one and why (``errors``)."""

    status_code: int
    error: str
    detail: str
    errors: list[dict[str, Any]] | None = None
