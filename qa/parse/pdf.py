"""PDF: the text layer of every page cleaned into flowing text with each page's start offset,
the metadata title and the page count; pages without a text layer are read by OCR.

The text comes from PDFium (``pypdfium2``): ten times pypdf's speed on Debian's manuals, the same
reading order (two-column pages column by column), and a mark on line-end hyphens; the choice,
measured against pypdf and pdfplumber, is in bench/results/pdf-extract.md. A page with (almost)
no text layer but an image on it (a scan) is rendered at ``qa.parse.ocr.DPI`` and read by
tesseract (``qa.parse.ocr``), unless ``QA_OCR=off``. ``pdfclean`` turns the pages, read either
way, into the stored text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from qa.errors import InvalidInput, NoText, TooLarge
from qa.parse.content import normalize_text
from qa.parse.ocr import DPI, MAX_SIDE, EngineMissing, Ocr, OcrProgress, check_engine, read_image
from qa.parse.pdfclean import clean_pages

# PDFium is not thread-safe: one call into it at a time in a process (a parse worker runs one
# file at a time anyway; with QA_PARSE_TIMEOUT=0 the server's threads parse in its own process).
# OCR runs outside it: only rendering a page to a bitmap is PDFium's.
_PDFIUM = threading.Lock()
# FPDF_GetLastError's code for a wrong or missing password.
_ERR_PASSWORD = 4
# A page whose text layer has fewer letters and digits than this, and an image, is a scan: a
# scanned page often carries a stamped page number or a few words of a header as text.
MIN_TEXT_CHARS = 20


@dataclass(frozen=True)
class ParsedPdf:
    text: str
    title: str | None
    pages: int
    page_starts: tuple[int, ...]
    ocr_pages: int = 0  # pages whose text was read by OCR


def parse_pdf(data: bytes, filename: str, ocr: Ocr | None = None, on_ocr: OcrProgress | None = None) -> ParsedPdf:
    """The cleaned text of a PDF with its page offsets (see ``qa.parse.pdfclean``), its metadata
    title and its page count. Scanned pages are read by OCR as ``ocr`` says (default: ``auto``);
    ``on_ocr`` is told how many, before they are read.

    Raises:
        InvalidInput: not a PDF, encrypted with a password, unreadable, without pages or without
            text (no text layer, and OCR off, not installed, or finding none); the message says
            what to do.
        TooLarge: more scanned pages than ``ocr.max_pages``, or a page's OCR over its time limit.
    """
    import pypdfium2 as pdfium

    ocr = ocr or Ocr()
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
        with _PDFIUM:
            try:
                pages = _page_texts(doc)
                scanned = [i for i, text in enumerate(pages) if _is_scan(doc, i, text)] if ocr.enabled else []
                try:
                    meta_title = doc.get_metadata_value("Title")
                except Exception:  # a broken info dictionary should not lose the text
                    meta_title = None
            except Exception as e:
                raise InvalidInput(
                    f"'{filename}' is a corrupt or unreadable PDF ({type(e).__name__}: {e}); re-export or repair it"
                ) from None
        if not pages:
            raise InvalidInput(f"'{filename}' is a PDF with no pages: nothing to index")
        missing, read = _read_scans(doc, pages, scanned, ocr, filename, on_ocr)
    finally:
        with _PDFIUM:
            doc.close()

    cleaned = clean_pages(pages)
    if not cleaned.text.strip():
        if missing is not None:
            raise missing
        if not ocr.enabled:
            raise InvalidInput(
                f"'{filename}' has no text layer (it is probably a scanned image) and OCR is off (QA_OCR=off); "
                "run it through OCR first (e.g. ocrmypdf) and index the result, or set QA_OCR=auto"
            )
        if read:
            raise NoText(f"'{filename}' has no text layer and OCR found no text on its {read} scanned pages")
        raise NoText(f"'{filename}' has no text layer and no images with text to read: nothing to index")
    title = normalize_text(meta_title).strip() if isinstance(meta_title, str) else ""
    return ParsedPdf(cleaned.text, title or None, len(pages), cleaned.starts, read)


def _is_scan(doc: object, index: int, text: str) -> bool:
    """Whether page ``index`` has (almost) no text layer but an image: what OCR should read."""
    if sum(c.isalnum() for c in text) >= MIN_TEXT_CHARS:
        return False
    import pypdfium2.raw as pdfium_c

    page = doc[index]  # type: ignore[index]
    try:
        return next(iter(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])), None) is not None
    finally:
        page.close()


def _read_scans(
    doc: object, pages: list[str], scanned: list[int], ocr: Ocr, filename: str, on_ocr: OcrProgress | None
) -> tuple[EngineMissing | None, int]:
    """Replace the text of the ``scanned`` pages with what OCR reads on them.

    Returns the ``EngineMissing`` error when tesseract is not installed and other pages have a
    text layer (they are indexed; the error is raised only if they turn out to have no text),
    and the number of pages read.
    """
    if not scanned:
        return None, 0
    why = "has no text layer" if len(scanned) == len(pages) else f"has {len(scanned)} scanned pages"
    try:
        check_engine(ocr, filename, why)
    except EngineMissing as e:
        if len(scanned) == len(pages):
            raise
        return e, 0
    if len(scanned) > ocr.max_pages:
        raise TooLarge(
            f"'{filename}' has {len(scanned)} pages without a text layer to read by OCR, over the limit of "
            f"{ocr.max_pages} (QA_OCR_MAX_PAGES); split it, or raise QA_OCR_MAX_PAGES"
        )
    if on_ocr is not None:
        on_ocr(len(scanned))
    for i in scanned:
        with _PDFIUM:
            image = _render(doc, i)
        pages[i] = read_image(image, ocr, f"page {i + 1} of '{filename}'")
    return None, len(scanned)


def _render(doc: object, index: int) -> object:
    """Page ``index`` as a greyscale PIL image at ``DPI``, at most ``MAX_SIDE`` pixels a side."""
    page = doc[index]  # type: ignore[index]
    try:
        width, height = page.get_size()
        scale = min(DPI / 72, MAX_SIDE / max(width, height, 1))
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            return bitmap.to_pil().copy()  # a copy: the bitmap's buffer is PDFium's, freed below
        finally:
            bitmap.close()
    finally:
        page.close()


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
