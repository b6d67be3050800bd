"""The Shelfsight HTTP API (Litestar) and the web page it serves at ``/``.

Reads run concurrently in worker threads; writes are serialised by the workspace's
writer lock and publish a new index version atomically. Every client mistake is a 4xx
JSON body ``{"status_code", "detail", "extra": {"error"}}``; OpenAPI is at ``/schema``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from litestar import Litestar, MediaType, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.params import Body, Parameter
from litestar.static_files import create_static_files_router
from PIL import Image

from indexer.catalogue import UnknownFilter
from indexer.disk_full import DiskFull
from indexer.images import ImageError, decode_bytes, read_image_file
from indexer.product_ids import ID_RULE, is_valid_id, loads_json
from indexer.workspace import atomic_path
from service.body_deadline import BodyDeadline
from service.state import WRITE_MODES, ServiceConfig, ServiceState
from service.uploads import ApiError, image_error, read_image
from tagging.neighbours import NotEmbedded, UnknownProduct, parse_where
from tagging.pipeline import ATTRIBUTES, PipelineOptions

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
THUMB_SIZES = {"thumb": 256, "medium": 640}
MAX_K = 100
T = TypeVar("T")

KParam = Annotated[int, Parameter(ge=1, le=MAX_K, description="Number of results.")]
WhereParam = Annotated[
    list[str] | None,
    Parameter(description="Tag filter family=value; repeat (OR within a family, AND across)."),
]


def state_of(request: Request) -> ServiceState:
    st: ServiceState = request.app.state.shelfsight
    st.refresh()
    return st


def _where(st: ServiceState, where: list[str] | None) -> dict[str, list[str]]:
    try:
        filters = parse_where(where)
        st.catalogue.check_where(filters)
    except UnknownFilter as exc:
        raise ApiError(400, "unknown filter", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "bad filter", str(exc)) from None
    return filters


async def _in_thread(fn: Callable[[], T], timeout: float | None = None) -> T:
    """Run blocking work off the event loop; past ``timeout`` the client gets a 504."""
    if timeout is None:
        return await anyio.to_thread.run_sync(fn)
    try:
        return await asyncio.wait_for(anyio.to_thread.run_sync(fn), timeout)
    except TimeoutError:
        raise ApiError(504, "timed out", f"the work took longer than {timeout:.0f} s") from None


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


def _product_or_404(st: ServiceState, product_id: str) -> Any:
    product = st.catalogue.get(product_id)
    if product is None:
        raise ApiError(404, "unknown product", f"no product with id {product_id!r}")
    return product


def _product_json(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "title": p.title,
        "tags": p.tags,
        "fields": p.fields,
        "image": f"/images/{p.id}",
        "thumbnail": f"/images/{p.id}?size=thumb",
    }


def _neighbours_json(neighbours: list[Any]) -> list[dict[str, Any]]:
    return [{**n.as_dict(), "thumbnail": f"/images/{n.id}?size=thumb"} for n in neighbours]


# -- reads ------------------------------------------------------------------------------
@get("/health", sync_to_thread=False)
def health(request: Request) -> dict[str, Any]:
    st = state_of(request)
    return {
        "status": "ok",
        "products": st.catalogue.count(),
        "indexed": len(st.search.index),
        "model": st.search.index.model,
        "index_version": st.version,
        "writes_enabled": bool(st.config.api_key),
    }


@get("/products/{product_id:str}", sync_to_thread=False)
def get_product(request: Request, product_id: str) -> dict[str, Any]:
    return _product_json(_product_or_404(state_of(request), product_id))


@get("/images/{product_id:str}", sync_to_thread=True)
def get_image(
    request: Request,
    product_id: str,
    size: Annotated[str, Parameter(description="thumb, medium or full")] = "full",
) -> Response[bytes]:
    st = state_of(request)
    product = _product_or_404(st, product_id)
    if size != "full" and size not in THUMB_SIZES:
        raise ApiError(400, "bad size", f"size must be full or one of {sorted(THUMB_SIZES)}")
    if not product.image_path:
        raise ApiError(404, "image missing", f"{product_id!r} has no image")
    cache = st.workspace.cache_dir / "thumbs" / f"{product.image_sha256}-{size}.jpg"
    if size != "full" and cache.is_file():
        return Response(
            cache.read_bytes(),
            media_type="image/jpeg",
            headers={"Cache-Control": "public, max-age=3600"},
        )
    data = _stored_bytes(product)
    try:
        if size == "full":
            with Image.open(io.BytesIO(data)) as probe:  # the header only
                fmt = probe.format or "JPEG"
            return Response(data, media_type=f"image/{fmt.lower()}")
        thumb = decode_bytes(data).image
    except (ImageError, OSError) as exc:
        raise ApiError(410, "image changed", f"the image of {product_id!r}: {exc}") from None
    thumb.thumbnail((THUMB_SIZES[size], THUMB_SIZES[size]))
    with atomic_path(cache) as tmp:
        thumb.save(tmp, "JPEG", quality=85)
    return Response(
        cache.read_bytes(),
        media_type="image/jpeg",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _stored_bytes(product: Any) -> bytes:
    """The product's image file as ingested: 404 when it is gone, 410 when the file at
    that path is no longer the image the catalogue recorded (replaced, truncated)."""
    try:
        data = read_image_file(Path(product.image_path))
    except ImageError as exc:
        if exc.reason == "missing image":
            raise ApiError(
                404, "image missing", f"the image of {product.id!r} is not on disk"
            ) from None
        raise ApiError(410, "image changed", f"the image of {product.id!r}: {exc}") from None
    if product.image_sha256 and hashlib.sha256(data).hexdigest() != product.image_sha256:
        raise ApiError(
            410,
            "image changed",
            f"the file of {product.id!r} changed after ingest; ingest it again",
        )
    return data


@get("/similar/{product_id:str}")
async def similar_to_product(
    request: Request, product_id: str, k: KParam = 10, where: WhereParam = None
) -> dict[str, Any]:
    st = state_of(request)
    filters = _where(st, where)

    def compute(embed: bool) -> dict[str, Any]:
        try:
            query = st.search.query_for_product(product_id, with_image=False, embed=embed)
        except UnknownProduct:
            raise ApiError(404, "unknown product", f"no product with id {product_id!r}") from None
        except NotEmbedded:
            if not embed:
                raise
            raise ApiError(404, "not indexed", f"{product_id!r} has no vector yet") from None
        except ImageError as exc:
            raise ApiError(404, "not indexed", f"{product_id!r}: {exc}") from None
        neighbours = st.search.neighbours(query, k, where=filters)
        return {"query": product_id, "where": filters, "results": _neighbours_json(neighbours)}

    key = ("similar", product_id, k, tuple(sorted((f, tuple(v)) for f, v in filters.items())))
    try:
        # A stored vector and a FAISS search take well under a millisecond: answered on
        # the event loop, which keeps the p99 low (BENCHMARKS.md, service load).
        return st.cached(key, lambda: compute(embed=False))
    except NotEmbedded:
        # Not embedded yet: the model may have to load (seconds), never on the loop.
        return await _in_thread(lambda: st.cached(key, lambda: compute(embed=True)))


@dataclass
class ImageUpload:
    image: UploadFile


@post("/similar", status_code=200)
async def similar_to_image(
    request: Request,
    data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    k: KParam = 10,
    where: WhereParam = None,
) -> dict[str, Any]:
    st = state_of(request)
    filters = _where(st, where)
    image, _ = await read_image(data.image, st.config.max_upload_bytes, st.config.max_pixels)

    def work() -> list[Any]:
        return st.search.neighbours(st.search.query_for_image(image), k, where=filters)

    neighbours = await _in_thread(work)
    return {"query": "upload", "where": filters, "results": _neighbours_json(neighbours)}


@get("/search", sync_to_thread=True)
def search(
    request: Request,
    q: Annotated[str, Parameter(min_length=1, max_length=200, description="Words to find.")],
    k: KParam = 20,
    where: WhereParam = None,
) -> dict[str, Any]:
    st = state_of(request)
    filters = _where(st, where)
    allowed = st.catalogue.keys_matching(filters) if filters else None
    hits = st.catalogue.search_text(q, k, allowed)
    return {
        "query": q,
        "where": filters,
        "results": [{**_product_json(p), "rank": round(r, 4)} for p, r in hits],
    }


@post("/tag", status_code=200)
async def tag(
    request: Request,
    data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    k: KParam = 10,
    attributes: Annotated[
        str, Parameter(description="Pixel attributes: any of colour,shape,ocr.")
    ] = "colour,shape",
    review_threshold: Annotated[
        float | None,
        Parameter(
            ge=0.0,
            le=1.0,
            description="Flag tags below this score for review (default: per-family fitted).",
        ),
    ] = None,
) -> dict[str, Any]:
    st = state_of(request)
    attrs = tuple(a.strip() for a in attributes.split(",") if a.strip())
    unknown = set(attrs) - set(ATTRIBUTES)
    if unknown:
        raise ApiError(
            400, "bad attributes", f"unknown {sorted(unknown)}; choose from {ATTRIBUTES}"
        )
    image, _ = await read_image(data.image, st.config.max_upload_bytes, st.config.max_pixels)
    opts = PipelineOptions(
        k=k,
        attributes=attrs,
        ocr_timeout=st.config.slow_timeout,
        review_threshold=review_threshold,
    )

    def work() -> dict[str, Any]:
        result = st.pipeline.run(st.search.query_for_image(image), image, opts)
        out = result.as_dict()
        out["neighbours"] = _neighbours_json(result.neighbours)
        return out

    return await _in_thread(work, st.config.slow_timeout + 5 if "ocr" in attrs else None)


@get("/describe/status", sync_to_thread=False)
def describe_status(request: Request) -> dict[str, Any]:
    """Whether the describer is ready: off, idle, loading (its model), ready or failed."""
    return dict(state_of(request).describer_state)


@dataclass
class DescribeForm:
    image: UploadFile | None = None
    product_id: str | None = None
    title: str | None = None
    brand: str | None = None
    gender: str | None = None
    colour: str | None = None
    length: str = "house"
    tone: str = "neutral"
    k: int = 5
    force: bool = False  # describe an out-of-domain photo anyway


@post("/describe", status_code=200)
async def describe(
    request: Request,
    data: Annotated[DescribeForm, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> dict[str, Any]:
    from tagging.describe.backends import BackendError
    from tagging.describe.catalogue import DescribeRequest, OutOfDomain
    from tagging.describe.writer import DescribeOptions

    st = state_of(request)
    if not st.config.describe_enabled:
        raise ApiError(503, "descriptions are off", "this server runs with SHELFSIGHT_DESCRIBE=0")
    try:
        opts = DescribeOptions(length=data.length, tone=data.tone, timeout=st.config.slow_timeout)
    except ValueError as exc:
        raise ApiError(400, "bad control", str(exc)) from None
    if not 1 <= int(data.k) <= 20:
        raise ApiError(400, "bad k", "k must be between 1 and 20")
    fields = {
        n: v
        for n, v in (
            ("title", data.title),
            ("brand", data.brand),
            ("gender", data.gender),
            ("colour", data.colour),
        )
        if v
    }
    upload = data.image if isinstance(data.image, UploadFile) else None
    image = None
    if upload is not None:
        image, _ = await read_image(upload, st.config.max_upload_bytes, st.config.max_pixels)
    elif data.product_id:
        _product_or_404(st, data.product_id)
    elif not data.title:
        raise ApiError(400, "nothing to describe", "send an image, a product_id or a title")

    def work() -> dict[str, Any]:
        describer = st.describer()
        if image is not None:
            query = st.search.query_for_image(image)
            return describer.describe_query(
                query, DescribeRequest(fields=fields, k=data.k, force=data.force), opts
            ).as_dict()
        req = DescribeRequest(target=data.product_id, fields=fields, k=data.k)
        return describer.describe(req, opts).as_dict()

    try:
        return await _in_thread(work, st.config.slow_timeout + 30)  # + model load
    except BackendError as exc:
        raise ApiError(502, "description model failed", str(exc)) from None
    except OutOfDomain as exc:
        raise ApiError(422, "out of domain", str(exc)) from None


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
    if "tags" in raw:
        out["tags"] = {k: str(v) for k, v in tags.items() if str(v).strip()}
    fields = {k: v for k, v in raw.items() if k not in ("id", "title", "tags", "image")}
    if fields:
        out["fields"] = fields
    return out


@post("/products", guards=[require_api_key], status_code=201)
async def add_products(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    mode: Annotated[
        str,
        Parameter(
            description="replace (default): each listing is the product's whole record; "
            "merge: sent fields overwrite, the rest (and the image, if none is sent) stay."
        ),
    ] = "replace",
) -> Response[dict[str, Any]]:
    """Multipart: ``listings`` = a JSON object or array (each with ``id``, ``title``,
    ``tags``, and ``image`` naming its file part, default ``image``) plus the file parts.
    201 when something was written; 422 with each listing's reason when nothing was."""
    st = state_of(request)
    if mode not in WRITE_MODES:
        raise ApiError(400, "bad mode", f"mode must be one of {', '.join(WRITE_MODES)}")
    raw = data.get("listings")
    if not isinstance(raw, str):
        raise ApiError(400, "missing listings", "send a 'listings' form field with JSON")
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
    skipped: list[dict[str, str]] = []
    for item in listings:
        upload = data.get(item["image"])
        try:
            if not isinstance(upload, UploadFile):
                if mode == "merge" and st.catalogue.get(item["id"]) is not None:
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
            skipped.append({"id": item["id"], "reason": exc.extra["error"], "detail": exc.detail})
    results = await _in_thread(lambda: st.add(accepted, images, mode)) if accepted else []
    body = {"results": results, "skipped": skipped, "index_version": st.version}
    return Response(body, status_code=201 if results else 422)


@delete("/products/{product_id:str}", guards=[require_api_key], status_code=200)
async def delete_product(request: Request, product_id: str) -> dict[str, Any]:
    st = state_of(request)
    product = await _in_thread(lambda: st.delete(product_id))
    if product is None:
        raise ApiError(404, "unknown product", f"no product with id {product_id!r}")
    return {"deleted": product_id, "index_version": st.version}


# -- page -------------------------------------------------------------------------------
@get("/", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=False)
def page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


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


def _image_error(_: Request, exc: ImageError) -> Response[dict[str, Any]]:
    return _http_error(_, image_error(exc))


def _unknown(_: Request, exc: UnknownProduct) -> Response[dict[str, Any]]:
    return _http_error(_, ApiError(404, "unknown product", str(exc)))


def _disk_full(request: Request, exc: DiskFull) -> Response[dict[str, Any]]:
    log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
    return _http_error(request, ApiError(507, "disk full", f"{exc.strerror}; nothing was changed"))


def _share_cores(workers: int) -> None:
    """Each worker gets its share of the cores: oversubscribed OpenMP/torch threads spin
    against each other and against the event loop, which shows up as tail latency."""
    import faiss
    import torch

    share = max(1, (os.cpu_count() or 1) // max(workers, 1))
    torch.set_num_threads(share)
    # A single query against a flat index gains nothing from OpenMP threads.
    faiss.omp_set_num_threads(1)


def create_app(config: ServiceConfig | None = None) -> Litestar:
    config = config or ServiceConfig.from_env()
    _share_cores(int(os.environ.get("SHELFSIGHT_WORKERS", "1")))
    if not logging.getLogger().handlers:  # a uvicorn worker process: same quiet logfmt
        from service import logs

        logs.configure(0)
    app = Litestar(
        route_handlers=[
            health,
            get_product,
            get_image,
            similar_to_product,
            similar_to_image,
            search,
            tag,
            describe,
            describe_status,
            add_products,
            delete_product,
            page,
            create_static_files_router(path="/static", directories=[STATIC]),
        ],
        openapi_config=OpenAPIConfig(title="Shelfsight", version="0.1.0", path="/schema"),
        exception_handlers={
            HTTPException: _http_error,
            ImageError: _image_error,
            UnknownProduct: _unknown,
            DiskFull: _disk_full,
            UnicodeDecodeError: _bad_encoding,
            Exception: _internal_error,
        },
        request_max_body_size=config.max_upload_bytes * 2 + 1024 * 1024,
        middleware=[BodyDeadline.factory(config.body_timeout)],
        multipart_form_part_limit=210,
        on_startup=[_warm_describer],
    )
    app.state.shelfsight = ServiceState(config)
    return app


def _warm_describer(app: Litestar) -> None:
    # In the background: the server answers /tag and /similar while a model loads.
    threading.Thread(
        target=app.state.shelfsight.warm_describer, name="describer-warm-up", daemon=True
    ).start()
