"""Tests for qa.parse: every format from real files, every rejection, and file discovery."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.errors import InvalidInput, NoText, QAError, TooLarge, UnsupportedFileType
from qa.ingest import index_files
from qa.parse import SUPPORTED, iter_files, load_path, normalize_text, parse_bytes
from qa.parse.files import Skipped
from qa.sentences import sentence_spans
from qa.types import Document


def write(path: Path, data: bytes | str) -> Path:
    """Write bytes or UTF-8 text to ``path``, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def one(docs: list[Document]) -> Document:
    """The single Document a non-jsonl parse returns."""
    assert len(docs) == 1
    return docs[0]


def pdf_bytes(*pages: str, title: str | None = None, user_password: str | None = None) -> bytes:
    """A real PDF with one page per string; an empty string draws only a rectangle (no text layer)."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text=text)
        else:
            pdf.rect(20, 20, 80, 40, style="F")
    return bytes(pdf.output())


# --------------------------------------------------------------------------- txt / md


def test_txt_file(tmp_path: Path) -> None:
    f = write(tmp_path / "notes.txt", "Line one.\r\nLine two.\r\n\r\n  indented  \n")
    doc = one(load_path(f, tmp_path))
    assert doc.id == "notes.txt"
    assert doc.text == "Line one.\r\nLine two.\r\n\r\n  indented  \n"  # CRLF and whitespace kept exactly
    assert doc.title == "notes"
    assert doc.metadata == {"filename": "notes.txt"}
    assert doc.source == str(f.resolve())
    assert doc.headings == ()


def test_txt_bom_is_stripped(tmp_path: Path) -> None:
    f = write(tmp_path / "bom.txt", b"\xef\xbb\xbfhello\r\nworld")
    assert one(load_path(f, tmp_path)).text == "hello\r\nworld"


def test_markdown_title_from_first_h1(tmp_path: Path) -> None:
    text = "Intro line\n## Not this\n```\n# not a heading in code\n```\n# The Title #\n\nBody\n# Second\n"
    doc = one(load_path(write(tmp_path / "guide.md", text), tmp_path))
    assert doc.title == "The Title"
    assert doc.text == text


@pytest.mark.parametrize("name", ["plain.md", "plain.markdown", "Plain.MD"])
def test_markdown_without_heading_uses_stem(name: str) -> None:
    doc = one(parse_bytes(b"just text\n#hashtag is not a heading", name))
    assert doc.title == Path(name).stem


def test_txt_title_ignores_hash_lines() -> None:
    assert one(parse_bytes(b"# looks like a heading", "a.txt")).title == "a"


def test_text_no_encoding_reads_names_byte_and_offset(tmp_path: Path) -> None:
    f = write(tmp_path / "x.txt", bytes(range(0x80, 0x100)) * 3)
    with pytest.raises(InvalidInput) as e:
        load_path(f, tmp_path)
    assert str(e.value) == (
        "'x.txt' is not valid UTF-8 text (byte 0x80 at offset 0), and no common encoding reads it as text; "
        "convert it to UTF-8"
    )


def test_text_not_utf8_is_decoded_in_its_encoding(tmp_path: Path) -> None:
    doc = one(load_path(write(tmp_path / "x.txt", b"hello world\xff more"), tmp_path))
    assert doc.text == "hello world\u00ff more" and doc.metadata["encoding"] == "cp1252"


def test_invalid_utf8_offset_counts_bom() -> None:
    with pytest.raises(InvalidInput, match=r"byte 0xe9 at offset 6\)"):
        parse_bytes(b"\xef\xbb\xbfcaf\xe9", "latin1.md")


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02binary\x00stuff",
        bytes(range(256)) * 4,
        b"ab" + b"\x01\x02\x03\x04\x05\x06" * 3,  # no NUL, but mostly control characters
    ],
)
def test_binary_junk_rejected(tmp_path: Path, data: bytes) -> None:
    f = write(tmp_path / "junk.txt", data)
    with pytest.raises(InvalidInput, match=r"^'junk.txt' looks binary"):
        load_path(f, tmp_path)


def test_utf16_with_a_bom_is_read() -> None:
    assert one(parse_bytes("hello".encode("utf-16"), "u.txt")).text == "hello"


def test_text_with_tabs_form_feeds_and_ansi_is_accepted() -> None:
    data = b"col\tcol\n\x0cpage two\n\x1b[31mred\x1b[0m\n"
    assert one(parse_bytes(data, "log.txt")).text == data.decode()


@pytest.mark.parametrize("data", [b"", b"   \r\n\t \n", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("name", ["x.txt", "x.md", "x.html", "x.pdf", "x.jsonl"])
def test_empty_file(data: bytes, name: str) -> None:
    # NoText (an InvalidInput: a request sending it is refused) is what a folder's sync passes over.
    with pytest.raises(NoText, match=rf"^'{name}' is empty: nothing to index$"):
        parse_bytes(data, name)


@pytest.mark.parametrize("name", ["x.txt", "x.md", "x.jsonl"])
def test_unicode_whitespace_only_is_empty(name: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^'{name}' is empty: nothing to index$"):
        parse_bytes("\u3000\u2003\n".encode(), name)


def test_too_large() -> None:
    with pytest.raises(TooLarge) as e:
        parse_bytes(b"x" * 101, "big.txt", max_bytes=100)
    assert "'big.txt' is 101 bytes, over the limit of 100 bytes" in str(e.value)
    assert isinstance(e.value, InvalidInput)
    assert one(parse_bytes(b"x" * 100, "ok.txt", max_bytes=100)).text == "x" * 100


def test_too_large_from_disk(tmp_path: Path) -> None:
    f = write(tmp_path / "big.md", b"y" * 5000)
    with pytest.raises(TooLarge, match="5,000 bytes, over the limit of 4,999 bytes"):
        load_path(f, tmp_path, max_bytes=4999)


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00\x00"  # how a .doc (and .xls, .ppt) starts


@pytest.mark.parametrize("name", ["a/b.doc", "noext", "archive.tar.gz", ".md", "ls.1.gz"])
def test_unsupported_extension(name: str) -> None:
    with pytest.raises(UnsupportedFileType) as e:
        parse_bytes(OLE2, name, max_bytes=1)  # type is checked before size
    msg = str(e.value)
    assert f"for '{name}'" in msg
    assert "supported are .txt, .md, .markdown, .html, .htm, .pdf, .jsonl, .rst, .docx" in msg


def test_text_of_no_known_type_is_read_as_text() -> None:
    """README, NEWS.Debian, sources.list: files whose name says nothing are read as text when their
    first bytes are text; binary ones, archives and man pages' troff source are still refused."""
    import gzip

    news = b"apt (2.9.1) unstable; urgency=medium\n\n  * The solver is now the default.\n"
    for name, data in [("README", b"Read me first.\n"), ("NEWS.Debian", news), ("sources.list", b"deb x y\n"),
                       ("NEWS.Debian.gz", gzip.compress(news)), ("syslog.gz", gzip.compress(news))]:  # fmt: skip
        expected = news if name.endswith(".gz") else data
        assert one(parse_bytes(data, name)).text.strip() == expected.decode().strip(), name
    assert one(parse_bytes("caf\u00e9 au lait\n".encode("utf-16"), "MENU")).text.strip() == "caf\u00e9 au lait"
    for name, data in [("a.out", b"\x7fELF\x02\x01\x01\x00" * 4), ("b.doc", OLE2),
                       ("blob.gz", gzip.compress(OLE2)), ("ls.1.gz", gzip.compress(b".TH LS 1\n"))]:  # fmt: skip
        with pytest.raises(UnsupportedFileType):
            parse_bytes(data, name)


def test_unsupported_message_quotes_extension() -> None:
    with pytest.raises(UnsupportedFileType) as e:
        parse_bytes(OLE2, "a/b.doc")
    assert str(e.value) == (
        "unsupported file type '.doc' for 'a/b.doc': supported are .txt, .md, .markdown, .html, .htm, .pdf, "
        ".jsonl, .rst, .docx, .pptx, .xlsx, .csv, .tsv, .epub, .odt, .eml, .mbox, .gz, .png, .jpg, .jpeg, .tif, .tiff"
    )


def test_extension_is_case_insensitive() -> None:
    assert one(parse_bytes(b"<p>Hi</p>", "PAGE.HTM")).text == "Hi"
    assert one(parse_bytes(b"hi", "A.TXT")).text == "hi"


def test_overrides_and_metadata_merge() -> None:
    doc = one(parse_bytes(b"# Heading\nbody", "d.md", doc_id="custom", title="Given", metadata={"lang": "en"}))
    assert (doc.id, doc.title, doc.source) == ("custom", "Given", "d.md")
    assert doc.metadata == {"filename": "d.md", "lang": "en"}


def test_normalize_text() -> None:
    assert normalize_text("a\x00b") == "ab"
    assert normalize_text("lone \ud800 high, lone \udfff low") == "lone  high, lone  low"
    assert normalize_text("pair \ud83d\ude00") == "pair \U0001f600"
    same = "keep\r\n  spaces\tand\u2028separators "
    assert normalize_text(same) == same
    normalize_text("x\ud800").encode("utf-8")


# --------------------------------------------------------------------------- html

HTML = """<!DOCTYPE html>
<html><head><title>  Page   Title </title>
<style>body { color: red } .secret { display: none }</style>
<script>var STYLE_OR_SCRIPT = "<p>not text</p>";</script></head>
<body>
<!-- a comment that must vanish -->
<h1>Main <em>heading</em></h1>
<p>First   paragraph with <b>bold</b> and <a href="#">a link</a>.
   It wraps.</p>
<img src="x.png" onerror="alert('xss')" alt="picture">
<script>alert(1)</script>
<noscript>enable javascript</noscript>
<template><p>template text</p></template>
<svg><title>svg tooltip</title><text>svg text</text></svg>
<iframe src="x">iframe text</iframe>
<div hidden>hidden div</div><span style="display: none">hidden span</span>
<h2>Lists</h2>
<ul><li>one</li><li>two<ul><li>two.a</li><li>two.b</li></ul></li></ul>
<h3>Table</h3>
<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>30</td></tr>
<tr><td><table><tr><td>inner</td></tr></table></td></tr></table>
<pre>  code line 1
    code line 2</pre>
<p>A<br>B</p>
<h2></h2>
<footer>Footer &amp; &lt;escaped&gt; text</footer>
</body></html>
"""


def test_html_visible_text_and_headings(tmp_path: Path) -> None:
    doc = one(load_path(write(tmp_path / "page.html", HTML), tmp_path))
    text = doc.text
    assert doc.title == "Page Title"
    assert text.startswith("# Main heading\n\nFirst paragraph with bold and a link. It wraps.\n\n")
    for dropped in ["alert", "xss", "color: red", "STYLE_OR_SCRIPT", "comment", "javascript", "template text"]:
        assert dropped not in text
    for dropped in ["svg tooltip", "svg text", "iframe text", "hidden div", "hidden span", "picture", "Page Title"]:
        assert dropped not in text
    paragraphs = text.split("\n\n")
    assert paragraphs == [
        "# Main heading",
        "First paragraph with bold and a link. It wraps.",
        "## Lists",
        "- one",
        "- two",
        "- two.a",
        "- two.b",
        "### Table",
        "Name | Age",
        "Ann | 30",
        "inner",
        "```text\n  code line 1\n    code line 2\n```",  # <pre> keeps its lines and indentation, fenced
        "A",
        "B",
    ]  # the page's <footer> is not content
    assert [(text[h.start : h.end], h.level) for h in doc.headings] == [
        ("# Main heading", 1),
        ("## Lists", 2),
        ("### Table", 3),
    ]
    # No markup survives except the escaped text the page actually shows.
    assert "<" not in text and ">" not in text
    for line in text.split("\n"):
        if not line.startswith(" "):
            assert "  " not in line


# A page as Sphinx (python3-doc) writes it, trimmed: sidebar, related bars, footer, permalinks,
# a function described by a definition list, a highlighted code block.
SPHINX = """<!DOCTYPE html><html><head><title>os.path — Common pathname manipulations</title></head><body>
<div class="mobile-nav"><a href="index.html">Python</a><input type="search" name="q"></div>
<div class="related" role="navigation" aria-label="related navigation"><h3>Navigation</h3>
<ul><li><a href="genindex.html">index</a></li><li><a href="fileinput.html">next</a> |</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
<section id="module-os.path">
<h1><code>os.path</code> — Common pathname manipulations<a class="headerlink" href="#module-os.path">¶</a></h1>
<p>This module implements some useful functions on pathnames.</p>
<div class="admonition note"><p class="admonition-title">Note</p><p>They all have the same interface:</p>
<ul class="simple"><li><p><code>posixpath</code> for UNIX-style paths</p></li>
<li><p><code>ntpath</code> for Windows paths</p></li></ul>
</div>
<dl class="py function">
<dt class="sig sig-object py" id="os.path.basename"><span class="sig-prename">os.path.</span><span class="sig-name"\
>basename</span><span class="sig-paren">(</span><em class="sig-param">path</em><span class="sig-paren">)</span><a\
 class="headerlink" href="#os.path.basename" title="Permalink to this definition">¶</a></dt>
<dd><p>Return the base name of pathname <em>path</em>. See also <a href="#os.path.split">split()</a>,
<a href="#os.path.dirname">dirname()</a>, <a href="#os.path.join">join()</a>.</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp"\
>&gt;&gt;&gt; </span>basename('/foo/bar/')
<span class="go">''</span>
</pre></div></div>
<dl class="py method"><dt class="sig" id="x.y">x.<span>y</span>()</dt><dd><p>A nested method.</p></dd></dl>
</dd></dl>
<p>After the definitions.</p>
</section>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation"><div class="sphinxsidebarwrapper">
<h3><a href="index.html">Table of Contents</a></h3><ul><li><a href="#">os.path</a></li></ul>
<h4>Previous topic</h4><p><a href="pathlib.html">pathlib — Object-oriented filesystem paths</a></p>
<div role="note" aria-label="source link"><h3>This Page</h3>
<ul class="this-page-menu"><li><a href="bugs.html">Report a Bug</a></li></ul></div>
</div></div></div>
<div class="footer">&copy; Copyright 2001-2026, Python Software Foundation. Created using Sphinx 5.3.0.</div>
</body></html>"""


def test_html_sphinx_page_main_content_signatures_and_code() -> None:
    doc = one(parse_bytes(SPHINX.encode(), "os.path.html"))
    text = doc.text
    assert text.split("\n\n") == [
        "# os.path — Common pathname manipulations",
        "This module implements some useful functions on pathnames.",
        "Note",
        "They all have the same interface:",
        "- posixpath for UNIX-style paths",
        "- ntpath for Windows paths",
        "## os.path.basename(path)",  # the signature heads its description, one level down
        "Return the base name of pathname path. See also split(), dirname(), join().",
        "```python3\n>>> basename('/foo/bar/')\n''\n```",
        "### x.y()",
        "A nested method.",
        "After the definitions.",
    ]
    for boilerplate in ["¶", "Navigation", "Table of Contents", "Previous topic", "Report a Bug", "Copyright", "next"]:
        assert boilerplate not in text
    assert [(text[h.start : h.end], h.level) for h in doc.headings] == [
        ("# os.path — Common pathname manipulations", 1),
        ("## os.path.basename(path)", 2),
        ("### x.y()", 3),
    ]
    assert doc.title == "os.path — Common pathname manipulations"
    # What the answerer may quote: prose and list items; never the signature, a heading or the code.
    answerable = [text[s.start : s.end] for s in sentence_spans(text) if s.answerable]
    assert "## os.path.basename(path)" not in answerable and "''" not in answerable
    assert "- posixpath for UNIX-style paths" in answerable
    assert "Return the base name of pathname path." in answerable


def test_html_content_root_is_the_innermost_named_one() -> None:
    page = (
        "<body><header><a href='/'>Site</a><nav><a href='/a'>A</a></nav></header>"
        "<div id='content'><aside class='toc-drawer'><a href='#x'>On this page</a></aside>"
        "<main><p>Skip me? No, main holds article.</p><article><header><h1>Post title</h1></header>"
        "<p>The body.</p><aside class='note'><p>A kept note.</p></aside><footer>Tags: a, b</footer></article>"
        "</main></div><footer>Site footer</footer></body>"
    )
    assert one(parse_bytes(page.encode(), "p.html")).text == "# Post title\n\nThe body.\n\nA kept note."
    # Articles side by side are no single root: their container is walked, navigation still dropped.
    page = "<body><nav><a href='/'>Home</a></nav><article><p>One.</p></article><article><p>Two.</p></article></body>"
    assert one(parse_bytes(page.encode(), "p.html")).text == "One.\n\nTwo."
    page = "<body><div role='navigation'>Menu</div><div role='main'><p>Main text.</p></div><p>Outside.</p></body>"
    assert one(parse_bytes(page.encode(), "p.html")).text == "Main text."


def test_html_without_a_root_drops_menus_and_link_tables_of_contents() -> None:
    # groff -Thtml: an inline table of contents of in-page links, then the page.
    page = (
        "<body><h1>LS</h1><a href='#NAME'>NAME</a><br><a href='#SYNOPSIS'>SYNOPSIS</a><br>"
        "<a href='#DESCRIPTION'>DESCRIPTION</a><br><hr><h2>NAME<a name='NAME'></a></h2>"
        "<p>ls - list directory contents</p>"
        "<p>See <a href='#a'>one</a>, <a href='#b'>two</a> and <a href='#c'>three</a> <a href='#d'>four</a>.</p>"
        "<ul><li><a href='n1.html'>Next</a></li><li><a href='n2.html'>Up</a></li>"
        "<li><a href='n3.html'>Index</a></li></ul>"
        "<table class='nav'><tr><td><a href='p.html'>Prev</a></td></tr></table></body>"
    )
    assert one(parse_bytes(page.encode(), "ls.html")).text == (
        "# LS\n\n## NAME\n\nls - list directory contents\n\nSee one, two and three four."
    )
    # A page that is only links (an index) keeps them rather than nothing.
    page = "<ul><li><a href='a.html'>Alpha</a><li><a href='b.html'>Beta</a><li><a href='c.html'>Gamma</a></ul>"
    assert one(parse_bytes(page.encode(), "index.html")).text == "- Alpha\n\n- Beta\n\n- Gamma"


def test_html_lists_code_fences_and_headings() -> None:
    page = (
        "<ol start='3'><li>three</li><li><h4>Four <b>bold</b></h4><p>four text</p></li></ol>"
        "<pre class='language-js'>const a = 1;\n```\nnot a fence</pre>"
        "<pre><code class='language-js cjs'>require('x');</code><code class='language-js mjs'>import x;</code>"
        "<button>copy</button></pre><h2>A<br>two-line <pre>heading</pre></h2><pre>   </pre>"
        "<dl><dt>term</dt><dd>def</dd></dl>"
    )
    text = one(parse_bytes(page.encode(), "l.html")).text
    assert text.split("\n\n") == [
        "3. three",
        "#### Four bold",  # a heading in a list item is a heading, without the bullet
        "four text",
        "````js\nconst a = 1;\n```\nnot a fence\n````",  # a longer fence than any inside
        "```js\nrequire('x');\nimport x;\n```",  # Node's CommonJS/ESM pair, one per line; no button
        "## A two-line heading",
        "### term",
        "def",
    ]


def test_html_table_cells_with_paragraphs_stay_on_their_row() -> None:
    page = (
        "<table><tr><th><p>JSON</p></th><th><p>Python</p></th></tr>"
        "<tr><td><p>object</p></td><td><p>dict</p><p>or a mapping</p></td></tr></table>"
        "<table><tr><td><h2>Layout</h2><p>Para one.</p><p>Para two.</p></td></tr></table>"
    )
    assert one(parse_bytes(page.encode(), "t.html")).text.split("\n\n") == [
        "JSON | Python",
        "object | dict or a mapping",
        "## Layout",  # a cell with a heading is page layout: its blocks stay paragraphs
        "Para one.",
        "Para two.",
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "<h2>Title <a class='headerlink' href='#t'>¶</a></h2>", "<p>Some prose. More.</p>",
                "<pre>code\n# c</pre>",
                "<ul><li>item</li>", "</ul>", "<dl><dt>f(x)</dt><dd>", "</dd></dl>", "<nav><a href='/'>n</a></nav>",
                "<main>", "</main>", "<table><tr><td>a</td><td>b</td></tr></table>", "<br>", "text", "<div>", "</div>",
                "<footer>f</footer>", "<a href='#x'>x</a>", "<article>", "</article>", "<h1>", "</h1>", "<pre>",
                "</pre>", "<li>", "```", "&para;",
            ]
        ),
        max_size=30,
    )
)  # fmt: skip
def test_html_headings_are_lines_and_spans_are_exact(parts: list[str]) -> None:
    try:
        doc = one(parse_bytes(("<body>" + "".join(parts) + "</body>").encode(), "h.html"))
    except InvalidInput:
        return  # no visible text
    text = doc.text
    for h in doc.headings:
        line = text[h.start : h.end]
        assert line == "#" * h.level + " " + line[h.level + 1 :] and "\n" not in line
        assert h.start == 0 or text[h.start - 2 : h.start] == "\n\n"
    for s in sentence_spans(text):
        assert text[s.start : s.end].strip() == text[s.start : s.end]
    if "&para;" not in parts:
        assert "¶" not in text  # permalink marks are dropped


def test_html_title_falls_back_to_h1_then_stem() -> None:
    assert one(parse_bytes(b"<h2>x</h2><h1>First <i>H1</i></h1><h1>Second</h1>", "a.html")).title == "First H1"
    assert one(parse_bytes(b"<p>no headings</p>", "dir/page.htm")).title == "page"
    assert one(parse_bytes(b"<title>  </title><p>blank title</p>", "t.html")).title == "t"


def test_html_unclosed_head_keeps_body() -> None:
    data = b"<html><head><title>T</title><meta charset=utf-8><style>p{}</style><body><p>hi</p></body></html>"
    doc = one(parse_bytes(data, "h.html"))
    assert (doc.text, doc.title) == ("hi", "T")


def test_html_without_visible_text() -> None:
    with pytest.raises(InvalidInput, match="has no visible text"):
        parse_bytes(b"<html><head><title>T</title></head><body><script>x()</script><!-- c --></body></html>", "e.html")


def test_html_latin1_declared_charset() -> None:
    data = '<meta charset="iso-8859-1"><p>café</p>'.encode("latin-1")
    assert one(parse_bytes(data, "l.html")).text == "café"


def test_html_nul_and_surrogate_entities_removed() -> None:
    doc = one(parse_bytes(b"<p>a&#0;b &#xD800;c</p>", "n.html"))
    doc.text.encode("utf-8")
    assert "\x00" not in doc.text


def test_html_deep_nesting_does_not_recurse() -> None:
    data = b"<div>" * 5000 + b"deep" + b"</div>" * 5000
    assert one(parse_bytes(data, "deep.html")).text == "deep"


# --------------------------------------------------------------------------- pdf


def test_pdf_text_layer(tmp_path: Path) -> None:
    f = write(tmp_path / "report.pdf", pdf_bytes("Hello from page one.", "Page two says goodbye.", title="Report T"))
    doc = one(load_path(f, tmp_path))
    assert doc.text == "Hello from page one.\n\nPage two says goodbye."
    assert doc.title == "Report T"
    assert doc.metadata == {"filename": "report.pdf", "pages": 2}
    assert doc.id == "report.pdf"


def test_pdf_title_falls_back_to_stem() -> None:
    assert one(parse_bytes(pdf_bytes("text"), "scan-01.pdf")).title == "scan-01"


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    """Shapes, no text and no image: nothing OCR could read (scans: tests/unit/test_parse_ocr.py)."""
    f = write(tmp_path / "scan.pdf", pdf_bytes("", ""))
    with pytest.raises(InvalidInput, match="'scan.pdf' has no text layer and no images with text to read"):
        load_path(f, tmp_path)


def test_pdf_encrypted_with_password() -> None:
    with pytest.raises(InvalidInput, match="encrypted PDF"):
        parse_bytes(pdf_bytes("secret", user_password="pw"), "locked.pdf")


def test_pdf_encrypted_with_empty_user_password_opens() -> None:
    assert one(parse_bytes(pdf_bytes("readable", user_password=""), "open.pdf")).text == "readable"


@pytest.mark.parametrize("data", [b"hello, not a pdf", b"%PDF-1.7\n garbage " * 10])
def test_pdf_corrupt(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="'bad.pdf' is (not a PDF|a corrupt or unreadable PDF)"):
        parse_bytes(data, "bad.pdf")


def test_pdf_truncated() -> None:
    data = pdf_bytes("will be cut")
    with pytest.raises(InvalidInput):
        parse_bytes(data[: len(data) // 3], "cut.pdf")


# --------------------------------------------------------------------------- jsonl


def test_jsonl_documents(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "title": "A", "text": "alpha", "metadata": {"topic": "x"}},
        {"title": "no id", "text": "beta\r\n"},
        {"text": "gamma", "metadata": {"filename": "orig.txt"}},
    ]
    raw = "\n".join(json.dumps(obj) for obj in lines[:2]) + "\n\n   \n" + json.dumps(lines[2]) + "\n"
    f = write(tmp_path / "sub" / "c.jsonl", "\ufeff" + raw)
    docs = load_path(f, tmp_path)
    assert [d.id for d in docs] == ["a", "sub/c.jsonl#2", "sub/c.jsonl#5"]
    assert [d.title for d in docs] == ["A", "no id", ""]
    assert [d.text for d in docs] == ["alpha", "beta\r\n", "gamma"]
    assert docs[0].metadata == {"topic": "x", "filename": "sub/c.jsonl"}
    assert docs[2].metadata == {"filename": "orig.txt"}  # the record's own filename wins
    assert all(d.source == str(f.resolve()) for d in docs)


def test_jsonl_id_prefix_and_metadata_defaults() -> None:
    data = b'{"text": "t", "metadata": {"k": 2}}\n'
    doc = one(parse_bytes(data, "up.jsonl", doc_id="batch", metadata={"k": 1, "lang": "en"}))
    assert doc.id == "batch#1"
    assert doc.metadata == {"k": 2, "lang": "en", "filename": "up.jsonl"}


def test_jsonl_unicode_line_separator_inside_string() -> None:
    doc = one(parse_bytes(json.dumps({"text": "a\u2028b"}, ensure_ascii=False).encode(), "u.jsonl"))
    assert doc.text == "a\u2028b"


def test_jsonl_escaped_nul_and_surrogates_normalized() -> None:
    doc = one(parse_bytes(b'{"id": "i", "text": "a\\u0000b\\ud800c\\ud83d\\ude00"}', "s.jsonl"))
    assert doc.text == "abc\U0001f600"


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("not json", "is not valid JSON"),
        ('{"text": "unterminated', "is not valid JSON"),
        ('{"text": NaN}', "is not valid JSON"),
        ("[1, 2]", "is a JSON list, not an object"),
        ('"just a string"', "is a JSON str, not an object"),
        ("42", "is a JSON int, not an object"),
        ('{"title": "no text"}', 'has no "text" field'),
        ('{"text": 5}', '"text" must be a string, got 5'),
        ('{"text": null}', '"text" must be a string, got null'),
        ('{"text": "t", "title": ["x"]}', '"title" must be a string'),
        ('{"text": "t", "id": 7}', '"id" must be a string, got 7'),
        ('{"text": "t", "metadata": [1]}', '"metadata" must be a JSON object, got [1]'),
        ('{"text": "t", "metadata": "m"}', '"metadata" must be a JSON object'),
        ('{"text": "   "}', 'has an empty "text"'),
        ('{"text": "t", "id": ""}', 'has an empty "id"'),
        ("[" * 100_000, "is not valid JSON"),
    ],
)
def test_jsonl_bad_lines(line: str, fragment: str) -> None:
    data = f'{{"id": "ok", "text": "fine"}}\n\n{line}\n'.encode()
    with pytest.raises(InvalidInput) as e:
        parse_bytes(data, "bad.jsonl")
    assert str(e.value).startswith("'bad.jsonl' line 3")
    assert fragment in str(e.value)


def test_jsonl_duplicate_ids() -> None:
    data = b'{"id": "x", "text": "1"}\n{"id": "y", "text": "2"}\n{"id": "x", "text": "3"}\n'
    with pytest.raises(InvalidInput, match="'d.jsonl' line 3 repeats id 'x' \\(first used on line 1\\)"):
        parse_bytes(data, "d.jsonl")


def test_jsonl_invalid_utf8() -> None:
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        parse_bytes(b'{"text": "caf\xe9"}', "l.jsonl")


# --------------------------------------------------------------------------- iter_files / load_path


def test_iter_files_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for rel in ["b.md", "a.txt", "sub/z.html", "sub/deeper/y.pdf", "sub/a.jsonl", "A.MD", "c.markdown"]:
        write(root / rel, "x")
    for rel in ["notes.doc", "image.gif", ".hidden.md", ".git/config.txt", "sub/.cache/x.md", "noext"]:
        write(root / rel, OLE2)
    write(root / "README", "Read me first.")  # no known type, but text: read as text
    skipped: list[Skipped] = []
    pairs = iter_files([root], skipped=skipped)
    assert all(r == root for _, r in pairs)
    rels = [f.relative_to(root).as_posix() for f, _ in pairs]
    assert rels == ["A.MD", "README", "a.txt", "b.md", "c.markdown", "sub/a.jsonl", "sub/deeper/y.pdf", "sub/z.html"]
    assert iter_files([str(root)]) == pairs  # str and Path both accepted, deterministic
    # What is passed over is said, with the reason; hidden files and folders are not.
    assert sorted((Path(s.path).relative_to(root).as_posix(), s.reason) for s in skipped) == [
        ("image.gif", "unsupported"),
        ("noext", "unsupported"),
        ("notes.doc", "unsupported"),
    ]
    assert all("unsupported file type" in s.error for s in skipped)


def test_iter_files_explicit_file_any_extension(tmp_path: Path) -> None:
    doc = write(tmp_path / "x.doc", OLE2)
    hidden = write(tmp_path / ".hidden.txt", "x")
    assert iter_files([doc, hidden]) == [(doc, tmp_path), (hidden, tmp_path)]
    with pytest.raises(UnsupportedFileType, match="'.doc'"):
        load_path(doc, tmp_path)


def test_iter_files_dedupes_and_keeps_argument_order(tmp_path: Path) -> None:
    a = write(tmp_path / "d" / "a.md", "x")
    b = write(tmp_path / "b.txt", "x")
    d = tmp_path / "d"
    assert iter_files([b, d, d, b]) == [(b, tmp_path), (a, d)]


def test_iter_files_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="path '.*nope' does not exist"):
        iter_files([tmp_path / "nope"])


def test_ids_relative_to_root(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "sub" / "a.md", "# A\ntext")
    write(root / "top.txt", "top")
    docs = [d for f, r in iter_files([root]) for d in load_path(f, r)]
    assert [d.id for d in docs] == ["sub/a.md", "top.txt"]
    assert docs[0].metadata["filename"] == "sub/a.md"
    assert docs[0].source == str((root / "sub" / "a.md").resolve())
    ((f, r),) = iter_files([root / "sub" / "a.md"])
    assert one(load_path(f, r)).id == "a.md"


def test_load_path_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_path(tmp_path / "gone.txt", tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_load_path_refuses_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert iter_files([tmp_path]) == []  # only regular files are discovered
    with pytest.raises(InvalidInput, match="is not a regular file"):
        load_path(fifo, tmp_path)


needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")


@needs_symlinks
def test_symlink_escaping_root_is_skipped_unless_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret.txt", "secret")
    write(outside / "dir" / "inner.md", "inner")
    root = tmp_path / "root"
    write(root / "real.txt", "real")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "linkdir").symlink_to(outside / "dir")
    (root / "inside.md").symlink_to(root / "real.txt")  # stays inside the root: kept
    (root / "broken.txt").symlink_to(tmp_path / "missing.txt")

    rels = [f.relative_to(root).as_posix() for f, _ in iter_files([root])]
    assert rels == ["inside.md", "real.txt"]

    followed = [f.relative_to(root).as_posix() for f, _ in iter_files([root], follow_symlinks=True)]
    assert followed == ["inside.md", "link.txt", "linkdir/inner.md", "real.txt"]


@needs_symlinks
def test_symlinked_root_is_allowed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real / "a.txt", "a")
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    assert iter_files([alias]) == [(alias / "a.txt", alias)]


@needs_symlinks
def test_symlink_loops_terminate(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "a" / "doc.md", "x")
    (root / "a" / "back").symlink_to(root)  # directory loop inside the root
    (root / "a" / "self").symlink_to(root / "a")
    (root / "self.txt").symlink_to(root / "self.txt")  # a link to itself (ELOOP)
    (root / "ping.md").symlink_to(root / "pong.md")
    (root / "pong.md").symlink_to(root / "ping.md")
    for follow in (False, True):
        pairs = iter_files([root], follow_symlinks=follow)
        assert [f.relative_to(root).as_posix() for f, _ in pairs] == ["a/doc.md"]


# --------------------------------------------------------------------------- never crash


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.lists(
            st.sampled_from(
                [
                    "<p>",
                    "</p>",
                    "<h1>",
                    "</h2>",
                    "<!--",
                    "-->",
                    "<![CDATA[",
                    "<script>",
                    "&#0;",
                    '{"text":',
                    '"x"',
                    "}",
                    "\n",
                    "\x00",
                    "\xff",
                    "<pre>",
                    "<td>",
                    " ",
                    "a",
                ]
            ),
            max_size=40,
        ).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass")),
    ),
    ext=st.sampled_from([".txt", ".md", ".html", ".jsonl", ".rst", ".csv", ".eml", ".mbox", ".docx", ".epub", ".gz"]),
)
def test_arbitrary_bytes_never_crash(data: bytes, ext: str) -> None:
    try:
        docs = parse_bytes(data, "f" + ext)
    except QAError:
        return
    assert docs and all(isinstance(d, Document) for d in docs)
    for d in docs:
        d.text.encode("utf-8")  # storable
        assert d.text.strip()
        for h in d.headings:
            assert 0 <= h.start < h.end <= len(d.text)


def test_supported_tuple() -> None:
    assert SUPPORTED == (
        *(".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl", ".rst", ".docx", ".pptx", ".xlsx"),
        *(".csv", ".tsv", ".epub", ".odt", ".eml", ".mbox", ".gz"),
        *(".png", ".jpg", ".jpeg", ".tif", ".tiff"),
    )


# --------------------------------------------------------------------------- listed, then swapped (issue 16.10)


def _swap_for_symlink(path: Path, target: Path) -> None:
    """Replace ``path`` (already listed) by a symlink to ``target``, as an attacker would."""
    if path.is_dir():
        path.rename(path.with_name(path.name + "-moved"))
    else:
        path.unlink()
    path.symlink_to(target)


@needs_symlinks
def test_file_swapped_for_symlink_after_listing_is_not_read(tmp_path: Path) -> None:
    secret = write(tmp_path / "outside" / "secret.txt", "the outside secret")
    root = tmp_path / "root"
    write(root / "a.txt", "inside")
    ((f, r),) = iter_files([root])
    _swap_for_symlink(f, secret)
    with pytest.raises(InvalidInput, match="symlink|outside"):
        load_path(f, r)
    # Through the indexer too: the file is recorded as failed, its target never reaches a document.
    indexed: list[Document] = []
    summary = index_files(lambda docs: indexed.extend(docs) or [], [(f, r)], max_bytes=10_000)
    assert indexed == [] and len(summary.failed) == 1
    # --follow-symlinks keeps its documented meaning: links may lead outside the roots.
    assert one(load_path(f, r, follow_symlinks=True)).text == "the outside secret"


@needs_symlinks
def test_directory_swapped_for_symlink_after_listing_is_not_read(tmp_path: Path) -> None:
    write(tmp_path / "outside" / "a.txt", "the outside secret")
    root = tmp_path / "root"
    write(root / "sub" / "a.txt", "inside")
    ((f, r),) = iter_files([root])
    _swap_for_symlink(root / "sub", tmp_path / "outside")
    with pytest.raises(InvalidInput, match="outside"):
        load_path(f, r)


@needs_symlinks
def test_symlinks_inside_the_root_are_still_read(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real / "a.txt", "real text")
    (real / "b.txt").symlink_to(real / "a.txt")
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    assert [one(load_path(f, r)).text for f, r in iter_files([alias])] == ["real text", "real text"]


@needs_symlinks
def test_explicit_symlink_file_leading_elsewhere_needs_follow(tmp_path: Path) -> None:
    target = write(tmp_path / "elsewhere" / "doc.txt", "elsewhere")
    link = tmp_path / "here" / "doc.txt"
    link.parent.mkdir()
    link.symlink_to(target)
    ((f, r),) = iter_files([link])
    with pytest.raises(InvalidInput, match="--follow-symlinks"):
        load_path(f, r)
    assert one(load_path(f, r, follow_symlinks=True)).id == "doc.txt"
