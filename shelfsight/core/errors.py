"""The errors Shelfsight raises on purpose, by what the caller should do about them.

Every module raises a subclass of one of these (``ImageError`` is a ``BadInput``,
``UnknownProduct`` a ``NotFound``...), and each also keeps the builtin base it had, so
``except ValueError`` around a decode still works. The CLI maps the families to exit codes
and the HTTP app to statuses, each in one table (``service.errors``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class ShelfsightError(Exception):
    """Anything Shelfsight reports as a known failure rather than a bug."""

    # A short, stable name for the failure (the HTTP body's ``error``); ``str(exc)`` says more.
    error = "error"


class NotFound(ShelfsightError):
    """A product, workspace or file that does not exist."""

    error = "not found"


class BadInput(ShelfsightError, ValueError):
    """The caller sent something unusable: an image that does not decode, a filter on an
    unknown family, a malformed catalogue, an option out of range."""

    error = "bad input"


class OutOfDomain(BadInput):
    """The photo is unlike anything in the catalogue, so there is nothing to ground on."""

    error = "out of domain"


class NotIndexed(ShelfsightError):
    """The work needs something not built yet: the index, a product's vector, a model."""

    error = "not indexed"


class ModelError(ShelfsightError):
    """A model could not be loaded or run (damaged file, missing weights, runtime)."""

    error = "model error"


class BackendError(ShelfsightError):
    """An external or generative backend (a description model, an endpoint) failed."""

    error = "description model failed"


class Busy(ShelfsightError):
    """Another writer holds the workspace; try again."""

    error = "busy"


class ImageChanged(ShelfsightError):
    """The file a product's image path names is no longer the image that was ingested."""

    error = "image changed"


class StorageError(ShelfsightError):
    """The workspace could not be written (disk full); nothing was changed."""

    error = "disk full"


@dataclass
class Skip:
    """One item left out of a batch and why: an ingest row, an image that would not embed,
    a listing the API refused. Everything else in the batch went ahead."""

    reason: str
    detail: str = ""
    id: str | None = None
    row: int | None = None  # 1-based line of the input file, header included
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
