"""PDF: the text layer of every page (no OCR) cleaned into flowing text with each page's start
offset, the metadata title and the page count.

The text comes from PDFium (``pypdfium2``): ten times pypdf's speed on Debian's manuals, the same
reading order (two-column pages column by column), and a mark on line-end hyphens; the choice,
measured against pypdf and pdfplumber, is in bench/results/pdf-extract.md. ``pdfclean`` turns the
pages into the stored text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from qa.errors import InvalidInput
from qa.parse.content import normalize_text
from qa.parse.pdfclean import clean_pages

# PDFium is not thread-safe: one call into it at a time in a process (a parse worker runs one
# file at a time anyway; with QA_PARSE_TIMEOUT=0 the server's threads parse in its own process).
_PDFIUM = threading.Lock()
# FPDF_GetLastError's code for a wrong or missing password.
_ERR_PASSWORD = 4


@dataclass(frozen=True)
class ParsedPdf:
    text: str
    title: str | None
    pages: int
    page_starts: tuple[int, ...]


def parse_pdf(data: bytes, filename: str) -> ParsedPdf:
    """The cleaned text layer of a PDF with its page offsets (see ``qa.parse.pdfclean``), its
    metadata title and its page count.

    Raises:
        InvalidInput: not a PDF, encrypted with a password, unreadable, without pages or without
            a text layer; the message says what to do.
    """
    import pypdfium2 as pdfium

    # Readers accept the header anywhere in the first 1 KiB (some tools prepend junk); so do we.
    if b"%PDF-" not in data[:1024]:
        raise InvalidInput(f"'{filename}' is not a PDF (no %PDF- header); check the file or its extension")
    with _PDFIUM:
        try:
            # An encrypted PDF with an empty user password (many "protected" ones) opens as is.
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            if getattr(e, "err_code", None) == _ERR_PASSWORD:
                raise InvalidInput(
                    f"'{filename}' is an encrypted PDF that cannot be opened without a password; "
                    "save an unencrypted copy and index that"
                ) from None
            raise InvalidInput(f"'{filename}' is a corrupt or unreadable PDF ({e}); re-export or repair it") from None
        try:
            pages = _page_texts(doc)
            try:
                meta_title = doc.get_metadata_value("Title")
            except Exception:  # a broken info dictionary should not lose the text
                meta_title = None
        except Exception as e:
            raise InvalidInput(
                f"'{filename}' is a corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export or repair it"
            ) from None
        finally:
            doc.close()

    if not pages:
        raise InvalidInput(f"'{filename}' is a PDF with no pages: nothing to index")
    cleaned = clean_pages(pages)
    if not cleaned.text.strip():
        raise InvalidInput(
            f"'{filename}' has no text layer (it is probably a scanned image) and OCR is not supported; "
            "run it through OCR first (e.g. ocrmypdf) and index the result"
        )
    title = normalize_text(meta_title).strip() if isinstance(meta_title, str) else ""
    return ParsedPdf(cleaned.text, title or None, len(pages), cleaned.starts)


def _page_texts(doc: object) -> list[str]:
    """Each page's text as PDFium reads it (lines end in CR LF)."""
    out = []
    for i in range(len(doc)):  # type: ignore[arg-type]
        page = doc[i]  # type: ignore[index]
        try:
            textpage = page.get_textpage()
            try:
                out.append(textpage.get_text_range())
            finally:
                textpage.close()
        finally:
            page.close()
    return out
