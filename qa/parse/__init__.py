"""Turn files and uploaded bytes into ``Document`` records: .txt, .md, .rst, .html, .pdf, .jsonl,
.docx, .pptx, .xlsx, .csv/.tsv, .epub, .odt, .eml, .mbox, any of them gzip'd (.gz), and images
(.png, .jpg, .tiff, read by OCR).

Every parser checks its content and raises ``InvalidInput`` (or a subclass) with a message that
quotes the file and says what to do; nothing else escapes ``parse_bytes`` for bad input (what a
library raises for a damaged file is worded here).

One module per format (``text``, ``rst``, ``html``, ``pdf``, ``image``, ``jsonl``, ``word``,
``slides``, ``sheets``, ``epub``, ``odt``, ``mail``); ``ocr`` reads page images for ``pdf`` and
``image``; ``content`` holds the checks, clean-up and decoding they share, ``blocks`` the text the
structured formats are written as, ``formats`` the supported extensions, ``files`` the walk over
directories and the reading of one file. This module only dispatches: of the package's modules only
``worker`` (which runs it in a worker process, with a time and memory limit per file) imports it.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import InvalidInput, NoText, QAError, TooLarge
from qa.limits import shorten
from qa.parse.content import UTF8_BOM, normalize_text, normalize_value
from qa.parse.files import iter_files, read_file
from qa.parse.formats import (
    CSV_EXTS,
    DOCX_EXTS,
    EPUB_EXTS,
    GZIP_EXT,
    HTML_EXTS,
    IMAGE_EXTS,
    JSONL_EXTS,
    MAIL_EXTS,
    MBOX_EXTS,
    ODT_EXTS,
    PPTX_EXTS,
    RST_EXTS,
    SUPPORTED,
    TEXT_EXTS,
    XLSX_EXTS,
    file_type,
    inner_name,
    stem,
)
from qa.parse.html import parse_html
from qa.parse.image import parse_image
from qa.parse.jsonl import parse_jsonl
from qa.parse.ocr import Ocr, OcrProgress
from qa.parse.pdf import parse_pdf
from qa.parse.text import decode_text, markdown_title
from qa.types import Document, Heading, Metadata

__all__ = ["SUPPORTED", "iter_files", "load_path", "normalize_text", "parse_bytes"]

# Longest title taken from a file's content or name (QA_MAX_TITLE_CHARS may not be set lower).
PARSED_TITLE_CHARS = 200

# The ZIP-based formats: what to call them in a message, and what writes them.
_ZIP_KINDS = {
    ".docx": ("Word document", "Word or LibreOffice"),
    ".pptx": ("PowerPoint deck", "PowerPoint or LibreOffice"),
    ".xlsx": ("Excel workbook", "Excel or LibreOffice"),
    ".epub": ("EPUB e-book", "an e-book reader"),
    ".odt": ("OpenDocument text", "LibreOffice"),
}


@dataclass
class _Parsed:
    """One file's text and what the parser found besides."""

    text: str
    title: str | None = None
    headings: tuple[Heading, ...] = ()
    page_starts: tuple[int, ...] = ()
    extra: Metadata = field(default_factory=dict)


def parse_bytes(
    data: bytes,
    filename: str,
    doc_id: str | None = None,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    max_bytes: int | None = None,
    *,
    source: str | None = None,
    ocr: Ocr | None = None,
    on_ocr: OcrProgress | None = None,
) -> list[Document]:
    """Parse one file's bytes into Documents, choosing the parser by ``filename``'s extension.

    ``ocr`` says whether and how scanned PDF pages and images are read (default ``Ocr()``:
    ``auto``, English); ``on_ocr`` is told how many pages are about to be read by OCR."""
    ext = file_type(filename, data)
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(
            f"'{filename}' is {len(data):,} bytes, over the limit of {max_bytes:,} bytes; "
            "split it into smaller files or raise QA_MAX_DOCUMENT_BYTES"
        )
    if not data.removeprefix(UTF8_BOM).strip():
        raise NoText(f"'{filename}' is empty: nothing to index")
    src = source if source is not None else filename
    name = filename
    if ext == GZIP_EXT:
        data = _gunzip(data, filename, max_bytes)
        name = inner_name(filename)
        if not data.removeprefix(UTF8_BOM).strip():
            raise NoText(f"'{filename}' is empty: nothing to index")
        # "syslog.gz", "NEWS.Debian.gz": the file inside is text when it looks like text.
        ext = file_type(name, data)

    if ext in JSONL_EXTS:
        return parse_jsonl(data, filename, doc_id, metadata, src)
    if ext in MBOX_EXTS:
        return _mbox(data, filename, doc_id, metadata, src)

    parsed = _parse(data, ext, name, filename, ocr, on_ocr)
    if not parsed.text.strip():
        raise NoText(f"'{filename}' has no text: nothing to index")
    meta: Metadata = {"filename": filename, **parsed.extra, **normalize_value(metadata or {})}
    # A title given with the file is the user's (checked against QA_MAX_TITLE_CHARS when indexed);
    # one taken from the file is cut: a 2 MB <title> or first heading is not a title.
    default_title = shorten(normalize_text(parsed.title or stem(filename)), PARSED_TITLE_CHARS)
    return [
        Document(
            id=normalize_text(doc_id or filename),
            text=parsed.text,
            title=normalize_text(title if title is not None else default_title),
            metadata=meta,
            source=src,
            headings=parsed.headings,
            page_starts=parsed.page_starts,
        )
    ]


def _parse(data: bytes, ext: str, name: str, filename: str, ocr: Ocr | None, on_ocr: OcrProgress | None) -> _Parsed:
    """The text of one file of type ``ext`` (``name`` is the file's name, the inner one of a .gz)."""
    if ext in TEXT_EXTS:
        text, encoding = decode_text(data, filename)
        extra: Metadata = {"encoding": encoding} if encoding != "utf-8" else {}
        return _Parsed(text, markdown_title(text) if ext != ".txt" else None, extra=extra)
    if ext in HTML_EXTS:
        text, headings, html_title = parse_html(data, filename)
        return _Parsed(text, html_title, headings)
    if ext == ".pdf":
        pdf = parse_pdf(data, filename, ocr, on_ocr)
        extra = {"pages": pdf.pages, **({"ocr_pages": pdf.ocr_pages} if pdf.ocr_pages else {})}
        return _Parsed(pdf.text, pdf.title, page_starts=pdf.page_starts, extra=extra)
    if ext in IMAGE_EXTS:
        image = parse_image(data, filename, ocr, on_ocr)
        return _Parsed(
            image.text, None, page_starts=image.page_starts, extra={"pages": image.pages, "ocr_pages": image.pages}
        )
    if ext in RST_EXTS:
        from qa.parse.rst import parse_rst

        built, rst_title = parse_rst(data, filename)
        return _Parsed(built.text, rst_title, tuple(built.headings))
    if ext in CSV_EXTS:
        from qa.parse.sheets import parse_csv

        return _Parsed(parse_csv(data, filename, tab=ext == ".tsv").text)
    if ext in MAIL_EXTS:
        from qa.parse.mail import check_message, message_text, parse_message

        msg = parse_message(data)
        check_message(msg, filename)
        mail_text, mail_headings, subject, fields = message_text(msg, filename)
        return _Parsed(mail_text, subject or None, tuple(mail_headings), extra=fields)
    return _zip_format(data, ext, filename)


def _zip_format(data: bytes, ext: str, filename: str) -> _Parsed:
    """.docx, .pptx, .xlsx, .epub, .odt: ZIP archives of XML, read by their libraries; what those
    raise for a damaged file becomes an ``InvalidInput`` that says so."""
    kind, app = _ZIP_KINDS[ext]
    if not data.startswith(b"PK"):
        raise InvalidInput(
            f"'{filename}' is not a {kind} (not a ZIP archive, as {ext} files are); "
            f"check the file, or save it again as {ext} from {app}"
        )
    try:
        if ext in DOCX_EXTS:
            from qa.parse.word import parse_docx

            built, title = parse_docx(data)
            return _Parsed(built.text, title, tuple(built.headings))
        if ext in PPTX_EXTS:
            from qa.parse.slides import parse_pptx

            built, title, slides = parse_pptx(data)
            return _Parsed(built.text, title, tuple(built.headings), tuple(built.page_starts), {"slides": slides})
        if ext in XLSX_EXTS:
            from qa.parse.sheets import parse_xlsx

            built, title = parse_xlsx(data)
            return _Parsed(built.text, title, tuple(built.headings))
        if ext in EPUB_EXTS:
            from qa.parse.epub import parse_epub

            built, title = parse_epub(data, filename)
            return _Parsed(built.text, title, tuple(built.headings))
        assert ext in ODT_EXTS, ext
        from qa.parse.odt import parse_odt

        built, title = parse_odt(data, filename)
        return _Parsed(built.text, title, tuple(built.headings))
    except (QAError, MemoryError, RecursionError):
        raise
    except Exception as e:  # each library has its own exceptions (BadZipFile, KeyError for a missing part...)
        raise InvalidInput(
            f"'{filename}' is not a readable {kind} ({type(e).__name__}: {str(e)[:200]}); "
            f"check that it opens in {app}, or save it again as {ext}"
        ) from None


def _gunzip(data: bytes, filename: str, max_bytes: int | None) -> bytes:
    """The decompressed content of a .gz file (every member), at most ``max_bytes``.

    Raises:
        InvalidInput: not gzip data, or cut short.
        TooLarge: the content is over ``max_bytes`` (checked while decompressing: a small file
            that inflates to gigabytes is stopped at the limit).
    """
    import gzip
    import zlib

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read() if max_bytes is None else f.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise InvalidInput(f"'{filename}' is not a valid gzip file ({e}); check the file or decompress it") from None
    if max_bytes is not None and len(out) > max_bytes:
        raise TooLarge(
            f"'{filename}' decompresses to over {max_bytes:,} bytes, the limit; "
            "split it into smaller files or raise QA_MAX_DOCUMENT_BYTES"
        )
    return out


def _mbox(
    data: bytes, filename: str, doc_id: str | None, metadata: dict[str, Any] | None, source: str
) -> list[Document]:
    """One Document per message of a mailbox, with ids ``<file>#<n>`` (n from 1, in file order)."""
    from qa.parse.mail import message_text, parse_message, split_mbox

    base = normalize_value(metadata or {})
    prefix = doc_id or filename
    docs = []
    for n, raw in enumerate(split_mbox(data), start=1):
        text, headings, subject, fields = message_text(parse_message(raw), f"{filename}#{n}")
        if not text.strip():
            continue
        docs.append(
            Document(
                id=normalize_text(f"{prefix}#{n}"),
                text=text,
                title=shorten(normalize_text(subject or f"{stem(filename)} #{n}"), PARSED_TITLE_CHARS),
                metadata={"filename": filename, **fields, **base},
                source=source,
                headings=tuple(headings),
            )
        )
    if not docs:
        raise InvalidInput(
            f"'{filename}' holds no messages (an mbox file starts each one with a 'From ' line); check the file"
        )
    return docs


def load_path(path: Path, root: Path, max_bytes: int | None = None, follow_symlinks: bool = False) -> list[Document]:
    """Read ``path`` and parse it with id = its POSIX path relative to ``root``; without
    ``follow_symlinks`` what is read must be inside ``root`` (see ``qa.parse.files.read_file``)."""
    doc_id, data = read_file(path, root, max_bytes, follow_symlinks)
    return parse_bytes(data, doc_id, doc_id=doc_id, max_bytes=max_bytes, source=os.path.abspath(path))
