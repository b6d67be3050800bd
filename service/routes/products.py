"""Products: one product's record and photo, and the writes (add or update, delete),
which need the API key."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter

from shelfsight.core.errors import Skip
from shelfsight.core.settings import MB
from shelfsight.indexer.listings import check_mode, check_unique, listing_from_json
from shelfsight.indexer.photo_ids import MAX_PHOTOS
from shelfsight.indexer.product_ids import loads_json
from shelfsight.library import Shelfsight
from shelfsight.service.http.deps import API_KEY, in_thread, linked, require_api_key
from shelfsight.service.http.responses import (
    ERROR_RESPONSES,
    WRITTEN_NOTHING,
    Deleted,
    WriteStatus,
    Written,
)
from shelfsight.service.http.state import ServiceState
from shelfsight.service.http.uploads import ApiError, read_image
from shelfsight.tagging.results import ProductInfo

MAX_LISTINGS = 100
MAX_LISTINGS_BYTES = 2 * MB
ModeParam = Annotated[
    str,
    Parameter(
        max_length=10,
        description="replace (default): each listing is the product's whole record; "
        "merge: sent fields overwrite, the rest (and the image, if none is sent) stay.",
    ),
]


class ProductController(Controller):
    path = "/products"
    tags = ("products",)

    @get(
        "/{product_id:str}",
        sync_to_thread=False,
        responses=ERROR_RESPONSES,
        summary="Get a product",
    )
    def get_product(self, shelf: Shelfsight, product_id: str) -> ProductInfo:
        """One catalogue product: its tags, fields, image link and every photo's link
        (``photos``: the first, then its other views)."""
        product: ProductInfo = linked([ProductInfo.from_product(shelf.product(product_id))])[0]
        base = f"/images/{quote(product_id, safe='')}?size=medium"
        product.photos = [base] + [f"{base}&photo={p.position}" for p in shelf.photos(product_id)]
        return product

    @post(
        "/",
        guards=[require_api_key],
        security=API_KEY,
        status_code=201,
        responses={**ERROR_RESPONSES, 422: WRITTEN_NOTHING},
        summary="Add products",
    )
    async def add_products(
        self,
        service: ServiceState,
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
        mode: ModeParam = "replace",
    ) -> Response[Written]:
        """Multipart: ``listings`` = a JSON object or array (each with ``id``, ``title``,
        ``tags``, and ``image`` naming its file part, default ``image``) plus the file
        parts. 201 when something was written; 422 with each listing's reason when
        nothing was."""
        shelf, settings = service.shelf, service.settings
        check_mode(mode)  # refused before any upload is read
        raw = data.get("listings")
        if not isinstance(raw, str):
            raise ApiError(400, "missing listings", "send a 'listings' form field with JSON")
        if len(raw) > MAX_LISTINGS_BYTES:
            limit = MAX_LISTINGS_BYTES // MB
            raise ApiError(400, "field too long", f"listings: at most {limit} MB of JSON")
        try:
            parsed = loads_json(raw)
        except ValueError as exc:
            raise ApiError(400, "bad JSON", f"listings: {getattr(exc, 'msg', exc)}") from None
        items = parsed if isinstance(parsed, list) else [parsed]
        if not items or len(items) > MAX_LISTINGS:
            raise ApiError(400, "bad listings", f"send 1 to {MAX_LISTINGS} listings per request")
        listings = [listing_from_json(x, i) for i, x in enumerate(items)]
        check_unique([x["id"] for x in listings])
        accepted: list[dict[str, Any]] = []
        images: list[Any] = []
        skipped: list[Skip] = []
        for item in listings:
            fields = item.get("fields") or {}
            part = str(fields.pop("image", None) or "image")  # the file part it names
            if not fields:
                item.pop("fields", None)
            upload = data.get(part)
            try:
                if not isinstance(upload, UploadFile):
                    if mode == "merge" and shelf.catalogue.get(item["id"]) is not None:
                        images.append(None)  # keeps its image and vector
                        accepted.append(item)
                        continue
                    raise ApiError(400, "missing image", f"no file part named {part!r}")
                limits = (settings.max_upload_bytes, settings.max_pixels)
                images.append(await read_image(upload, *limits, part))
                accepted.append(item)
            except ApiError as exc:
                skipped.append(Skip(exc.error, exc.detail, id=item["id"]))
        done = await in_thread(lambda: shelf.add(accepted, images, mode)) if accepted else []
        body = Written([WriteStatus(**r) for r in done], skipped, shelf.version)
        return Response(body, status_code=201 if done else 422)

    @delete(
        "/{product_id:str}",
        guards=[require_api_key],
        security=API_KEY,
        status_code=200,
        responses=ERROR_RESPONSES,
        summary="Delete a product",
    )
    async def delete_product(self, shelf: Shelfsight, product_id: str) -> Deleted:
        """Remove a product from the catalogue and the index (API key); a new index
        version is published atomically."""
        await in_thread(lambda: shelf.delete(product_id))
        return Deleted(product_id, shelf.version)


class ImageController(Controller):
    path = "/images"
    tags = ("products",)

    @get(
        "/{product_id:str}",
        sync_to_thread=True,
        media_type="image/jpeg",
        responses=ERROR_RESPONSES,
        summary="A product's photo",
    )
    def get_image(
        self,
        shelf: Shelfsight,
        product_id: str,
        size: Annotated[
            str, Parameter(max_length=10, description="thumb (256 px), medium (640 px) or full")
        ] = "full",
        photo: Annotated[
            int,
            Parameter(
                ge=0, le=MAX_PHOTOS, description="0: the product's photo; n: its n-th other view"
            ),
        ] = 0,
    ) -> Response[bytes]:
        """The photo of a catalogue product (or another view of it), as stored."""
        data, media_type = shelf.image(product_id, size, photo)
        headers = {"Cache-Control": "public, max-age=3600"} if size != "full" else {}
        return Response(data, media_type=media_type, headers=headers)
