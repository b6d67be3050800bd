"""Measuring Shelfsight on a labelled catalogue: ``shelfsight eval tagging`` and ``eval
describe``. Each builds its own scratch workspace from the catalogue rows (queries never
enter it), so neither needs an open one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch, transformers...: imported on use
    from shelfsight.tagging.evaluation.describe import DescribeEvalOptions
    from shelfsight.tagging.evaluation.tagging import TaggingEvalOptions


def evaluate_tagging(
    catalog: str | os.PathLike[str],
    images: str | os.PathLike[str],
    options: TaggingEvalOptions | None = None,
) -> list[dict[str, Any]]:
    """Tag held-out products of a labelled catalogue as new ones and score them, one
    result per grid point of ``options`` (``tagging.evaluation.tagging``)."""
    from shelfsight.tagging.evaluation.tagging import TaggingEvalOptions
    from shelfsight.tagging.evaluation.tagging import evaluate_tagging as run

    return run(Path(catalog), Path(images), options or TaggingEvalOptions(progress=False))


def evaluate_describe(
    catalog: str | os.PathLike[str],
    backend: str = "edit",
    backend_options: Mapping[str, Any] | None = None,
    options: DescribeEvalOptions | None = None,
) -> dict[str, Any]:
    """Describe held-out listings of a catalogue with ``backend`` and score them against
    their real texts, next to a neighbour copy and a template
    (``tagging.evaluation.describe``)."""
    from shelfsight.tagging.describe.backends import load_backend
    from shelfsight.tagging.evaluation.describe import evaluate_describe as run

    return run(Path(catalog), load_backend(backend, **dict(backend_options or {})), options)
