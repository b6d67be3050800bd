"""A listing's other photos (its second and later views): named in a ``photos`` column (a
list, or a comma-separated cell) as URLs or paths, resolved like the first photo, checked
like it, and stored in order behind it (``photo_rows``). One that cannot be used is a
skip of that photo only: the product keeps the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from shelfsight.indexer.formats.cells import split_list
from shelfsight.indexer.images import ImageError, decode_file
from shelfsight.indexer.photo_ids import MAX_PHOTOS
from shelfsight.indexer.photo_rows import Photo

Source = Path | str  # a file, or a URL to fetch


def other_sources(
    value: Any, main: Source, resolve: Callable[[str], Source]
) -> tuple[list[tuple[str, Source]], list[ImageError]]:
    """(as named, resolved) for each other photo in ``value`` (the main photo and repeats
    left out, at most ``MAX_PHOTOS - 1``), and why any could not be resolved."""
    out: list[tuple[str, Source]] = []
    problems: list[ImageError] = []
    for raw in split_list(value):
        if len(out) >= MAX_PHOTOS - 1:
            break
        try:
            source = resolve(raw)
        except ImageError as exc:
            problems.append(exc)
            continue
        if source != main and source not in [s for _, s in out]:
            out.append((raw, source))
    return out, problems


def probe(path: Path) -> tuple[str, int, int] | ImageError:
    """(sha256, width, height) of a photo file that decodes, else why not."""
    try:
        image = decode_file(path)
    except ImageError as exc:
        return exc
    return image.sha256, image.width, image.height


def as_photos(found: list[tuple[str, Path, tuple[str, int, int]]]) -> list[Photo]:
    """The usable other photos, numbered from 1 in the listing's order."""
    return [
        Photo(n, str(path.resolve()), sha, w, h, raw)
        for n, (raw, path, (sha, w, h)) in enumerate(found, start=1)
    ]
