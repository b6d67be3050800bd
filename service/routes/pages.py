"""What a person or a load balancer opens: the web page, its icon, and ``/health``."""

from __future__ import annotations

from pathlib import Path

from litestar import Controller, MediaType, Response, get
from litestar.datastructures import ResponseHeader

from shelfsight.service.http.responses import ERROR_RESPONSES, Health
from shelfsight.service.http.state import ServiceState

STATIC = Path(__file__).resolve().parent.parent / "static"
# The page loads only its own script, styles and photos (and previews of the user's own
# files as blob: URLs); nothing may frame it.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class HealthController(Controller):
    path = "/health"
    tags = ("service",)

    @get("/", sync_to_thread=False, responses=ERROR_RESPONSES, summary="Service health")
    def health(self, service: ServiceState) -> Health:
        """Whether the service is up: the workspace, the index version and product
        count, and whether writes are enabled."""
        shelf = service.shelf
        index = shelf.neighbour_search.index
        return Health(
            status="ok",
            products=shelf.catalogue.count(),
            indexed=len(index),
            model=index.model,
            index_version=shelf.version,
            writes_enabled=bool(service.settings.api_key),
            model_loaded=shelf.neighbour_search.embedder_loaded,
        )


class PageController(Controller):
    include_in_schema = False

    @get(
        "/",
        media_type=MediaType.HTML,
        sync_to_thread=False,
        response_headers=[ResponseHeader(name="Content-Security-Policy", value=PAGE_POLICY)],
        summary="The web page",
    )
    def page(self) -> str:
        """The workbench page (HTML)."""
        return (STATIC / "index.html").read_text(encoding="utf-8")

    @get("/favicon.ico", sync_to_thread=False, summary="Icon")
    def favicon(self) -> Response[bytes]:
        """The page's icon."""
        # Browsers ask for /favicon.ico whatever the page says; an SVG answers every size.
        data = (STATIC / "favicon.svg").read_bytes()
        headers = {"Cache-Control": "max-age=86400"}
        return Response(data, media_type="image/svg+xml", headers=headers)
