"""What the routes are given: the process's ``ServiceState`` and its library
``Shelfsight`` (through Litestar's ``Provide``), the API-key guard, and the parameters and
helpers several resources share."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.params import Parameter

from shelfsight.library import Shelfsight
from shelfsight.service.http.state import ServiceState

T = TypeVar("T")
MAX_K = 100

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
RefineParam = Annotated[
    str | None,
    Parameter(
        max_length=200,
        description='Refine in words ("but in red, for women"): the tag values named join '
        "where; words naming none come back as ignored.",
    ),
]


def provide_service(request: Request[Any, Any, Any]) -> ServiceState:
    st: ServiceState = request.app.state.shelfsight
    st.shelf.refresh()  # another process may have published a new index version
    return st


def provide_shelf(service: ServiceState) -> Shelfsight:
    return service.shelf


# Given to every handler that names them: ``service`` (settings, cache, slow slots) and
# ``shelf`` (the library, at the newest index version).
DEPENDENCIES = {
    "service": Provide(provide_service, sync_to_thread=False),
    "shelf": Provide(provide_shelf, sync_to_thread=False),
}


# The OpenAPI security of a handler that ``require_api_key`` guards (the scheme is declared
# in the app's OpenAPI config): Swagger's "Authorize" then sends the key.
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}]
# Open, but the key is needed for some of what it can do (``keep=true``).
OPTIONAL_API_KEY: list[dict[str, list[str]]] = [{}, *API_KEY]


def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    expected = connection.app.state.shelfsight.settings.api_key
    if not expected:
        raise PermissionDeniedException("write endpoints are disabled: set SHELFSIGHT_API_KEY")
    given = connection.headers.get("x-api-key", "")
    auth = connection.headers.get("authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthorizedException("missing or wrong API key (X-API-Key header)")


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking work off the event loop (slow work goes through ``slow_work``)."""
    return await anyio.to_thread.run_sync(fn)


def linked(items: list[Any]) -> list[Any]:
    """Products in an answer get the URLs the page fetches their photos from."""
    for item in items:
        item.thumbnail = f"/images/{item.id}?size=thumb"
        if hasattr(item, "image"):
            item.image = f"/images/{item.id}"
    return items


@dataclass
class ImageUpload:
    image: UploadFile
