"""What the HTTP API answers besides the library's results (``TagResult``,
``SimilarResult``, ``SearchResult``, ``Description``): typed, so ``/schema`` documents every
field, errors included."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec

from shelfsight.core.errors import Skip
from shelfsight.service.errors import ErrorBody


@dataclass
class Health:
    status: str
    products: int
    indexed: int
    model: str
    index_version: str | None
    writes_enabled: bool
    # Whether this worker has its embedding model in memory: the first photo after a
    # start loads it (about 10-15 s on 2 cores), and the page says so in words.
    model_loaded: bool = False


@dataclass
class DescriberStatus:
    state: str  # off, idle, loading, ready, failed
    backend: str | None = None
    seconds: float | None = None  # how long preparing it took
    error: str | None = None


@dataclass
class WriteStatus:
    id: str
    status: str  # added or updated


@dataclass
class Written:
    results: list[WriteStatus]
    skipped: list[Skip]  # listings refused, each with its reason; the others were written
    index_version: str | None


@dataclass
class Deleted:
    deleted: str
    index_version: str | None


_MEANING = {
    400: "Bad input (a parameter, a filter, an image that is empty).",
    401: "Missing or wrong API key.",
    403: "Writes are disabled on this server.",
    404: "Unknown product, or its image is gone.",
    408: "The request body took too long to arrive.",
    409: "Not indexed yet (the product has no vector, or there is no index).",
    410: "The stored image changed after ingest.",
    413: "Upload or image too large, or too many photos or pixels in one batch.",
    415: "Not an image type.",
    422: "An image that cannot be decoded, or a photo unlike the whole catalogue.",
    500: "A model failed to load or run.",
    502: "The description model failed.",
    503: "Busy, or the feature is off on this server.",
    504: "The work took longer than the server allows.",
    507: "Disk full; nothing was changed.",
}
ERROR_RESPONSES = {
    code: ResponseSpec(data_container=ErrorBody, description=text)
    for code, text in _MEANING.items()
}
WRITTEN_NOTHING = ResponseSpec(
    data_container=Written, description="Nothing was written: every listing was skipped."
)


@dataclass
class Facets:
    families: dict[str, dict[str, int]]  # family -> value -> products holding it
