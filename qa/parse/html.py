"""HTML (.html, .htm): the page's main content as text, with Markdown marks where structure matters.

What is kept is what a reader of the page came for:

- **Main content only.** The content root is the page's ``<main>``, ``[role=main]``, single
  ``<article>``, Sphinx's ``div.body`` or ``#content`` (the innermost of those that nest; the whole
  ``<body>`` when there is none). Inside it, and everywhere when there is no root, navigation is
  dropped: ``nav``, ``aside`` (unless it is a note or a footnote), ``footer``, a page-level
  ``header``, ARIA navigation/search/banner/contentinfo roles, the classes and ids documentation
  generators give their sidebars, breadcrumbs, tables of contents, previous/next blocks and search
  boxes (Sphinx, DocBook, LaTeX2HTML, gtk-doc, Node's doc tool), buttons and forms, permalink
  anchors (the ``¶`` or ``#`` after a heading), runs of three or more in-page links with nothing
  else between them (groff's table of contents), and, when there is no content root, any block
  that is at least 80% link text with three or more links (a menu).
- **Headings** ``<h1>``-``<h6>`` become Markdown heading lines (``## Title``), one line each. A
  definition term ``<dt>`` (Sphinx's ``os.path.basename(path)``, DocBook's option lists, glossary
  terms) becomes a heading line one level below the enclosing heading per enclosing ``<dl>``, and
  its ``<dd>`` the paragraphs under it. So the chunker keeps them as heading paths and the sentence
  splitter (``qa.sentences``) never takes them for prose.
- **Code** (``<pre>``) becomes a fenced block whose opening fence always names a language
  (```` ```python ````, ```` ```text ```` when the page does not say): its lines are never answer
  sentences, and a bare fence is always a closing one, so text cut inside a block still tells.
- **Lists**: each ``<li>`` is its own paragraph, starting with ``- `` (``1. `` in an ``<ol>``).
  **Tables**: one paragraph per row, cells joined by `` | `` (the paragraphs of a short cell too;
  a cell holding a table, a heading or code is page layout, and its blocks stay paragraphs).

Everything else is the visible text, paragraph by paragraph (blank lines between): scripts, styles,
comments, hidden elements and markup are dropped. Offsets are those of the text returned: it is the
document's canonical text, so citations into it stay exact.

We write these rules rather than use a boilerplate extractor: trafilatura, readability-lxml and
jusText were measured on Debian's generated documentation (``bench/html_extract.py``,
``bench/results/html-extract.md``). They are built for news articles: they keep ``¶`` marks, drop
function signatures or list items, and run code examples into paragraphs.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from typing import Any

from qa.errors import InvalidInput
from qa.parse.content import check_not_binary, decode_utf8, normalize_text
from qa.types import Heading

# Subtrees whose text a reader never sees. <head> is deliberately not listed: everything that may
# appear in it (title, style, script, ...) is dropped here or has no text, and html.parser does not
# close a missing </head>, so "<head><title>T</title><body>..." would otherwise lose the whole body.
# Stray text there is shown by browsers too (it implicitly starts the body). Buttons, selects and
# their options are controls ("copy", a version picker), not content.
_HTML_DROP = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "iframe", "title", "object", "embed", "canvas",
        "button", "select", "datalist", "nav",
    }
)  # fmt: skip
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

# -- what is boilerplate ---------------------------------------------------------------------

# ARIA roles of page furniture. "complementary" (an aside) is judged by its class, like <aside>.
_BOILERPLATE_ROLES = frozenset({"navigation", "search", "banner", "contentinfo", "menu", "menubar", "toolbar"})
# Class and id tokens (compared lower-cased, whole tokens) that documentation generators and
# common site themes give to navigation: Sphinx (sphinxsidebar, related, headerlink, this-page-menu,
# the version/language switchers), DocBook XSL (navheader, navfooter, table.nav, div.toc),
# LaTeX2HTML (div.navigation, ul.ChildLinks), gtk-doc (table.navigation), Node's doc tool (#toc,
# #gtoc, a.mark), and the usual names (breadcrumb, pagination, skip links, search boxes).
_BOILERPLATE_CLASSES = frozenset(
    {
        "sphinxsidebar", "sphinxsidebarwrapper", "related", "headerlink", "this-page-menu", "mobile-nav",
        "version_switcher_placeholder", "language_switcher_placeholder", "inline-search", "searchbox",
        "navheader", "navfooter", "nav", "navbar", "navigation", "toc", "childlinks", "breadcrumb",
        "breadcrumbs", "pagination", "pager", "prev-next", "skip-link", "skip-to-content", "footer",
        "site-footer", "site-header", "sidebar-nav", "edit-this-page", "copy-button", "headeranchor",
    }
)  # fmt: skip
_BOILERPLATE_IDS = frozenset(
    {
        "toc", "gtoc", "sidebar", "navigation", "nav", "navbar", "footer", "header", "breadcrumbs",
        "search", "searchbox", "menu", "skip-link", "site-footer", "site-header", "child_links",
    }
)  # fmt: skip
# An <aside> is kept when it is part of the text: a note, a warning, a footnote (docutils' HTML5
# writer puts those in <aside>); any other aside is a sidebar.
_ASIDE_KEEP = frozenset(
    {
        "admonition", "note", "warning", "caution", "important", "tip", "hint", "attention", "danger",
        "error", "seealso", "footnote", "footnote-list", "citation", "callout", "topic",
    }
)  # fmt: skip
# Text of a permalink anchor: the mark a generator puts after a heading to link to it.
_PERMALINK_TEXT = frozenset({"¶", "#", "§", "🔗", "⚓", "permalink"})
# What may stand between the in-page links of a table of contents ("a, b and c" is a sentence).
_LINK_SEPARATORS = re.compile(r"[\s|·•]*")
# Ids that name a page's content root (besides <main>, [role=main], <article> and Sphinx's div.body).
_ROOT_IDS = frozenset({"content", "main-content", "maincontent", "main"})
_MENU_TAGS = frozenset({"ul", "ol", "menu", "table", "div", "p", "dl", "center", "td", "tr", "section"})


def _tokens(tag: Any) -> set[str]:
    """Lower-cased class tokens of a tag."""
    cls = tag.attrs.get("class")
    if isinstance(cls, str):
        cls = cls.split()
    return {c.lower() for c in cls} if cls else set()


def _tag_id(tag: Any) -> str:
    value = tag.attrs.get("id")
    return value.lower() if isinstance(value, str) else ""


def _is_permalink(tag: Any) -> bool:
    """An ``<a href="#...">¶</a>``: the generator's link to the element it follows."""
    href = tag.attrs.get("href")
    return isinstance(href, str) and href.startswith("#") and tag.get_text().strip().lower() in _PERMALINK_TEXT


def _boilerplate(tag: Any, root: Any) -> bool:
    """Whether a tag is page furniture (navigation, sidebar, footer, permalink...), not content."""
    name = tag.name
    classes = _tokens(tag)
    role = tag.attrs.get("role")
    if isinstance(role, str) and role.lower() in _BOILERPLATE_ROLES:
        return True
    if classes & _BOILERPLATE_CLASSES or _tag_id(tag) in _BOILERPLATE_IDS:
        return True
    if name == "a":
        return _is_permalink(tag)
    if name in ("footer", "nav"):
        return True
    if name == "aside":
        return not classes & _ASIDE_KEEP
    if name == "header":
        # A page's header (logo, menu, search) goes; an article's or section's header holds its title.
        return tag.find_parent(("article", "section", "main")) is None and tag is not root
    if name == "form":
        # A search box or a small form of controls; some sites wrap the whole page in one <form>.
        searchy = "search" in _tag_id(tag) or any("search" in c for c in classes)
        return searchy or (tag.find("input") is not None and len(tag.get_text(strip=True)) < 200)
    # docutils' local table of contents ("contents" with "topic" or "local"; a lone "contents" class
    # names the content itself on some sites).
    return "contents" in classes and bool(classes & {"topic", "local"})


def _content_root(soup: Any) -> Any:
    """The element holding the page's main content, or ``soup`` when the page names none."""
    found: list[Any] = []
    for tag in soup.find_all(True):
        name = tag.name
        role = tag.attrs.get("role")
        if (
            name == "main"
            or (isinstance(role, str) and role.lower() == "main")
            or name == "article"
            or (name == "div" and "body" in _tokens(tag) and tag.find_parent("div", class_="document") is not None)
            or _tag_id(tag) in _ROOT_IDS
        ):
            found.append(tag)
    # Several articles side by side (a blog's index) are no single root; a chain of nested roots
    # (#content > main > article) gives the innermost one that holds text.
    for candidates in (found, [t for t in found if t.name != "article"]):
        chain = [t for t in candidates if t.get_text().strip()]
        nested = all(any(p is outer for p in inner.parents) for outer, inner in zip(chain, chain[1:], strict=False))
        if chain and nested:
            return chain[-1]
    return soup


def _in_page_link_runs(root: Any) -> set[int]:
    """Ids of the nodes of runs of 3+ in-page links with only whitespace, separators or ``<br>``
    between them: a table of contents written inline (groff's ``-Thtml`` output starts so)."""
    from bs4 import NavigableString, Tag

    drop: set[int] = set()
    for parent in [root, *root.find_all(True)]:
        if len(parent.contents) < 3:
            continue
        run: list[Any] = []
        anchors = 0
        for child in [*parent.contents, None]:
            if isinstance(child, NavigableString) and _LINK_SEPARATORS.fullmatch(str(child)):
                run.append(child)
                continue
            if isinstance(child, Tag) and child.name == "br":
                run.append(child)
                continue
            href = child.attrs.get("href") if isinstance(child, Tag) and child.name == "a" else None
            if isinstance(href, str) and href.startswith("#") and child.get_text().strip():
                run.append(child)
                anchors += 1
                continue
            if anchors >= 3:
                drop.update(id(x) for x in run)
            run, anchors = [], 0
    return drop


def _menus(root: Any, skip: set[int]) -> set[int]:
    """Ids of blocks that are at least 80% link text with 3+ links: menus, link lists, nav bars.

    One bottom-up pass counts each element's text and link text; the outermost blocks that
    qualify are returned (``root`` itself never is).
    """
    from bs4 import NavigableString, Tag

    stats: dict[int, list[int]] = {}  # id -> [text chars, link text chars, links]
    order: list[Any] = []
    stack: list[Any] = [root]
    while stack:  # pre-order; reversed it is a valid post-order for summing children
        node = stack.pop()
        if isinstance(node, Tag) and id(node) not in skip and node.name not in _HTML_DROP:
            order.append(node)
            stack.extend(node.contents)
    for node in reversed(order):
        chars = links = link_chars = 0
        for child in node.contents:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:
                    chars += len(child.strip())
            elif id(child) in stats:
                c = stats[id(child)]
                chars, link_chars, links = chars + c[0], link_chars + c[1], links + c[2]
        if node.name == "a" and isinstance(node.attrs.get("href"), str):
            link_chars, links = chars, links + 1
        stats[id(node)] = [chars, link_chars, links]
    menus: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, Tag) or id(node) not in stats:
            continue
        chars, link_chars, links = stats[id(node)]
        if node is not root and node.name in _MENU_TAGS and links >= 3 and link_chars >= 0.8 * chars:
            menus.add(id(node))
            continue
        stack.extend(node.contents)
    return menus


# -- the text ----------------------------------------------------------------------------------


class _HtmlText:
    """Accumulates text as paragraphs separated by blank lines, with heading and code marks."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.line: list[str] = []
        self.sep = ""  # what goes before the next text on the current line: "", " " or _CELL_SEP
        self.bullet: str | None = None  # "- " or "3. ", put before the next text of a list item
        self.headings: list[Heading] = []

    def text(self, s: str, pre: bool, bullet: bool = True) -> None:
        """Add a text node; outside <pre> whitespace runs collapse to one space like a browser does.
        A pending list bullet goes before it when ``bullet`` (not inside a heading)."""
        s = normalize_text(s)
        if pre:
            s = s.replace("\r\n", "\n").replace("\r", "\n")
            if not s:
                return
            self.line.append(s)
            return
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
        elif not self.line and self.bullet and bullet:
            self.line.append(self.bullet)
            self.bullet = None
        self.line.append(body)
        self.sep = " " if ends_ws else ""

    def space(self) -> None:
        """A block boundary where no paragraph may end (inside a heading): a space."""
        if self.line:
            self.sep = self.sep or " "

    def cell(self) -> None:
        """Start a table cell."""
        if self.line:
            self.sep = _CELL_SEP

    def newline(self) -> None:
        """A line break inside <pre>."""
        self.line.append("\n")

    def flush(self) -> None:
        """End the current paragraph (a block boundary)."""
        para = "".join(self.line).rstrip()
        self.line, self.sep = [], ""
        if para.strip():
            self._append(para)

    def heading(self, level: int) -> None:
        """End the current line as a heading of ``level`` (1-6): ``## text`` on one line."""
        title = _HTML_WS.sub(" ", "".join(self.line)).strip()
        self.line, self.sep, self.bullet = [], "", None  # a list item's heading takes no bullet
        if title:
            start = self._append("#" * level + " " + title)
            self.headings.append(Heading(start, self.length, level))

    def code(self, lang: str) -> None:
        """End the current <pre> text as a fenced code block: blank first and last lines trimmed."""
        body = "".join(self.line)
        self.line, self.sep = [], ""
        lines = body.split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            return
        lines[-1] = lines[-1].rstrip()
        # A fence longer than any backtick run starting a line of the code, so the code cannot close it.
        ticks = max([3, *(len(m.group()) + 1 for ln in lines if (m := re.match(r"\s*(`{3,})", ln)))])
        fence = "`" * ticks
        self._append(f"{fence}{lang}\n" + "\n".join(lines) + f"\n{fence}")

    def _append(self, para: str) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(para)
        self.length += len(para)
        return start

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


_LAYOUT = frozenset({"table", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "form"})


def _simple_cell(cell: Any) -> bool:
    """A data cell (short text, no table, heading or code inside) whose paragraphs stay on the
    row's line (Sphinx and groff put every cell's text in a <p>); any other is page layout."""
    from bs4 import NavigableString

    chars = 0
    for node in cell.descendants:  # one pass, stopping early: tables have thousands of cells
        if isinstance(node, NavigableString):
            chars += len(node)
            if chars > 1000:
                return False
        elif node.name in _LAYOUT:
            return False
    return True


_LANG = re.compile(r"^(?:highlight|language|lang|sourcecode|brush:?)-?([\w+#.-]+)$")


def _code_language(pre: Any) -> str:
    """The language a <pre> (or its <code>, or Sphinx's ``div.highlight-python3`` around it) names."""
    tags: Iterable[Any] = [pre, *pre.find_all("code", limit=1), *pre.parents]
    for depth, tag in enumerate(tags):
        if depth > 4 or getattr(tag, "name", None) is None:
            break
        for c in sorted(_tokens(tag)):
            m = _LANG.match(c)
            if m and m.group(1) not in ("default", "none", "notranslate"):
                return re.sub(r"[^\w+#.-]", "", m.group(1))[:30] or "text"
    return "text"


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
    """Main-content text of an HTML page, its heading lines' spans, and its <title> (else first <h1>)."""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

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
        if t.find_parent("svg") is None:
            title = _HTML_WS.sub(" ", normalize_text(t.get_text())).strip() or None
            break

    root = _content_root(soup)
    skip = _in_page_link_runs(root)
    # No content root named: also drop link-heavy blocks (menus), unless that leaves nothing, as on
    # a page that is only a list of links (an index).
    menus = _menus(root, skip) if root is soup else set()
    text, headings = _walk(root, skip | menus)
    if menus and not text.strip():
        text, headings = _walk(root, skip)
    if not text.strip():
        raise InvalidInput(f"'{filename}' has no visible text: nothing to index")
    if title is None:
        title = next((text[h.start : h.end].lstrip("#").strip() for h in headings if h.level == 1), None)
    return text, headings, title


def _walk(root: Any, skip: set[int]) -> tuple[str, tuple[Heading, ...]]:
    """The text of ``root`` without the nodes in ``skip`` or boilerplate, and its heading spans."""
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    out = _HtmlText()
    # Iterative walk: deeply nested markup must not hit Python's recursion limit. Stack items are
    # nodes to enter, or (tag, what, value) exits to run after a tag's children: what the tag
    # opened ("pre", "heading", "list", "dl", "li", "block" or "") and, for a <pre>, its language,
    # for a heading its level (0 for one nested in another or in code: only the outermost writes).
    stack: list[Any] = [root]
    pre_depth = heading_depth = cell_depth = 0
    level = 0  # level of the last <h1>-<h6>: a <dt> heads its <dd> one level below per enclosing <dl>
    dl_depth = 0
    counters: list[int | None] = []  # per open list: the next number of an <ol>, None for a <ul>
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            _, what, value = item
            if what == "pre":
                pre_depth -= 1
                if value and not heading_depth:
                    out.code(value)
            elif what == "heading":
                heading_depth -= 1
                if value:
                    out.heading(value)
            elif what == "list":
                counters.pop()
                out.flush()
            elif what == "dl":
                dl_depth -= 1
                out.flush()
            elif what == "li":
                out.flush()
                out.bullet = None
            elif what == "block":
                out.flush()
            elif what == "cell":
                cell_depth -= 1
            elif what == "space":
                out.space()
            continue
        if isinstance(item, NavigableString):
            # Comments, CDATA, doctypes and processing instructions are not page text.
            if not isinstance(item, PreformattedString) and id(item) not in skip:
                out.text(str(item), pre_depth > 0 and not heading_depth, not heading_depth)
            continue
        if not isinstance(item, Tag) or id(item) in skip:
            continue
        name = item.name
        if item is not root and (name in _HTML_DROP or _html_hidden(item) or _boilerplate(item, root)):
            continue
        what, value = "", None
        if pre_depth and not heading_depth:
            # Inside code the structure is flat: a <br> is a line break, and so is the start of a
            # second <code> (Node's docs put the CommonJS and the ES module forms in one <pre>).
            if name == "br" or (name == "code" and out.line and not out.line[-1].endswith("\n")):
                out.newline()
            if name == "pre":
                what, pre_depth = "pre", pre_depth + 1
        elif heading_depth or cell_depth:
            # Inside a heading, or a table cell of a few short paragraphs, everything is one line:
            # blocks are spaces, code is text.
            if name in _HTML_BLOCK:
                out.space()
                what = "space"
            elif name in _HTML_CELL:
                out.cell()
            if name == "pre":
                what, pre_depth = "pre", pre_depth + 1
            elif name in _HTML_HEADING or name == "dt":
                what, value, heading_depth = "heading", 0, heading_depth + 1
        else:
            if name in _HTML_BLOCK:
                out.flush()
                what = "block"
            elif name in _HTML_CELL:
                out.cell()
                if _simple_cell(item):
                    what, cell_depth = "cell", cell_depth + 1
            if name == "pre":
                what, value, pre_depth = "pre", _code_language(item), pre_depth + 1
            elif name in _HTML_HEADING:
                level = _HTML_HEADING[name]
                what, value, heading_depth = "heading", level, heading_depth + 1
            elif name == "dt":
                what, value, heading_depth = "heading", min(6, level + max(dl_depth, 1)), heading_depth + 1
            elif name == "dl":
                what, dl_depth = "dl", dl_depth + 1
            elif name in ("ul", "menu", "dir"):
                what = "list"
                counters.append(None)
            elif name == "ol":
                start = item.attrs.get("start")
                what = "list"
                counters.append(int(start) if isinstance(start, str) and start.strip().isdigit() else 1)
            elif name == "li":
                what = "li"
                n = counters[-1] if counters else None
                out.bullet = "- " if n is None else f"{n}. "
                if n is not None:
                    counters[-1] = n + 1
        stack.append((item, what, value))
        stack.extend(reversed(item.contents))
    out.flush()
    return out.result(), tuple(out.headings)
