"""What a product id may be: the merchant's own, but never a path or control characters.

One rule for every way in (CSV ingest, the HTTP API): an id that ingest accepted must be
reachable as ``/products/{id}``, and no id may name a file outside the image folder.
"""

from __future__ import annotations

import json
import re
from typing import Any

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
ID_RULE = "1-128 letters, digits or ._:- starting with a letter or digit"


def is_valid_id(product_id: str) -> bool:
    return bool(ID_PATTERN.match(product_id))


def loads_json(text: str) -> Any:
    """``json.loads`` whose every failure is a ``ValueError``: thousands of nested
    brackets make the parser raise ``RecursionError``, which must not escape as a crash."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
