"""OpenDocument text (.odt): headings (``text:h``, with their outline level), paragraphs, list
items and tables of the body (``content.xml``) in order. Frames, annotations, notes, and the page
styles' headers and footers are left out.

Read with the standard library (``qa.parse.xmlzip``): the format is one XML part whose elements
map one to one onto ``qa.parse.blocks``; odfpy, the Python library for it, adds a DOM of its own
and has not been released since 2020 (the tests use its writer to make real files).
"""

from __future__ import annotations

import io
import zipfile
from xml.etree.ElementTree import Element

from qa.parse.blocks import TextBuilder
from qa.parse.xmlzip import parse_part

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"
# Inline elements whose text is not part of the sentence around them.
_SKIP_INLINE = frozenset({f"{_OFFICE}annotation", f"{_TEXT}note", f"{_TEXT}bookmark-ref"})
# Containers whose children are walked as blocks.
_CONTAINERS = frozenset(
    {f"{_TEXT}list", f"{_TEXT}section", f"{_TEXT}list-header", f"{_TABLE}table-header-rows", f"{_OFFICE}text"}
)


def _text(node: Element) -> str:
    """The text of a paragraph or heading: spaces (``text:s``), tabs and line breaks included."""
    parts: list[str] = [node.text or ""]
    for child in node:
        tag = child.tag
        if tag == f"{_TEXT}s":
            parts.append(" " * min(int(child.get(f"{_TEXT}c") or 1), 1000))
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag == f"{_TEXT}line-break":
            parts.append("\n")
        elif tag not in _SKIP_INLINE:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _table(table: Element) -> list[list[str]]:
    rows = []
    for row in table.iter(f"{_TABLE}table-row"):
        cells: list[str] = []
        for cell in row:
            if cell.tag in (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"):
                text = " ".join(_text(p) for p in cell if p.tag == f"{_TEXT}p")
                repeat = min(int(cell.get(f"{_TABLE}number-columns-repeated") or 1), 100)
                cells += [text] * repeat
        rows.append(cells)
    return rows


def _walk(node: Element, out: TextBuilder, item: bool = False) -> None:
    for child in node:
        tag = child.tag
        if tag == f"{_TEXT}h":
            out.heading(_text(child), int(child.get(f"{_TEXT}outline-level") or 1))
        elif tag == f"{_TEXT}p":
            (out.item if item else out.paragraph)(_text(child))
            item = False  # a list item's further paragraphs are its continuation
        elif tag == f"{_TEXT}list-item":
            _walk(child, out, item=True)
        elif tag == f"{_TABLE}table":
            out.table(_table(child))
        elif tag in _CONTAINERS:
            _walk(child, out, item)


def parse_odt(data: bytes, filename: str) -> tuple[TextBuilder, str | None]:
    """The text of an .odt and its title (the document's title property, else its first heading).

    Raises:
        InvalidInput: a part is missing or not XML; what ``zipfile`` raises for a damaged archive
            is worded by the caller.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        content = parse_part(archive, "content.xml", filename)
        meta = parse_part(archive, "meta.xml", filename) if "meta.xml" in archive.namelist() else None
    out = TextBuilder()
    body = content.find(f"{_OFFICE}body/{_OFFICE}text")
    if body is not None:
        _walk(body, out)
    title = None
    if meta is not None:
        found = meta.find(f".//{_DC}title")
        title = " ".join((found.text or "").split()) or None if found is not None else None
    if title is None and out.headings:
        title = out.text[out.headings[0].start : out.headings[0].end].lstrip("#").strip() or None
    return out, title
