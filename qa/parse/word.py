"""Word documents (.docx), read with python-docx: the body's paragraphs and tables in order.

A paragraph styled ``Title`` or ``Heading 1``-``Heading 9`` (or with an outline level) is a
heading line, a ``List ...`` paragraph a list item, a table one ``Header: value; ...`` paragraph
per row (``qa.parse.blocks``). Page headers and footers, comments and text boxes are left out:
running heads and page furniture, like a PDF's.
"""

from __future__ import annotations

import io
import re
from typing import Any

from qa.parse.blocks import TextBuilder

_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)


def _level(paragraph: Any) -> int:
    """The heading level of a paragraph (0: not a heading)."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 1
    m = _HEADING_STYLE.fullmatch(name.strip())
    if m:
        return int(m.group(1))
    return 0


def _table(table: Any) -> list[list[str]]:
    """A table's rows of cell texts; a merged cell counts once per row."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a horizontally merged cell is returned once per grid column
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text)
        rows.append(cells)
    return rows


def parse_docx(data: bytes) -> tuple[TextBuilder, str | None]:
    """The text of a .docx and its title (the document's Title property, else its first heading).

    Raises what python-docx raises for a file that is not a Word document (the caller words it)."""
    import docx

    document = docx.Document(io.BytesIO(data))
    out = TextBuilder()
    first_heading: str | None = None
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            out.table(_table(block))
            continue
        text = block.text
        level = _level(block)
        if level:
            out.heading(text, level)
            first_heading = first_heading or (" ".join(text.split()) or None)
            continue
        style = block.style.name if block.style is not None else ""
        if style and style.lower().startswith("list"):
            out.item(text, "1." if "number" in style.lower() else "-")
        else:
            out.paragraph(text)
    title = (document.core_properties.title or "").strip() or first_heading
    return out, title
