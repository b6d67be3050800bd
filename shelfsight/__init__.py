"""Shelfsight: tag, find and describe e-commerce products from their photos.

    import shelfsight

    s = shelfsight.open("shelfsight-data")      # a workspace made by `shelfsight ingest`
    r = s.tag("photo.jpg")                      # a path, bytes, a PIL image or an array
    r.tags["articleType"].value, r.tags["articleType"].score
    s.similar("15970", k=5).results             # a product id or a photo
    s.describe("photo.jpg").text

Everything is imported on first use, so ``import shelfsight`` stays cheap (no torch); the
errors are plain classes and come at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shelfsight.core.errors import (
    BackendError,
    BadInput,
    Busy,
    ModelError,
    NotFound,
    NotIndexed,
    OutOfDomain,
    ShelfsightError,
    Skip,
    StorageError,
)

__version__ = "0.1.0"

# name -> module it lives in, imported when the name is first used.
_LAZY = {
    "open": "shelfsight.library",
    "Shelfsight": "shelfsight.library",
    "TagResult": "shelfsight.tagging.results",
    "Tag": "shelfsight.tagging.results",
    "Alternative": "shelfsight.tagging.results",
    "Match": "shelfsight.tagging.results",
    "Colours": "shelfsight.tagging.results",
    "SimilarResult": "shelfsight.tagging.results",
    "SimilarProduct": "shelfsight.tagging.results",
    "SearchResult": "shelfsight.tagging.results",
    "ProductInfo": "shelfsight.tagging.results",
    "Description": "shelfsight.tagging.describe.writer",
    "ColumnOptions": "shelfsight.indexer.ingest",
    "FetchOptions": "shelfsight.indexer.remote_photos.fetch",
    "evaluate_tagging": "shelfsight.evaluation",
    "evaluate_describe": "shelfsight.evaluation",
    "TaggingEvalOptions": "shelfsight.tagging.evaluation.tagging",
    "DescribeEvalOptions": "shelfsight.tagging.evaluation.describe",
    "PipelineOptions": "shelfsight.tagging.neighbour_tags.pipeline",
    "DescribeOptions": "shelfsight.tagging.describe.writer",
}

__all__ = [
    "Alternative",
    "BackendError",
    "BadInput",
    "Busy",
    "Colours",
    "ColumnOptions",
    "DescribeEvalOptions",
    "DescribeOptions",
    "Description",
    "FetchOptions",
    "Match",
    "ModelError",
    "NotFound",
    "NotIndexed",
    "OutOfDomain",
    "PipelineOptions",
    "ProductInfo",
    "SearchResult",
    "Shelfsight",
    "ShelfsightError",
    "SimilarProduct",
    "SimilarResult",
    "Skip",
    "StorageError",
    "Tag",
    "TagResult",
    "TaggingEvalOptions",
    "__version__",
    "evaluate_describe",
    "evaluate_tagging",
    "open",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shelfsight' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from shelfsight.evaluation import evaluate_describe, evaluate_tagging
    from shelfsight.indexer.ingest import ColumnOptions
    from shelfsight.indexer.remote_photos.fetch import FetchOptions
    from shelfsight.library import Shelfsight, open
    from shelfsight.tagging.describe.writer import DescribeOptions, Description
    from shelfsight.tagging.evaluation.describe import DescribeEvalOptions
    from shelfsight.tagging.evaluation.tagging import TaggingEvalOptions
    from shelfsight.tagging.neighbour_tags.pipeline import PipelineOptions
    from shelfsight.tagging.results import (
        Alternative,
        Colours,
        Match,
        ProductInfo,
        SearchResult,
        SimilarProduct,
        SimilarResult,
        Tag,
        TagResult,
    )
