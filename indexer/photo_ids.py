"""Index ids for a product's several photos. A product's first photo is indexed under
the product's key, as it always was; its n-th other photo under ``key | n << 40``, so an
index id maps back to its product with a mask, and an index built before products had
several photos reads the same. Keys stay far below 2**40 (a trillion products)."""

from __future__ import annotations

import numpy as np

PHOTO_SHIFT = 40
KEY_MASK = (1 << PHOTO_SHIFT) - 1
# The first photo and up to seven more are indexed (Google feeds allow ten additional
# images; past a few views, more of one product only crowds the neighbours).
MAX_PHOTOS = 8


def photo_id(key: int, position: int) -> int:
    """The index id of photo ``position`` (0 = the product's own photo) of ``key``."""
    return int(key) | (int(position) << PHOTO_SHIFT)


def product_keys(ids: np.ndarray) -> np.ndarray:
    """Index ids -> product keys (``-1`` and tombstones stay as they are)."""
    ids = np.asarray(ids, dtype=np.int64)
    return np.where(ids >= 0, ids & KEY_MASK, ids)


def positions(ids: np.ndarray) -> np.ndarray:
    return np.asarray(ids, dtype=np.int64) >> PHOTO_SHIFT
