"""Find similar: the catalogue products nearest a product or an uploaded photo."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body

from shelfsight.service.http.deps import (
    ImageUpload,
    KParam,
    RefineParam,
    WhereParam,
    in_thread,
    linked,
)
from shelfsight.service.http.responses import ERROR_RESPONSES
from shelfsight.service.http.state import ServiceState
from shelfsight.service.http.uploads import read_image
from shelfsight.tagging.results import SimilarResult
from shelfsight.tagging.search.visual import NotEmbedded


def _linked(result: SimilarResult) -> SimilarResult:
    linked(result.results)
    return result


class SimilarController(Controller):
    path = "/similar"
    tags = ("search",)

    @get("/{product_id:str}", responses=ERROR_RESPONSES, summary="Similar to a product")
    async def similar_to_product(
        self,
        service: ServiceState,
        product_id: str,
        k: KParam = 10,
        where: WhereParam = None,
        q: RefineParam = None,
    ) -> SimilarResult:
        """The catalogue products that look most like a catalogue product, nearest
        first, each product once."""
        shelf = service.shelf
        filters, ignored = shelf.refine(where, q)

        def compute(embed: bool) -> SimilarResult:
            # An id from a client is only ever an id: never a path on this server.
            return _linked(shelf.similar(product_id, k, filters, embed, paths=False))

        # Keyed by what the answer depends on: the filters `q` resolved to, not its words
        # (unique ignored words would fill the cache with copies of one answer).
        key = ("similar", product_id, k, tuple(sorted((f, tuple(v)) for f, v in filters.items())))
        try:
            # A stored vector and a FAISS search take well under a millisecond: answered on
            # the event loop, which keeps the p99 low (BENCHMARKS.md, service load).
            result = service.cached(key, lambda: compute(embed=False))
        except NotEmbedded:
            # Not embedded yet: the model may have to load (seconds), never on the loop.
            result = await in_thread(lambda: service.cached(key, lambda: compute(embed=True)))
        # The cached answer is shared: this request's ignored words go on a copy.
        return dataclasses.replace(result, ignored=ignored) if ignored else result

    @post("/", status_code=200, responses=ERROR_RESPONSES, summary="Similar to a photo")
    async def similar_to_image(
        self,
        service: ServiceState,
        data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        k: KParam = 10,
        where: WhereParam = None,
        q: RefineParam = None,
    ) -> SimilarResult:
        """The catalogue products that look most like an uploaded photo (multipart
        ``image``), nearest first."""
        shelf, settings = service.shelf, service.settings
        filters, ignored = shelf.refine(where, q)  # refused before the upload is read
        image, _ = await read_image(data.image, settings.max_upload_bytes, settings.max_pixels)
        result = await in_thread(lambda: shelf.similar(image, k, filters))
        result.ignored = ignored
        result.query = "upload"
        return _linked(result)
