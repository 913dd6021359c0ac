"""Tables: spreadsheets (.xlsx, read with openpyxl) and delimited text (.csv, .tsv).

Each row is written as one paragraph naming its columns, ``Name: Ada; Born: 1815; Field:
mathematics`` (``qa.parse.blocks.table_rows``): the first row with any text is the header. So a
row is one sentence, found by its words and its column names, and a citation quotes the row whole
with what its values mean. A workbook's sheets are sections headed by their names.

Cells are their values as shown: a formula its last computed value (``data_only``), a whole
number without ``.0``, a date as ``2024-05-01`` (with the time when it has one).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from qa.errors import InvalidInput
from qa.parse.blocks import TextBuilder
from qa.parse.content import decode

_DELIMITERS = ",;\t|"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def parse_xlsx(data: bytes) -> tuple[TextBuilder, str | None]:
    """The rows of every worksheet, each sheet under a heading of its name, and the workbook's
    Title property.

    Raises what openpyxl raises for a file that is not a workbook (the caller words it)."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        out = TextBuilder()
        for sheet in book.worksheets:
            rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            if any(any(r) for r in rows):
                out.heading(sheet.title, 1)
                out.table(rows)
        title = (book.properties.title or "").strip() or None
    finally:
        book.close()
    return out, title


def parse_csv(data: bytes, filename: str, tab: bool) -> TextBuilder:
    """The rows of a .csv (delimiter guessed among , ; tab and |) or a .tsv, in any common encoding.

    Raises:
        InvalidInput: not text, or not readable as delimited rows.
    """
    text, _ = decode(data, filename)
    if tab:
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as e:
        raise InvalidInput(f"'{filename}' could not be read as delimited rows ({e}); check the file") from None
    out = TextBuilder()
    out.table(rows)
    if not out.text.strip():
        raise InvalidInput(f"'{filename}' is empty: nothing to index")
    return out
