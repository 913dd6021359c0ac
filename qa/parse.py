"""Turn files and uploaded bytes into ``Document`` records: .txt, .md, .html, .pdf and .jsonl.

Every parser checks its content and raises ``InvalidInput`` (or a subclass) with a message that
quotes the file and says what to do; nothing else escapes ``parse_bytes`` for bad input.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from qa.errors import InvalidInput, TooLarge, UnsupportedFileType
from qa.types import Document, Heading, Metadata

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl")

_TEXT_EXTS = (".txt", ".md", ".markdown")
_HTML_EXTS = (".html", ".htm")
_UTF8_BOM = b"\xef\xbb\xbf"

# Control bytes that never appear in real text files. Tab, LF, CR, form feed (page breaks in
# old text files) and ESC (ANSI colours in logs) are left out so such files are not rejected.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
# Share of control bytes above which a file is treated as binary rather than odd text.
_MAX_CONTROL_SHARE = 0.10

# A paired surrogate written as two code points (e.g. from JSON "\ud83d\ude00") is one real
# character; anything left in the surrogate range afterwards is lone and cannot be UTF-8 encoded.
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize_text(text: str) -> str:
    """Remove NUL characters and lone surrogates (unstorable as UTF-8); leave everything else as is."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _SURROGATE.search(text) is None:
        return text
    text = _SURROGATE_PAIR.sub(_join_surrogates, text)
    return _SURROGATE.sub("", text)


def _join_surrogates(m: re.Match[str]) -> str:
    """Combine a high/low surrogate pair into the character it encodes."""
    return m.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def _normalize_value(value: Any) -> Any:
    """Apply ``normalize_text`` to every string (keys too) inside JSON-like metadata."""
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, dict):
        return {normalize_text(str(k)): _normalize_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_value(v) for v in value]
    return value


def _basename(filename: str) -> str:
    """Last path component; uploads may carry Windows paths, so split on both separators."""
    return filename.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _extension(filename: str) -> str:
    """Lower-cased extension of ``filename`` including the dot, or '' if it has none."""
    name = _basename(filename)
    dot = name.rfind(".")
    # A leading dot (".bashrc") names a hidden file, not an extension.
    return name[dot:].lower() if dot > 0 else ""


def _stem(filename: str) -> str:
    """File name without directory and extension, used as the fallback title."""
    name = _basename(filename)
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def _check_extension(filename: str) -> str:
    """The file's lower-cased extension, or UnsupportedFileType if we have no parser for it."""
    ext = _extension(filename)
    if ext not in SUPPORTED:
        shown = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileType(
            f"unsupported file type {shown} for '{filename}': supported are {', '.join(SUPPORTED)}"
        )
    return ext


def parse_bytes(
    data: bytes,
    filename: str,
    doc_id: str | None = None,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    max_bytes: int | None = None,
    *,
    source: str | None = None,
) -> list[Document]:
    """Parse one file's bytes into Documents, choosing the parser by ``filename``'s extension."""
    ext = _check_extension(filename)
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(
            f"'{filename}' is {len(data):,} bytes, over the limit of {max_bytes:,} bytes; "
            "split it into smaller files or raise QA_MAX_DOCUMENT_BYTES"
        )
    if not data.removeprefix(_UTF8_BOM).strip():
        raise InvalidInput(f"'{filename}' is empty: nothing to index")
    src = source if source is not None else filename

    if ext == ".jsonl":
        return _parse_jsonl(data, filename, doc_id, metadata, src)

    extra: Metadata = {}
    headings: tuple[Heading, ...] = ()
    if ext in _TEXT_EXTS:
        text = _decode_text(data, filename)
        default_title = (_markdown_title(text) if ext != ".txt" else None) or _stem(filename)
    elif ext in _HTML_EXTS:
        text, headings, html_title = _parse_html(data, filename)
        default_title = html_title or _stem(filename)
    else:
        text, pdf_title, pages = _parse_pdf(data, filename)
        default_title = pdf_title or _stem(filename)
        extra["pages"] = pages

    meta: Metadata = {"filename": filename, **extra, **_normalize_value(metadata or {})}
    return [
        Document(
            id=normalize_text(doc_id or filename),
            text=text,
            title=normalize_text(title if title is not None else default_title),
            metadata=meta,
            source=src,
            headings=headings,
        )
    ]


# --------------------------------------------------------------------------- text and markdown


def _check_not_binary(data: bytes, filename: str) -> None:
    """Reject content that is clearly not text, before decoding, with a reason the user can act on."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput(f"'{filename}' is UTF-16 encoded; convert it to UTF-8")
    if b"\x00" in data:
        raise InvalidInput(
            f"'{filename}' looks binary (it contains NUL bytes), not text; only UTF-8 text can be indexed"
        )
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(data):
        raise InvalidInput(
            f"'{filename}' looks binary ({controls} of {len(data)} bytes are control characters), not text; "
            "only UTF-8 text can be indexed"
        )


def _decode_utf8(data: bytes, filename: str) -> str:
    """Decode UTF-8 (a leading BOM is dropped) or raise naming the first bad byte and its offset."""
    offset = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as e:
        pos = offset + e.start
        raise InvalidInput(
            f"'{filename}' is not valid UTF-8 text (byte 0x{data[pos]:02x} at offset {pos}); convert it to UTF-8"
        ) from None


def _decode_text(data: bytes, filename: str) -> str:
    """Bytes of a .txt/.md file to text, kept exactly as written (CRLF and whitespace included)."""
    _check_not_binary(data, filename)
    text = normalize_text(_decode_utf8(data, filename))
    if not text.strip():
        raise InvalidInput(f"'{filename}' is empty: nothing to index")
    return text


_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _markdown_title(text: str) -> str | None:
    """Text of the first level-1 ATX heading ("# Title") outside fenced code blocks, if any."""
    fence: str | None = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        h = _ATX_H1.match(line)
        if h and h.group(1).strip():
            return h.group(1).strip()
    return None


# --------------------------------------------------------------------------- html

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
    _check_not_binary(data, filename)
    try:
        return _decode_utf8(data, filename)
    except InvalidInput:
        pass
    from bs4 import UnicodeDammit

    markup = UnicodeDammit(data, is_html=True).unicode_markup
    if markup is None:
        raise InvalidInput(f"'{filename}' could not be decoded as text; convert it to UTF-8")
    return markup


def _parse_html(data: bytes, filename: str) -> tuple[str, tuple[Heading, ...], str | None]:
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


# --------------------------------------------------------------------------- pdf


def _parse_pdf(data: bytes, filename: str) -> tuple[str, str | None, int]:
    """Text layer of a PDF (pages joined by blank lines), its metadata title and page count."""
    import pypdf

    # Readers accept the header anywhere in the first 1 KiB (some tools prepend junk); so do we.
    if b"%PDF-" not in data[:1024]:
        raise InvalidInput(f"'{filename}' is not a PDF (no %PDF- header); check the file or its extension")
    # pypdf raises many exception types (its own, ValueError, KeyError, ...) on damaged files;
    # any of them means "this file cannot be read", which is the user's problem to fix.
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many "protected" PDFs have an empty user password
            except Exception:
                opened = pypdf.PasswordType.NOT_DECRYPTED
            if opened == pypdf.PasswordType.NOT_DECRYPTED:
                raise InvalidInput(
                    f"'{filename}' is an encrypted PDF that cannot be opened without a password; "
                    "save an unencrypted copy and index that"
                )
        pages = [page.extract_text() or "" for page in reader.pages]
        try:
            meta_title = reader.metadata.title if reader.metadata is not None else None
        except Exception:  # a broken info dictionary should not lose the text
            meta_title = None
    except InvalidInput:
        raise
    except Exception as e:
        raise InvalidInput(
            f"'{filename}' is a corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export or repair it"
        ) from None

    if not pages:
        raise InvalidInput(f"'{filename}' is a PDF with no pages: nothing to index")
    text = normalize_text("\n\n".join(pages))
    if not text.strip():
        raise InvalidInput(
            f"'{filename}' has no text layer (it is probably a scanned image) and OCR is not supported; "
            "run it through OCR first (e.g. ocrmypdf) and index the result"
        )
    title = normalize_text(meta_title).strip() if isinstance(meta_title, str) else ""
    return text, title or None, len(pages)


# --------------------------------------------------------------------------- jsonl


def _reject_constant(name: str) -> Any:
    """Refuse NaN/Infinity: they are not JSON and would not survive a round trip."""
    raise ValueError(f"{name} is not valid JSON")


def _parse_jsonl(
    data: bytes, filename: str, doc_id: str | None, metadata: dict[str, Any] | None, source: str
) -> list[Document]:
    """One Document per non-blank line of ``{"id", "title", "text", "metadata"}`` objects."""
    _check_not_binary(data, filename)
    content = _decode_utf8(data, filename)
    base_meta = _normalize_value(metadata or {})
    prefix = doc_id or filename
    docs: list[Document] = []
    seen: dict[str, int] = {}
    # Split on "\n" only: str.splitlines() would also split on U+2028 etc., which JSON allows in strings.
    for line_no, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"'{filename}' line {line_no}"
        try:
            obj = json.loads(line, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as e:
            raise InvalidInput(f"{where} is not valid JSON ({e}); write one JSON object per line") from None
        if not isinstance(obj, dict):
            raise InvalidInput(
                f"{where} is a JSON {type(obj).__name__}, not an object; "
                'write one object per line like {"id": ..., "title": ..., "text": ...}'
            )
        if "text" not in obj:
            raise InvalidInput(f'{where} has no "text" field; every line needs the document text')
        for key in ("id", "title", "text"):
            if key in obj and not isinstance(obj[key], str):
                raise InvalidInput(f'{where}: "{key}" must be a string, got {json.dumps(obj[key])[:60]}; quote it')
        text = normalize_text(obj["text"])
        if not text.strip():
            raise InvalidInput(f'{where} has an empty "text"; remove the line or add text')
        line_meta = obj.get("metadata", {})
        if not isinstance(line_meta, dict):
            raise InvalidInput(f'{where}: "metadata" must be a JSON object, got {json.dumps(line_meta)[:60]}')
        if "id" in obj:
            ident = normalize_text(obj["id"])
            if not ident.strip():
                raise InvalidInput(f'{where} has an empty "id"; give it an id or leave the field out')
        else:
            ident = normalize_text(f"{prefix}#{line_no}")
        if ident in seen:
            raise InvalidInput(f"{where} repeats id '{ident}' (first used on line {seen[ident]}); ids must be unique")
        seen[ident] = line_no
        meta: Metadata = {**base_meta, **_normalize_value(line_meta)}
        meta.setdefault("filename", filename)
        docs.append(
            Document(
                id=ident,
                text=text,
                title=normalize_text(obj.get("title", "")),
                metadata=meta,
                source=source,
            )
        )
    if not docs:
        raise InvalidInput(f"'{filename}' is empty: nothing to index")
    return docs


# --------------------------------------------------------------------------- files on disk


def _is_within(path: str, root: str) -> bool:
    """True if real path ``path`` is ``root`` or inside it (both already resolved)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk(root: Path, follow_symlinks: bool) -> Iterator[Path]:
    """Supported, non-hidden regular files under ``root``, never leaving it unless following symlinks."""
    real_root = os.path.realpath(root)
    # Real directories are walked first and symlinked ones afterwards, so a file reachable both
    # ways is listed under its real path; ``visited`` (by real path) stops loops and repeats.
    visited: set[str] = set()
    pending: list[Path] = [root]
    linked: list[Path] = []
    while pending or linked:
        directory = pending.pop() if pending else linked.pop(0)
        real_dir = os.path.realpath(directory)
        if real_dir in visited:
            continue
        visited.add(real_dir)
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            raise InvalidInput(f"cannot read directory '{directory}': {e.strerror}; check its permissions") from None
        subdirs: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            is_link = entry.is_symlink()
            if is_link:
                target = os.path.realpath(path)
                if not follow_symlinks and not _is_within(target, real_root):
                    continue
            try:
                st = os.stat(path)  # follows links; raises for broken links and loops
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                (linked if is_link else subdirs).append(path)
            elif stat.S_ISREG(st.st_mode) and _extension(entry.name) in SUPPORTED:
                # Only regular files: reading a FIFO or device would block or never end.
                yield path
        pending.extend(reversed(subdirs))


def _sort_key(pair: tuple[Path, Path]) -> tuple[str, ...]:
    """Order files of one root by their relative path components."""
    file, root = pair
    return file.relative_to(root).parts


def iter_files(paths: Sequence[str | Path], follow_symlinks: bool = False) -> list[tuple[Path, Path]]:
    """Expand files and directories into sorted, de-duplicated ``(file, root)`` pairs."""
    result: list[tuple[Path, Path]] = []
    seen: set[tuple[Path, Path]] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InvalidInput(f"path '{raw}' does not exist; check the spelling or give an existing file or directory")
        if path.is_dir():
            # Sort per root so the order does not depend on the walk's real-before-linked scheduling.
            found = sorted(((f, path) for f in _walk(path, follow_symlinks)), key=_sort_key)
        else:
            # An explicit file is returned whatever its extension, so the caller reports why it is skipped.
            found = [(path, path.parent)]
        for pair in found:
            if pair not in seen:
                seen.add(pair)
                result.append(pair)
    return result


def load_path(path: Path, root: Path, max_bytes: int | None = None) -> list[Document]:
    """Read ``path`` and parse it with id = its POSIX path relative to ``root``."""
    path = Path(path)
    try:
        rel = path.relative_to(root)
    except ValueError:
        try:
            rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        except ValueError:
            rel = Path(path.name)
    doc_id = PurePosixPath(*rel.parts).as_posix() if rel.parts else path.name
    # Before reading: an unsupported file should say so, not that it is too large or unreadable.
    _check_extension(doc_id)
    try:
        # A FIFO or device named like a document would block the read forever.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InvalidInput(f"'{path}' is not a regular file; give a file or a directory of files")
        with open(path, "rb") as f:
            if max_bytes is not None:
                size = os.fstat(f.fileno()).st_size
                if size > max_bytes:
                    raise TooLarge(
                        f"'{doc_id}' is {size:,} bytes, over the limit of {max_bytes:,} bytes; "
                        "split it into smaller files or raise QA_MAX_DOCUMENT_BYTES"
                    )
                # Read one byte past the limit so a file that grew since fstat is still caught.
                data = f.read(max_bytes + 1)
            else:
                data = f.read()
    except OSError as e:
        raise InvalidInput(f"cannot read '{path}': {e.strerror}; check that it exists and is readable") from None
    return parse_bytes(data, doc_id, doc_id=doc_id, max_bytes=max_bytes, source=os.path.abspath(path))
