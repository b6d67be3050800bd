"""Tags back out over HTTP: ``GET /export``, the same lines as ``shelfsight export``,
streamed a page of products at a time."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from litestar.response import Stream

from shelfsight.indexer.exports.write import MEDIA_TYPES, SUFFIXES
from shelfsight.library import Shelfsight
from shelfsight.service.http.deps import in_thread
from shelfsight.service.http.responses import ERROR_RESPONSES


class ExportController(Controller):
    path = "/export"
    tags = ("products",)

    @get(
        "/",
        responses=ERROR_RESPONSES,
        summary="Export the catalogue's tags",
        media_type="text/csv",
        response_description="The export: CSV, or for google-feed tab-separated values, "
        "for jsonl one JSON object per line (the Content-Type says which)",
    )
    async def export(
        self,
        shelf: Shelfsight,
        format: Annotated[
            str,
            Parameter(
                max_length=12,
                description="csv, jsonl, shopify, woocommerce or google-feed (a "
                "supplemental feed, tab-separated)",
            ),
        ] = "csv",
        only_reviewed: Annotated[
            bool, Parameter(description="only products a person accepted in the review inbox")
        ] = False,
        families: Annotated[
            str | None,
            Parameter(max_length=2000, description="families to export, comma-separated"),
        ] = None,
    ) -> Stream:
        """Every product's tags in the platform's import shape (Shopify: ``Handle``,
        ``Tags`` and a metafield per family; Google: ``id`` with ``color``, ``gender``,
        ``product_type``...), cells protected against spreadsheet formulas. A bad option
        is a 400 before anything is sent."""
        wanted = [f.strip() for f in families.split(",") if f.strip()] if families else None
        lines = await in_thread(
            lambda: shelf.export(format, only_reviewed=only_reviewed, families=wanted)
        )
        name = f"shelfsight-{format}{SUFFIXES.get(format, '.csv')}"
        return Stream(
            lines,
            headers={
                # The handler's documented type is CSV; a feed or JSON Lines says its own.
                "Content-Type": f"{MEDIA_TYPES[format]}; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )
