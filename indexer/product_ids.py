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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (a tag or field cannot be {name})")


def loads_json(text: str) -> Any:
    """``json.loads`` whose every failure is a ``ValueError``: thousands of nested
    brackets make the parser raise ``RecursionError``, which must not escape as a crash.
    ``NaN`` and ``Infinity``, which Python's parser accepts, are refused: they became the
    tag value "nan" and fields that read back as null."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
