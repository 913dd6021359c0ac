"""Turn files and uploaded bytes into ``Document`` records: .txt, .md, .html, .pdf, .jsonl and
images (.png, .jpg, .tiff, read by OCR).

Every parser checks its content and raises ``InvalidInput`` (or a subclass) with a message that
quotes the file and says what to do; nothing else escapes ``parse_bytes`` for bad input.

One module per format (``text``, ``html``, ``pdf``, ``image``, ``jsonl``); ``ocr`` reads page images
for ``pdf`` and ``image``; ``content`` holds the checks and
clean-up they share, ``formats`` the supported extensions, ``files`` the walk over directories and
the reading of one file. This module only dispatches: of the package's modules only ``worker`` (which
runs it in a worker process, with a time and memory limit per file) imports it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qa.errors import InvalidInput, TooLarge
from qa.limits import shorten
from qa.parse.content import UTF8_BOM, normalize_text, normalize_value
from qa.parse.files import iter_files, read_file
from qa.parse.formats import HTML_EXTS, IMAGE_EXTS, SUPPORTED, TEXT_EXTS, check_extension, stem
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
    ext = check_extension(filename)
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(
            f"'{filename}' is {len(data):,} bytes, over the limit of {max_bytes:,} bytes; "
            "split it into smaller files or raise QA_MAX_DOCUMENT_BYTES"
        )
    if not data.removeprefix(UTF8_BOM).strip():
        raise InvalidInput(f"'{filename}' is empty: nothing to index")
    src = source if source is not None else filename

    if ext == ".jsonl":
        return parse_jsonl(data, filename, doc_id, metadata, src)

    extra: Metadata = {}
    headings: tuple[Heading, ...] = ()
    page_starts: tuple[int, ...] = ()
    if ext in TEXT_EXTS:
        text = decode_text(data, filename)
        default_title = (markdown_title(text) if ext != ".txt" else None) or stem(filename)
    elif ext in HTML_EXTS:
        text, headings, html_title = parse_html(data, filename)
        default_title = html_title or stem(filename)
    elif ext in IMAGE_EXTS:
        image = parse_image(data, filename, ocr, on_ocr)
        text, page_starts = image.text, image.page_starts
        default_title = stem(filename)
        extra["pages"] = extra["ocr_pages"] = image.pages
    else:
        pdf = parse_pdf(data, filename, ocr, on_ocr)
        text, page_starts = pdf.text, pdf.page_starts
        default_title = pdf.title or stem(filename)
        extra["pages"] = pdf.pages
        if pdf.ocr_pages:
            extra["ocr_pages"] = pdf.ocr_pages

    meta: Metadata = {"filename": filename, **extra, **normalize_value(metadata or {})}
    # A title given with the file is the user's (checked against QA_MAX_TITLE_CHARS when indexed);
    # one taken from the file is cut: a 2 MB <title> or first heading is not a title.
    default_title = shorten(normalize_text(default_title), PARSED_TITLE_CHARS)
    return [
        Document(
            id=normalize_text(doc_id or filename),
            text=text,
            title=normalize_text(title if title is not None else default_title),
            metadata=meta,
            source=src,
            headings=headings,
            page_starts=page_starts,
        )
    ]


def load_path(path: Path, root: Path, max_bytes: int | None = None, follow_symlinks: bool = False) -> list[Document]:
    """Read ``path`` and parse it with id = its POSIX path relative to ``root``; without
    ``follow_symlinks`` what is read must be inside ``root`` (see ``qa.parse.files.read_file``)."""
    doc_id, data = read_file(path, root, max_bytes, follow_symlinks)
    return parse_bytes(data, doc_id, doc_id=doc_id, max_bytes=max_bytes, source=os.path.abspath(path))
