"""The text that structured formats (.docx, .pptx, .xlsx, .csv, .odt, .epub, .eml, .rst) are written
as: paragraphs separated by blank lines, with Markdown marks where structure matters, as
``qa.parse.html`` writes a page.

- a heading is one ``## Title`` line (also recorded as a ``Heading`` span), so the chunker keeps
  heading paths and ``qa.sentences`` never answers with it;
- a table row is one paragraph of ``Header: value; Header: value`` (cells under an empty header
  are ``Column 3: value``), so a row is a sentence of its own, answerable and cited whole with
  the column names that say what its values are;
- a list item is a ``- item`` paragraph, code a fenced block naming a language.

The text built here is the document's stored text: every offset (chunks, citations, page starts)
points into it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.parse.content import normalize_text
from qa.types import Heading

_WS = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"[ \t]*(?:\r\n|\r|\n|\u2028|\u2029|\v)[ \t]*")


def clean(text: str) -> str:
    """Runs of spaces and tabs to one space, each line stripped, at most one blank line in a row."""
    text = normalize_text(text)
    lines = [_WS.sub(" ", line).strip() for line in _LINES.split(text)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def one_line(text: str) -> str:
    """``text`` on one line, whitespace collapsed."""
    return " ".join(normalize_text(text).split())


def table_rows(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of a table as ``Header: value; Header: value`` lines: the first row with any text is
    the header; empty cells are left out, a cell under an empty header is named by its column
    (``Column 3``). A table of one row is that row's cells joined by ``; ``."""
    cells = [[one_line(c) for c in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return []
    header, body = cells[0], cells[1:]
    if not body:
        return ["; ".join(c for c in header if c)]
    out = []
    for row in body:
        pairs = []
        for i, value in enumerate(row):
            if not value:
                continue
            name = header[i] if i < len(header) and header[i] else f"Column {i + 1}"
            pairs.append(value if name == value else f"{name}: {value}")
        if pairs:
            out.append("; ".join(pairs))
    return out


class TextBuilder:
    """Accumulates blocks (paragraphs, headings, rows, items, code) into the stored text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[Heading] = []
        self.page_starts: list[int] = []

    def _append(self, block: str) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(block)
        self.length += len(block)
        return start

    def page(self) -> None:
        """Start a page (a slide): the next block is its first."""
        self.page_starts.append(self.length + (2 if self.parts else 0))

    def heading(self, title: str, level: int) -> None:
        """A heading line of ``level`` (1-6): ``## title``."""
        title = one_line(title)
        if title:
            level = min(max(level, 1), 6)
            start = self._append("#" * level + " " + title)
            self.headings.append(Heading(start, self.length, level))

    def paragraph(self, text: str) -> None:
        """A paragraph (its own line breaks kept, whitespace runs collapsed)."""
        text = clean(text)
        if text:
            self._append(text)

    def item(self, text: str, marker: str = "-") -> None:
        """A list item: ``- text`` (or ``1. text``)."""
        text = clean(text)
        if text:
            self._append(f"{marker} {text}")

    def table(self, rows: Sequence[Sequence[str]]) -> None:
        """A table: one paragraph per row (see ``table_rows``)."""
        for row in table_rows(rows):
            self._append(row)

    def code(self, text: str, lang: str = "text") -> None:
        """A fenced code block, lines kept as written (blank first and last lines trimmed)."""
        lines = normalize_text(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            return
        ticks = max([3, *(len(m.group(1)) + 1 for ln in lines if (m := re.match(r"\s*(`{3,})", ln)))])
        fence = "`" * ticks
        self._append(f"{fence}{lang}\n" + "\n".join(ln.rstrip() for ln in lines) + f"\n{fence}")

    def extend(self, text: str, headings: Sequence[Heading]) -> None:
        """Append text built elsewhere (an HTML chapter) with its heading spans, as one block."""
        lead = len(text) - len(text.lstrip("\n"))
        text = text.strip("\n")
        if not text.strip():
            return
        shift = self._append(text) - lead
        self.headings += [Heading(h.start + shift, h.end + shift, h.level) for h in headings]

    @property
    def text(self) -> str:
        return "".join(self.parts)
