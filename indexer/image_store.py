"""Photos added through the API live in the workspace, named by their content's hash
(``images/ab/<sha256>.jpg``), with their thumbnails in ``cache/thumbs``. A photo no product
holds any more (its product deleted, or given a new photo) is removed with its thumbnails,
after the write that dropped it has committed; a sweep at start-up removes what a crash
between the two left behind.

Ingested photos stay where the merchant keeps them: only this store is ever cleaned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.workspace import Workspace


def _unused_files(workspace: Workspace, catalogue: Catalogue, sha256: str) -> list[Path]:
    held = {str(p) for p in catalogue.image_paths_with_sha(sha256)}
    # The same picture may also be ingested from the merchant's folder: that product
    # keeps the thumbnails, not the stored copy.
    stored = [
        p
        for p in (workspace.home / "images" / sha256[:2]).glob(f"{sha256}.*")
        if str(p) not in held
    ]
    thumbs = [] if held else list((workspace.cache_dir / "thumbs").glob(f"{sha256}-*.jpg"))
    return [*stored, *thumbs]


def forget(workspace: Workspace, catalogue: Catalogue, shas: Iterable[str | None]) -> int:
    """Remove the stored photos (and thumbnails) of ``shas`` that no product holds;
    the number of files removed. Call under the writer lock, after the commit."""
    removed = 0
    for sha in {s for s in shas if s}:
        for path in _unused_files(workspace, catalogue, sha):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


def sweep(workspace: Workspace, catalogue: Catalogue) -> int:
    """``forget`` every photo in the store and every thumbnail: what no product holds goes."""
    shas = {p.name.split(".")[0] for p in (workspace.home / "images").glob("*/*") if p.is_file()}
    shas |= {p.name.split("-")[0] for p in (workspace.cache_dir / "thumbs").glob("*.jpg")}
    return forget(workspace, catalogue, shas)
