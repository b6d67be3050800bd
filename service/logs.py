"""One log format for Shelfsight and every library under it: logfmt on stderr.

Quiet by default (warnings and errors); ``-v`` adds what happens (an access line per HTTP
request, model loads with their time, skipped items), ``-vv`` debug output, including the
libraries'. Python warnings become log records too, so they share the format.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

# Libraries that narrate at INFO (model loading, HTTP clients): heard only at -vv.
CHATTY = (
    "PIL",
    "timm",
    "faiss",
    "urllib3",
    "httpx",
    "httpcore",
    "sentence_transformers",
    "transformers",
    "easyocr",
    "filelock",
    "asyncio",
    "multipart",
)


# Every control character (C0, DEL, C1) plus the separators logfmt itself uses: a raw
# ESC or CR in a client's path could repaint a terminal or forge a log line.
_NEEDS_QUOTES = re.compile(r'[\s="\x00-\x1f\x7f-\x9f]')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPED = re.compile(r'[\\"\x00-\x1f\x7f-\x9f\u2028\u2029]')


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    return _ESCAPES.get(c) or f"\\u{ord(c):04x}"


def _value(v: Any) -> str:
    text = str(v)
    if text == "" or _NEEDS_QUOTES.search(text):
        return '"' + _ESCAPED.sub(_escape, text) + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg="..." key=value ...``: fields passed as
    ``extra={"fields": {...}}`` become keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        parts = {
            "ts": f"{ts}.{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        parts.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            parts["exc"] = self.formatException(record.exc_info)
        return " ".join(f"{k}={_value(v)}" for k, v in parts.items())


_verbosity = 0


def verbosity() -> int:
    """The -v count this process was configured with (``serve`` hands it to its workers)."""
    return _verbosity


def configure(verbosity: int = 0) -> None:
    global _verbosity
    _verbosity = verbosity
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # `warnings.warn` -> logger py.warnings, same format
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    # uvicorn's own loggers carry their handlers unless told otherwise: ours instead. Its
    # access lines have no duration; ours (shelfsight.access) replace them.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
