"""The Shelfsight HTTP API (Litestar) and the web page it serves at ``/``.

Reads run concurrently in worker threads; writes are serialised by the workspace's
writer lock and publish a new index version atomically. Every client mistake is a 4xx
JSON body ``{"status_code", "detail", "extra": {"error"}}``; OpenAPI is at ``/schema``.
"""

from __future__ import annotations

import dataclasses
import hmac
import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio
from litestar import Litestar, MediaType, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader, UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.params import Body, Parameter
from litestar.static_files import create_static_files_router
from msgspec import Meta
from shelfsight.indexer.errors import ShelfsightError, Skip
from shelfsight.indexer.product_ids import ID_RULE, is_valid_id, loads_json
from shelfsight.indexer.settings import MB, settings
from shelfsight.service import errors, logs
from shelfsight.service.access_log import AccessLog
from shelfsight.service.batch_upload import BatchOperation, read_batch
from shelfsight.service.body_deadline import BodyDeadline
from shelfsight.service.edge import HostCheck, SecurityHeaders
from shelfsight.service.responses import (
    ERROR_RESPONSES,
    WRITTEN_NOTHING,
    Deleted,
    DescriberStatus,
    Facets,
    Health,
    WriteStatus,
    Written,
)
from shelfsight.service.slow_work import RETRY_AFTER, run_slow
from shelfsight.service.state import WRITE_MODES, ServiceConfig, ServiceState
from shelfsight.service.uploads import ApiError, read_image
from shelfsight.tagging.defaults import ATTRIBUTES
from shelfsight.tagging.describe.writer import Description
from shelfsight.tagging.neighbours import NotEmbedded
from shelfsight.tagging.results import (
    BatchItem,
    BatchResult,
    ProductInfo,
    SearchResult,
    SimilarResult,
    TagResult,
)

from shelfsight.library import Shelfsight

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
DOCS_ASSETS = "/schema/assets"
MAX_K = 100
T = TypeVar("T")

KParam = Annotated[int, Parameter(ge=1, le=MAX_K, description="Number of results.")]
WhereParam = Annotated[
    list[str] | None,
    Parameter(description="Tag filter family=value; repeat (OR within a family, AND across)."),
]
AttributesParam = Annotated[
    str,
    Parameter(
        max_length=100, description="Pixel attributes: any of colour,shape,ocr (OCR: /tag only)."
    ),
]
MAX_TITLE = 500
MAX_LISTINGS_BYTES = 2 * MB
RefineParam = Annotated[
    str | None,
    Parameter(
        max_length=200,
        description='Refine in words ("but in red, for women"): the tag values named join '
        "where; words naming none come back as ignored.",
    ),
]


def state_of(request: Request) -> ServiceState:
    st: ServiceState = request.app.state.shelfsight
    st.shelf.refresh()  # another process may have published a new index version
    return st


def shelf_of(request: Request) -> Shelfsight:
    return state_of(request).shelf


async def _in_thread(fn: Callable[[], T]) -> T:
    """Run blocking work off the event loop (slow work goes through ``slow_work``)."""
    return await anyio.to_thread.run_sync(fn)


def require_api_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    expected = connection.app.state.shelfsight.config.api_key
    if not expected:
        raise PermissionDeniedException("write endpoints are disabled: set SHELFSIGHT_API_KEY")
    given = connection.headers.get("x-api-key", "")
    auth = connection.headers.get("authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthorizedException("missing or wrong API key (X-API-Key header)")


def _linked(items: list[Any]) -> list[Any]:
    """Products in an answer get the URLs the page fetches their photos from."""
    for item in items:
        item.thumbnail = f"/images/{item.id}?size=thumb"
        if hasattr(item, "image"):
            item.image = f"/images/{item.id}"
    return items


# -- reads ------------------------------------------------------------------------------
@get("/health", sync_to_thread=False, responses=ERROR_RESPONSES)
def health(request: Request) -> Health:
    st = state_of(request)
    index = st.shelf.neighbour_search.index
    return Health(
        status="ok",
        products=st.shelf.catalogue.count(),
        indexed=len(index),
        model=index.model,
        index_version=st.shelf.version,
        writes_enabled=bool(st.config.api_key),
    )


@get("/products/{product_id:str}", sync_to_thread=False, responses=ERROR_RESPONSES)
def get_product(request: Request, product_id: str) -> ProductInfo:
    product = shelf_of(request).product(product_id)
    return _linked([ProductInfo.from_product(product)])[0]


@get(
    "/images/{product_id:str}",
    sync_to_thread=True,
    media_type="image/jpeg",
    responses=ERROR_RESPONSES,
)
def get_image(
    request: Request,
    product_id: str,
    size: Annotated[
        str, Parameter(max_length=10, description="thumb (256 px), medium (640 px) or full")
    ] = "full",
) -> Response[bytes]:
    data, media_type = shelf_of(request).image(product_id, size)
    headers = {"Cache-Control": "public, max-age=3600"} if size != "full" else {}
    return Response(data, media_type=media_type, headers=headers)


@get("/similar/{product_id:str}", responses=ERROR_RESPONSES)
async def similar_to_product(
    request: Request,
    product_id: str,
    k: KParam = 10,
    where: WhereParam = None,
    q: RefineParam = None,
) -> SimilarResult:
    st = state_of(request)
    filters, ignored = st.shelf.refine(where, q)

    def compute(embed: bool) -> SimilarResult:
        # An id from a client is only ever an id: never a path on this server.
        result = st.shelf.similar(product_id, k, filters, embed, paths=False)
        return _linked_similar(result)

    # Keyed by what the answer depends on: the filters `q` resolved to, not its words
    # (unique ignored words would fill the cache with copies of one answer).
    key = ("similar", product_id, k, tuple(sorted((f, tuple(v)) for f, v in filters.items())))
    try:
        # A stored vector and a FAISS search take well under a millisecond: answered on
        # the event loop, which keeps the p99 low (BENCHMARKS.md, service load).
        result = st.cached(key, lambda: compute(embed=False))
    except NotEmbedded:
        # Not embedded yet: the model may have to load (seconds), never on the loop.
        result = await _in_thread(lambda: st.cached(key, lambda: compute(embed=True)))
    # The cached answer is shared: this request's ignored words go on a copy.
    return dataclasses.replace(result, ignored=ignored) if ignored else result


def _linked_similar(result: SimilarResult) -> SimilarResult:
    _linked(result.results)
    return result


@dataclass
class ImageUpload:
    image: UploadFile


@post("/similar", status_code=200, responses=ERROR_RESPONSES)
async def similar_to_image(
    request: Request,
    data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    k: KParam = 10,
    where: WhereParam = None,
    q: RefineParam = None,
) -> SimilarResult:
    st = state_of(request)
    filters, ignored = st.shelf.refine(where, q)  # refused before the upload is read
    image, _ = await read_image(data.image, st.config.max_upload_bytes, st.config.max_pixels)
    result = await _in_thread(lambda: st.shelf.similar(image, k, filters))
    result.ignored = ignored
    result.query = "upload"
    return _linked_similar(result)


@get("/facets", sync_to_thread=True, responses=ERROR_RESPONSES)
def facets(request: Request) -> Facets:
    """Every tag family's values with their product counts (filters, corrections)."""
    return Facets(shelf_of(request).facets())


@get("/search", sync_to_thread=True, responses=ERROR_RESPONSES)
def search(
    request: Request,
    q: Annotated[str, Parameter(min_length=1, max_length=200, description="Words to find.")],
    k: KParam = 20,
    where: WhereParam = None,
    mode: Annotated[
        Literal["hybrid", "keyword", "semantic"],
        Parameter(
            description="keyword: BM25 over titles and tags (any word, prefixes, more words "
            "first); semantic: titles nearest in meaning (MiniLM); hybrid: both, fused by "
            "reciprocal rank."
        ),
    ] = "hybrid",
) -> SearchResult:
    result = shelf_of(request).search(q, k, where, mode)
    _linked(result.results)
    return result


@post("/tag", status_code=200, responses=ERROR_RESPONSES)
async def tag(
    request: Request,
    data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    k: KParam = 10,
    attributes: AttributesParam = "colour,shape",
    review_threshold: Annotated[
        float | None,
        Parameter(
            ge=0.0,
            le=1.0,
            description="Flag tags below this score for review (default: per-family fitted).",
        ),
    ] = None,
) -> TagResult:
    st = state_of(request)
    attrs = _attributes(attributes)
    image, _ = await read_image(data.image, st.config.max_upload_bytes, st.config.max_pixels)

    def work() -> TagResult:
        result = st.shelf.tag(
            image,
            k=k,
            attributes=attrs,
            ocr_timeout=st.config.slow_timeout,
            review_threshold=review_threshold,
        )
        _linked(result.neighbours)
        return result

    if "ocr" in attrs:
        return await run_slow(st, work, st.config.slow_timeout + 5)
    return await _in_thread(work)


def _attributes(attributes: str) -> tuple[str, ...]:
    attrs = tuple(a.strip() for a in attributes.split(",") if a.strip())
    unknown = set(attrs) - set(ATTRIBUTES)
    if unknown:
        raise ApiError(
            400, "bad attributes", f"unknown {sorted(unknown)}; choose from {ATTRIBUTES}"
        )
    return attrs


async def tag_batch(
    request: Request,
    k: KParam = 10,
    attributes: AttributesParam = "colour,shape",
) -> BatchResult:
    """Multipart: up to ``SHELFSIGHT_MAX_BATCH`` (50) photos, each a file part named
    ``images``, of at most ``SHELFSIGHT_MAX_BATCH_PIXELS`` (600 MP) together (413 beyond
    either). One item per photo, in order: its tags, or why it was skipped (a photo that
    cannot be read never fails the others)."""
    st = state_of(request)
    cfg = st.config
    attrs = _attributes(attributes)
    if "ocr" in attrs:
        raise ApiError(400, "bad attributes", "OCR takes a second a photo: use /tag for it")
    form = await read_batch(request, "images", cfg.max_batch, cfg.max_upload_bytes, cfg.max_pixels)
    try:
        if not form.photos:
            raise ApiError(400, "missing images", "send the photos as file parts named 'images'")
        if form.pixels > cfg.max_batch_pixels:
            raise ApiError(
                413,
                "too many pixels",
                f"the photos hold {form.pixels / 1e6:.0f} megapixels together, more than the "
                f"{cfg.max_batch_pixels / 1e6:g} accepted in one request; send fewer or smaller",
            )
        named = [(p.name, p.file) for p in form.photos if p.file is not None]

        def work() -> list[BatchItem]:
            # Decoded a batch at a time, as the model gets to them (not all up front).
            done = iter(st.shelf.tag_batch(named, k=k, attributes=attrs))
            items = [
                BatchItem(p.name, skipped=p.skip) if p.skip is not None else next(done)
                for p in form.photos
            ]
            for item in items:
                if item.result is not None:
                    _linked(item.result.neighbours)
            return items

        items = await _in_thread(work)
    finally:
        form.close()
    tagged = sum(item.result is not None for item in items)
    return BatchResult(items, tagged, len(items) - tagged)


@get("/describe/status", sync_to_thread=False, responses=ERROR_RESPONSES)
def describe_status(request: Request) -> DescriberStatus:
    """Whether the describer is ready: off, idle, loading (its model), ready or failed."""
    return DescriberStatus(**state_of(request).shelf.describer_state)


@dataclass
class DescribeForm:
    """Every text field has a maximum length (a 400 beyond it): a 5 MB title cost 42 s of
    CPU before these existed."""

    image: UploadFile | None = None
    product_id: Annotated[str, Meta(max_length=128)] | None = None
    title: Annotated[str, Meta(max_length=MAX_TITLE)] | None = None
    brand: Annotated[str, Meta(max_length=100)] | None = None
    gender: Annotated[str, Meta(max_length=50)] | None = None
    colour: Annotated[str, Meta(max_length=50)] | None = None
    length: Annotated[str, Meta(max_length=20)] = "house"
    tone: Annotated[str, Meta(max_length=20)] = "neutral"
    k: int = 5
    force: bool = False  # describe an out-of-domain photo anyway


@post("/describe", status_code=200, responses=ERROR_RESPONSES)
async def describe(
    request: Request,
    data: Annotated[DescribeForm, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Description:
    st = state_of(request)
    if not st.config.describe_enabled:
        raise ApiError(503, "descriptions are off", "this server runs with SHELFSIGHT_DESCRIBE=0")
    if not 1 <= int(data.k) <= 20:
        raise ApiError(400, "bad k", "k must be between 1 and 20")
    fields = {
        n: v
        for n, v in (("brand", data.brand), ("gender", data.gender), ("colour", data.colour))
        if v
    }
    upload = data.image if isinstance(data.image, UploadFile) else None
    target: Any = None
    if upload is not None:
        target, _ = await read_image(upload, st.config.max_upload_bytes, st.config.max_pixels)
    elif data.product_id:
        target = st.shelf.product(data.product_id).id
    elif not data.title:
        raise ApiError(400, "nothing to describe", "send an image, a product_id or a title")

    def work() -> Description:
        return st.shelf.describe(
            target,
            title=data.title,
            fields=fields,
            k=data.k,
            force=data.force,
            length=data.length,
            tone=data.tone,
        )

    return await run_slow(st, work, st.config.slow_timeout + 30)  # + model load


# -- writes -----------------------------------------------------------------------------
def _listing(raw: Any, n: int) -> dict[str, Any]:
    """One listing, checked; only the keys the client sent (a merge keeps the rest)."""
    if not isinstance(raw, dict):
        raise ApiError(400, "bad listing", f"listing {n} is not a JSON object")
    pid = str(raw.get("id", "")).strip()
    if not is_valid_id(pid):
        raise ApiError(400, "bad id", f"listing {n}: id must be {ID_RULE} ({pid!r})")
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in tags.items()
    ):
        raise ApiError(400, "bad tags", f"listing {n}: tags must map family -> value")
    out: dict[str, Any] = {"id": pid, "image": str(raw.get("image") or "image")}
    if "title" in raw:
        out["title"] = str(raw.get("title") or "")
        if len(out["title"]) > MAX_TITLE:
            raise ApiError(400, "field too long", f"listing {n}: a title of {MAX_TITLE} at most")
    if "tags" in raw:
        out["tags"] = {k: str(v) for k, v in tags.items() if str(v).strip()}
    fields = {k: v for k, v in raw.items() if k not in ("id", "title", "tags", "image")}
    if fields:
        out["fields"] = fields
    return out


@post(
    "/products",
    guards=[require_api_key],
    status_code=201,
    responses={**ERROR_RESPONSES, 422: WRITTEN_NOTHING},
)
async def add_products(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    mode: Annotated[
        str,
        Parameter(
            max_length=10,
            description="replace (default): each listing is the product's whole record; "
            "merge: sent fields overwrite, the rest (and the image, if none is sent) stay.",
        ),
    ] = "replace",
) -> Response[Written]:
    """Multipart: ``listings`` = a JSON object or array (each with ``id``, ``title``,
    ``tags``, and ``image`` naming its file part, default ``image``) plus the file parts.
    201 when something was written; 422 with each listing's reason when nothing was."""
    st = state_of(request)
    if mode not in WRITE_MODES:
        raise ApiError(400, "bad mode", f"mode must be one of {', '.join(WRITE_MODES)}")
    raw = data.get("listings")
    if not isinstance(raw, str):
        raise ApiError(400, "missing listings", "send a 'listings' form field with JSON")
    if len(raw) > MAX_LISTINGS_BYTES:
        raise ApiError(
            400, "field too long", f"listings: at most {MAX_LISTINGS_BYTES // MB} MB of JSON"
        )
    try:
        parsed = loads_json(raw)
    except ValueError as exc:
        raise ApiError(400, "bad JSON", f"listings: {getattr(exc, 'msg', exc)}") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items or len(items) > 100:
        raise ApiError(400, "bad listings", "send 1 to 100 listings per request")
    listings = [_listing(x, i) for i, x in enumerate(items)]
    ids = [x["id"] for x in listings]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ApiError(400, "duplicate id", f"ids repeated in this request: {dupes}")
    accepted: list[dict[str, Any]] = []
    images: list[Any] = []
    skipped: list[Skip] = []
    for item in listings:
        upload = data.get(item["image"])
        try:
            if not isinstance(upload, UploadFile):
                if mode == "merge" and st.shelf.catalogue.get(item["id"]) is not None:
                    images.append(None)  # keeps its image and vector
                    accepted.append(item)
                    continue
                raise ApiError(400, "missing image", f"no file part named {item['image']!r}")
            images.append(
                await read_image(
                    upload, st.config.max_upload_bytes, st.config.max_pixels, item["image"]
                )
            )
            accepted.append(item)
        except ApiError as exc:
            skipped.append(Skip(exc.error, exc.detail, id=item["id"]))
    done = await _in_thread(lambda: st.shelf.add(accepted, images, mode)) if accepted else []
    body = Written([WriteStatus(**r) for r in done], skipped, st.shelf.version)
    return Response(body, status_code=201 if done else 422)


@delete(
    "/products/{product_id:str}",
    guards=[require_api_key],
    status_code=200,
    responses=ERROR_RESPONSES,
)
async def delete_product(request: Request, product_id: str) -> Deleted:
    st = state_of(request)
    await _in_thread(lambda: st.shelf.delete(product_id))
    return Deleted(product_id, st.shelf.version)


# -- page -------------------------------------------------------------------------------
# The page loads only its own script, styles and photos (and previews of the user's own
# files as blob: URLs); nothing may frame it.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@get(
    "/",
    media_type=MediaType.HTML,
    include_in_schema=False,
    sync_to_thread=False,
    response_headers=[ResponseHeader(name="Content-Security-Policy", value=PAGE_POLICY)],
)
def page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


@get("/favicon.ico", include_in_schema=False, sync_to_thread=False)
def favicon() -> Response[bytes]:
    # Browsers ask for /favicon.ico whatever the page says; an SVG answers for every size.
    data = (STATIC / "favicon.svg").read_bytes()
    return Response(data, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


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
        path="/schema",
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


def _checked_api_key(config: ServiceConfig) -> None:
    """A key that no client can send (a header is Latin-1 text; trailing spaces are
    trimmed by most clients) would leave the write endpoints closed without a word."""
    key = config.api_key
    if not key:
        return
    if key != key.strip():
        log.warning("SHELFSIGHT_API_KEY has spaces around it; they were removed")
        config.api_key = key = key.strip()
    if not key.isascii() or not key.isprintable():
        raise ValueError(
            "SHELFSIGHT_API_KEY must be printable ASCII: an HTTP header cannot carry it as it is"
        )


def create_app(config: ServiceConfig | None = None) -> Litestar:
    config = config or ServiceConfig.from_env()
    _checked_api_key(config)
    _share_cores(settings().workers)
    if not logging.getLogger().handlers:  # a uvicorn worker process: the same logfmt
        logs.configure(settings().verbose)
    app = Litestar(
        route_handlers=[
            health,
            get_product,
            get_image,
            similar_to_product,
            similar_to_image,
            search,
            facets,
            tag,
            # Its own body limit: a batch carries many photos.
            post(
                "/tag/batch",
                status_code=200,
                responses=ERROR_RESPONSES,
                request_max_body_size=config.max_batch_bytes,
                operation_class=BatchOperation,
            )(tag_batch),
            describe,
            describe_status,
            add_products,
            delete_product,
            page,
            favicon,
            create_static_files_router(path="/static", directories=[STATIC]),
            # Swagger UI and Redoc from a package: /schema/swagger and /schema/redoc
            # work offline.
            create_static_files_router(
                path=DOCS_ASSETS, directories=[_docs_assets()], include_in_schema=False
            ),
        ],
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
