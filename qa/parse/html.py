"""HTML (.html, .htm): the text a reader sees, paragraph by paragraph, with the spans of its h1-h6 headings."""

from __future__ import annotations

import re
import warnings
from typing import Any

from qa.errors import InvalidInput
from qa.parse.content import check_not_binary, decode_utf8, normalize_text
from qa.types import Heading

# Subtrees whose text a reader never sees. <head> is deliberately not listed: everything that may
# appear in it (title, style, script, ...) is dropped here or has no text, and html.parser does not
# close a missing </head>, so "<head><title>T</title><body>..." would otherwise lose the whole body.
# Stray text there is shown by browsers too (it implicitly starts the body).
_HTML_DROP = frozenset(
    {"script", "style", "noscript", "template", "svg", "iframe", "title", "object", "embed", "canvas"}
)
# Elements that start and end a paragraph in the output.
_HTML_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "center", "dd", "details",
        "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
        "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "tfoot", "thead", "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
_HTML_CELL = frozenset({"td", "th"})
_HTML_HEADING = {f"h{i}": i for i in range(1, 7)}
_HTML_WS = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Cells of one table row stay on one line, separated so values do not run together.
_CELL_SEP = " | "


class _HtmlText:
    """Accumulates visible text as paragraphs separated by blank lines, tracking heading spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.line: list[str] = []
        self.sep = ""  # what goes before the next text on the current line: "", " " or _CELL_SEP
        self.paragraphs: list[tuple[int, int]] = []

    def text(self, s: str, pre: bool) -> None:
        """Add a text node; outside <pre> whitespace runs collapse to one space like a browser does."""
        s = normalize_text(s)
        if pre:
            s = s.replace("\r\n", "\n").replace("\r", "\n")
            if not s:
                return
            body = s
        else:
            if not s:
                return
            starts_ws, ends_ws = s[0].isspace(), s[-1].isspace()
            body = _HTML_WS.sub(" ", s).strip()
            if starts_ws and not self.sep:
                self.sep = " "
            if not body:
                return
        if self.line and self.sep:
            self.line.append(self.sep)
        self.line.append(body)
        self.sep = " " if not pre and ends_ws else ""

    def cell(self) -> None:
        """Start a table cell."""
        if self.line:
            self.sep = _CELL_SEP

    def flush(self) -> None:
        """End the current paragraph (a block boundary)."""
        para = "".join(self.line)
        # <pre> text may begin or end with newlines/indentation-only lines; trim those, keep the rest.
        para = para.strip("\r\n").rstrip()
        self.line = []
        self.sep = ""
        if not para.strip():
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        self.paragraphs.append((self.length, self.length + len(para)))
        self.parts.append(para)
        self.length += len(para)

    def result(self) -> str:
        """The text built so far."""
        return "".join(self.parts)


def _html_hidden(tag: Any) -> bool:
    """True for elements the page hides inline (``hidden`` attribute or display:none)."""
    attrs = tag.attrs
    if "hidden" in attrs:
        return True
    style = attrs.get("style")
    return isinstance(style, str) and _HIDDEN_STYLE.search(style) is not None


def _decode_html(data: bytes, filename: str) -> str:
    """HTML bytes to text: UTF-8 first, else the charset the document declares or a guess."""
    check_not_binary(data, filename)
    try:
        return decode_utf8(data, filename)
    except InvalidInput:
        pass
    from bs4 import UnicodeDammit

    markup = UnicodeDammit(data, is_html=True).unicode_markup
    if markup is None:
        raise InvalidInput(f"'{filename}' could not be decoded as text; convert it to UTF-8")
    return markup


def parse_html(data: bytes, filename: str) -> tuple[str, tuple[Heading, ...], str | None]:
    """Visible text of an HTML page, its h1-h6 spans, and its <title> (else first <h1>)."""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
    from bs4.element import PreformattedString

    markup = _decode_html(data, filename)
    try:
        with warnings.catch_warnings():
            # bs4 warns when short markup looks like a file name or URL; here it is always content.
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            soup = BeautifulSoup(markup, "html.parser")
    except Exception as e:  # html.parser can reject odd markup with assorted exception types
        raise InvalidInput(f"'{filename}' could not be parsed as HTML ({e}); check that it is an HTML file") from None

    title: str | None = None
    for t in soup.find_all("title"):
        # <svg> has its own <title> elements (tooltips), which are not the page title.
        if isinstance(t, Tag) and t.find_parent("svg") is None:
            title = _HTML_WS.sub(" ", normalize_text(t.get_text())).strip() or None
            break

    out = _HtmlText()
    headings: list[tuple[int, int, int]] = []  # (level, first paragraph index, last paragraph index + 1)
    # Iterative walk: deeply nested markup must not hit Python's recursion limit.
    # Stack items are nodes to enter, or ("exit", tag) markers to run after a tag's children.
    stack: list[Any] = [soup]
    pre_depth = 0
    open_headings: list[tuple[int, int]] = []
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            tag = item[1]
            name = tag.name
            if name == "pre":
                pre_depth -= 1
            if name in _HTML_BLOCK:
                out.flush()
            if name in _HTML_HEADING:
                level, first = open_headings.pop()
                headings.append((level, first, len(out.paragraphs)))
            continue
        if isinstance(item, NavigableString):
            # Comments, CDATA, doctypes and processing instructions are not page text.
            if not isinstance(item, PreformattedString):
                out.text(str(item), pre_depth > 0)
            continue
        if not isinstance(item, Tag):
            continue
        name = item.name
        if name in _HTML_DROP or (item is not soup and _html_hidden(item)):
            continue
        if name in _HTML_BLOCK:
            out.flush()
        elif name in _HTML_CELL:
            out.cell()
        if name == "pre":
            pre_depth += 1
        if name in _HTML_HEADING:
            open_headings.append((_HTML_HEADING[name], len(out.paragraphs)))
        stack.append(("exit", item))
        stack.extend(reversed(item.contents))
    out.flush()

    text = out.result()
    if not text.strip():
        raise InvalidInput(f"'{filename}' has no visible text: nothing to index")
    spans: list[Heading] = []
    for level, first, last in sorted(headings, key=lambda h: h[1]):
        if last > first:  # a heading with no text produced no paragraph
            spans.append(Heading(out.paragraphs[first][0], out.paragraphs[last - 1][1], level))
    if title is None:
        title = next((text[h.start : h.end] for h in spans if h.level == 1), None)
    return text, tuple(spans), title
