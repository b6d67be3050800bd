"""The Shelfsight HTTP API (Litestar) and the web page it serves at ``/``: the app
assembled from its resources (``service.routes``, a Controller each), the library given
to them through ``Provide`` (``service.http.deps``), one error format, and the edges.

Reads run concurrently in worker threads; writes are serialised by the workspace's
writer lock and publish a new index version atomically. Every client mistake is a 4xx
JSON body ``{"status_code", "detail", "extra": {"error"}}``; OpenAPI is at ``/schema``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from shelfsight.core.errors import ShelfsightError
from shelfsight.core.settings import Settings, settings
from shelfsight.service import errors, logs
from shelfsight.service.http.access_log import AccessLog
from shelfsight.service.http.body_deadline import BodyDeadline
from shelfsight.service.http.deps import DEPENDENCIES
from shelfsight.service.http.edge import HostCheck, SecurityHeaders
from shelfsight.service.http.slow_work import RETRY_AFTER
from shelfsight.service.http.state import ServiceState
from shelfsight.service.http.uploads import ApiError
from shelfsight.service.routes.describe import DescribeController
from shelfsight.service.routes.exports import ExportController
from shelfsight.service.routes.pages import STATIC, HealthController, PageController
from shelfsight.service.routes.products import ImageController, ProductController
from shelfsight.service.routes.review import ReviewController
from shelfsight.service.routes.search import SearchController
from shelfsight.service.routes.similar import SimilarController
from shelfsight.service.routes.tagging import TagBatchController, TagController

log = logging.getLogger(__name__)
DOCS_ASSETS = "/schema/assets"


_ERROR_NAMES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    408: "request timeout",
    413: "request too large",
    415: "unsupported media type",
}


def _http_error(_: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    error = extra.get("error") or _ERROR_NAMES.get(exc.status_code, "error")
    body: dict[str, Any] = {"status_code": exc.status_code, "error": error, "detail": exc.detail}
    if isinstance(exc.extra, list) and exc.extra:  # validation: which parameter and why
        body["errors"] = exc.extra
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def _internal_error(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {"status_code": 500, "error": "internal error", "detail": type(exc).__name__}
    return Response(body, status_code=500)


def _bad_encoding(request: Request, exc: UnicodeDecodeError) -> Response[dict[str, Any]]:
    # Litestar decodes multipart text fields itself; a field that is not UTF-8 text (found
    # by fuzzing /describe) was a 500.
    return _http_error(
        request, ApiError(400, "bad encoding", f"form fields must be UTF-8 text ({exc.reason})")
    )


def _library_error(request: Request, exc: ShelfsightError) -> Response[dict[str, Any]]:
    """Every library error, by the one table in ``service.errors``."""
    status = errors.http_status(exc)
    if status >= 500 and status != 503:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    headers = RETRY_AFTER if status == 503 else None
    return _http_error(
        request, ApiError(status, errors.error_name(exc), errors.detail(exc), headers=headers)
    )


def _openapi_config() -> OpenAPIConfig:
    """The OpenAPI document at /schema/openapi.json (and .yaml), rendered by Swagger UI
    (/schema, /schema/swagger) and Redoc (/schema/redoc), whose scripts the app serves
    itself (Litestar's defaults load them from a CDN: a blank page offline)."""
    favicon = "<link rel='icon' type='image/svg+xml' href='/favicon.ico'>"
    swagger = SwaggerRenderPlugin(
        js_url=f"{DOCS_ASSETS}/swagger-ui-dist/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui-dist/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-dist/swagger-ui-standalone-preset.js",
        path=["/", "/swagger"],
        favicon=favicon,
    )
    redoc = RedocRenderPlugin(
        js_url=f"{DOCS_ASSETS}/redoc/bundles/redoc.standalone.js",
        google_fonts=False,  # a CDN too: the system fonts instead
        path="/redoc",
        favicon=favicon,
    )
    return OpenAPIConfig(
        title="Shelfsight",
        version="0.1.0",
        description="Tag, find and describe e-commerce products from their photos. Reads "
        "are open; writes (adding, deleting and accepting products, keeping tags for "
        "review) need the API key: the X-API-Key header or a bearer token.",
        path="/schema",
        use_handler_docstrings=True,
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="apiKey", name="X-API-Key", security_scheme_in="header"
                ),
                "bearer": SecurityScheme(type="http", scheme="bearer"),
            }
        ),
        render_plugins=[swagger, redoc, JsonRenderPlugin(), YamlRenderPlugin()],
    )


def _docs_assets() -> Path:
    """Swagger UI's and Redoc's scripts as drf-spectacular-sidecar ships them (its only
    job: these files, kept current). Found without importing it: it imports Django."""
    spec = importlib.util.find_spec("drf_spectacular_sidecar")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("drf-spectacular-sidecar is not installed (the API docs' assets)")
    return Path(spec.submodule_search_locations[0]) / "static" / "drf_spectacular_sidecar"


def _share_cores(workers: int) -> None:
    """Each worker gets its share of the cores: oversubscribed OpenMP/torch threads spin
    against each other and against the event loop, which shows up as tail latency."""
    import faiss
    import torch

    share = max(1, (os.cpu_count() or 1) // max(workers, 1))
    torch.set_num_threads(share)
    # A single query against a flat index gains nothing from OpenMP threads.
    faiss.omp_set_num_threads(1)


def _checked_api_key(config: Settings) -> Settings:
    """A key that no client can send (a header is Latin-1 text; trailing spaces are
    trimmed by most clients) would leave the write endpoints closed without a word."""
    key = config.api_key
    if not key:
        return config
    if key != key.strip():
        log.warning("SHELFSIGHT_API_KEY has spaces around it; they were removed")
        config = dataclasses.replace(config, api_key=key.strip())
        key = key.strip()
    if not key.isascii() or not key.isprintable():
        raise ValueError(
            "SHELFSIGHT_API_KEY must be printable ASCII: an HTTP header cannot carry it as it is"
        )
    return config


def create_app(config: Settings | None = None) -> Litestar:
    """The app for ``config`` (else the environment's settings): a uvicorn factory."""
    config = _checked_api_key(config or Settings.from_env())
    _share_cores(settings().workers)
    if not logging.getLogger().handlers:  # a uvicorn worker process: the same logfmt
        logs.configure(settings().verbose)
    app = Litestar(
        route_handlers=[
            HealthController,
            ProductController,
            ImageController,
            ExportController,
            SimilarController,
            SearchController,
            TagController,
            # Its own body limit: a batch carries many photos.
            Router(
                "/",
                route_handlers=[TagBatchController],
                request_max_body_size=config.max_batch_bytes,
            ),
            DescribeController,
            ReviewController,
            PageController,
            create_static_files_router(path="/static", directories=[STATIC]),
            # Swagger UI and Redoc from a package: /schema/swagger and /schema/redoc
            # work offline.
            create_static_files_router(
                path=DOCS_ASSETS, directories=[_docs_assets()], include_in_schema=False
            ),
        ],
        dependencies=DEPENDENCIES,
        openapi_config=_openapi_config(),
        exception_handlers={
            HTTPException: _http_error,
            ShelfsightError: _library_error,
            UnicodeDecodeError: _bad_encoding,
            Exception: _internal_error,
        },
        request_max_body_size=config.max_upload_bytes * 2 + 1024 * 1024,
        middleware=[BodyDeadline.factory(config.body_timeout)],
        logging_config=None,  # Litestar's default re-formats the root logger: ours stays
        multipart_form_part_limit=210,
        on_startup=[_warm_describer],
    )
    app.state.shelfsight = ServiceState(config)
    # Around Litestar's whole request handling, not as route middleware: a request no
    # route matches (a 404) gets its access line too.
    hosts = config.allowed_hosts
    any_host = hosts is None or "*" in hosts
    # Before routing: a request for a path no route has is checked too.
    handler = HostCheck(app.asgi_handler, None if any_host else hosts)
    app.asgi_handler = SecurityHeaders(AccessLog(handler))
    return app


def _warm_describer(app: Litestar) -> None:
    # In the background: the server answers /tag and /similar while a model loads.
    threading.Thread(
        target=app.state.shelfsight.warm_describer, name="describer-warm-up", daemon=True
    ).start()
