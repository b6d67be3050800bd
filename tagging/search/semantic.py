"""Semantic search over the catalogue's titles: all-MiniLM-L6-v2 sentence vectors in a
FAISS inner-product index, kept in step with the catalogue.

"formal footwear for office" shares no word with "Men Black Formal Shoes", but their
vectors are close. The vectors are cached under the workspace (one file per set of
titles); after a write only the titles not seen before are encoded.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from shelfsight.indexer.catalogue import Catalogue
from shelfsight.indexer.workspace import Workspace, atomic_path
from shelfsight.tagging.search.text_encoder import TEXT_MODEL, TitleEncoder, TitleIndex


class TitleSearch:
    def __init__(
        self, workspace: Workspace, catalogue: Catalogue, encoder: TitleEncoder | None = None
    ) -> None:
        self.workspace = workspace
        self.catalogue = catalogue
        self.encoder = encoder or TitleEncoder()
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._index: TitleIndex | None = None
        self._keys: list[int] = []

    def index(self, progress: bool = False) -> tuple[TitleIndex, list[int]]:
        """The title index and the product key of each of its rows, as of now."""
        with self._lock:
            stamp = self.catalogue.generation()
            if self._index is None or stamp != self._stamp:
                self._build(progress)
                self._stamp = stamp
            assert self._index is not None
            return self._index, self._keys

    def _build(self, progress: bool) -> None:
        rows = self.catalogue.titles()
        titles = [t for _, t in rows]
        digest = hashlib.sha256("\n".join(titles).encode()).hexdigest()[:16]
        cache = self.workspace.title_vectors(TEXT_MODEL, digest)
        try:
            vectors = np.load(cache)
        except FileNotFoundError:  # (another worker may have just replaced it)
            known: dict[str, np.ndarray] = {}
            if self._index is not None:  # a write: keep what is encoded already
                known = dict(zip(self._index.titles, self._index.vectors, strict=True))
            todo = [t for t in dict.fromkeys(titles) if t not in known]
            if todo:
                known.update(zip(todo, self.encoder.encode(todo, progress=progress), strict=True))
            dim = next(iter(known.values())).shape[0] if known else 384
            vectors = np.stack([known[t] for t in titles]) if titles else np.zeros((0, dim))
            vectors = vectors.astype(np.float32)
            cache.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
                np.save(fh, vectors)
            # One file per set of titles: the previous sets are of no use any more (each
            # is a full copy: ~1.5 GB at 1M products).
            for stale in cache.parent.glob(cache.name.rsplit("-", 1)[0] + "-*.npy"):
                if stale != cache:
                    stale.unlink(missing_ok=True)
        self._index = TitleIndex(titles, self.encoder, vectors)
        self._keys = [k for k, _ in rows]

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(product key, cosine similarity) of the titles nearest ``query``, best first;
        only keys in ``allowed`` when it is given."""
        index, keys = self.index()
        if not keys:
            return []
        keep = None if allowed is None else {int(x) for x in allowed}
        # A filter can leave few of the nearest: look further, then keep the allowed ones.
        depth = len(keys) if keep is not None else min(k, len(keys))
        sims, rows = index.search([query], depth)
        out = []
        for sim, row in zip(sims[0], rows[0], strict=True):
            if row < 0:
                continue
            key = keys[int(row)]
            if keep is None or key in keep:
                out.append((key, float(sim)))
            if len(out) >= k:
                break
        return out
