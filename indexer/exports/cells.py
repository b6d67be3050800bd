"""Spreadsheet-safe cells. A cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR
is run as a formula by Excel, LibreOffice and Google Sheets (CSV injection, OWASP); such a
cell is written with a leading apostrophe, which every one of them shows as text. Values
ingest accepted never start so (``tag_names.value_problem``), but titles, SKUs and
descriptions are free text."""

from __future__ import annotations

from typing import Any

from shelfsight.indexer.tag_names import FORMULA_START


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A feed is one record per line: a newline inside a value would split it.
    text = text.replace("\r", " ").replace("\n", " ")
    return "'" + text if text.startswith(FORMULA_START) else text
