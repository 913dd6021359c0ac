"""Scanned PDFs and images read by OCR (issue 18, point 4), on pages rendered here from real text:
each page's text where it belongs (``page_starts``), only the pages without a text layer read,
the refusal when OCR is off, and a clear message when tesseract is not installed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fpdf import FPDF

from qa.errors import InvalidInput, TooLarge
from qa.parse import parse_bytes
from qa.parse.ocr import Ocr
from qa.parse.worker import ParseLimits, parse_limited
from qa.types import Document, page_at

from ..pdfs import LEAFLET, images_pdf, page_images, scanned_pdf

OFF = Ocr(mode="off")


def one(docs: list[Document]) -> Document:
    assert len(docs) == 1
    return docs[0]


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def scan() -> bytes:
    return scanned_pdf()


def test_a_scanned_pdf_is_read_page_by_page(scan: bytes) -> None:
    doc = one(parse_bytes(scan, "leaflet.pdf"))
    assert doc.metadata == {"filename": "leaflet.pdf", "pages": 2, "ocr_pages": 2}
    assert len(doc.page_starts) == 2 and doc.page_starts[0] == 0
    text = squash(doc.text)
    for lines in LEAFLET:
        for line in lines:
            assert line in text, (line, doc.text)
    # Each page's text is on its page, and lines of a paragraph are joined (pdfclean).
    assert page_at(doc.page_starts, doc.text.index("heaviest pieces")) == 1
    assert page_at(doc.page_starts, doc.text.index("1240 degrees")) == 2
    assert "Celsius, and holds" in doc.text


def test_with_ocr_off_a_scanned_pdf_is_refused_as_before(scan: bytes) -> None:
    with pytest.raises(InvalidInput, match="'leaflet.pdf' has no text layer.*OCR is off.*run it through OCR first"):
        parse_bytes(scan, "leaflet.pdf", ocr=OFF)


def test_only_pages_without_a_text_layer_are_read() -> None:
    """A text page, a scanned page, and a scanned page carrying a stamped page number as text:
    the text page keeps its text layer, the other two are read by OCR."""
    first, second = page_images(dpi=200)
    pdf = FPDF(format=(120, 70))
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.set_xy(8, 10)
    pdf.cell(text="Typed cover page: the studio handbook, second edition.")
    for image, stamp in ((first, None), (second, "p. 3")):
        pdf.add_page()
        pdf.image(image, x=0, y=0, w=120, h=70)
        if stamp:
            pdf.set_xy(100, 62)
            pdf.cell(text=stamp)
    doc = one(parse_bytes(bytes(pdf.output()), "mixed.pdf"))
    assert doc.metadata["pages"] == 3 and doc.metadata["ocr_pages"] == 2
    assert page_at(doc.page_starts, doc.text.index("Typed cover page")) == 1
    assert page_at(doc.page_starts, doc.text.index("heaviest pieces")) == 2
    assert page_at(doc.page_starts, doc.text.index("1240 degrees")) == 3
    # OCR off: the text page alone, as before.
    off = one(parse_bytes(bytes(pdf.output()), "mixed.pdf", ocr=OFF))
    assert "heaviest" not in off.text and "Typed cover page" in off.text and "ocr_pages" not in off.metadata


def test_a_pdf_with_neither_text_nor_images_says_so() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 80, 40, style="F")
    with pytest.raises(InvalidInput, match="'shapes.pdf' has no text layer and no images with text"):
        parse_bytes(bytes(pdf.output()), "shapes.pdf")


def test_too_many_scanned_pages_are_refused(scan: bytes) -> None:
    with pytest.raises(TooLarge, match="2 pages without a text layer.*limit of 1 .QA_OCR_MAX_PAGES"):
        parse_bytes(scan, "leaflet.pdf", ocr=Ocr(max_pages=1))


@pytest.mark.parametrize(("name", "fmt"), [("note.png", "PNG"), ("note.jpg", "JPEG"), ("note.tiff", "TIFF")])
def test_an_image_is_a_document(name: str, fmt: str) -> None:
    buf = io.BytesIO()
    page_images(dpi=200)[1].save(buf, fmt)
    doc = one(parse_bytes(buf.getvalue(), name))
    assert "1240 degrees Celsius" in squash(doc.text)
    assert doc.title == "note" and doc.metadata == {"filename": name, "pages": 1, "ocr_pages": 1}
    assert doc.page_starts == (0,)


def test_a_multi_page_tiff_has_pages() -> None:
    first, second = page_images(dpi=200)
    buf = io.BytesIO()
    first.save(buf, "TIFF", save_all=True, append_images=[second], compression="tiff_lzw")
    doc = one(parse_bytes(buf.getvalue(), "fax.tif"))
    assert doc.metadata["pages"] == 2
    assert page_at(doc.page_starts, doc.text.index("1240 degrees")) == 2


def test_images_with_ocr_off_or_broken_are_refused() -> None:
    buf = io.BytesIO()
    page_images(dpi=100)[0].save(buf, "PNG")
    with pytest.raises(InvalidInput, match="'a.png' is an image.*OCR, which is off .QA_OCR=off"):
        parse_bytes(buf.getvalue(), "a.png", ocr=OFF)
    with pytest.raises(InvalidInput, match="'b.png' is not a readable PNG/JPEG/TIFF image"):
        parse_bytes(b"GIF89a not really", "b.png")
    with pytest.raises(InvalidInput, match="corrupt or truncated"):
        parse_bytes(buf.getvalue()[: len(buf.getvalue()) // 2], "c.png")


def test_the_worker_gives_ocr_pages_more_time(scan: bytes) -> None:
    """A file's QA_PARSE_TIMEOUT (here 1 s, less than two pages of OCR take) grows by
    QA_OCR_PAGE_TIMEOUT for each page the worker reads by OCR."""
    limits = ParseLimits(timeout=1.0, memory_mb=1024, workers=1, ocr=Ocr(page_timeout=60))
    doc = one(parse_limited(scan, "leaflet.pdf", limits))
    assert doc.metadata["ocr_pages"] == 2 and "1240 degrees" in doc.text
    off = ParseLimits(timeout=20, memory_mb=1024, workers=1, ocr=OFF)
    with pytest.raises(InvalidInput, match="run it through OCR first"):
        parse_limited(scan, "leaflet.pdf", off)


def test_without_tesseract_the_message_says_how_to_install_it(
    scan: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker started where ``tesseract`` is not on the PATH: a scanned PDF or an image says
    what to install; a PDF with a text layer beside its scanned pages is indexed from it."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract here; the worker's Python is an absolute path
    limits = ParseLimits(timeout=20, memory_mb=1024, workers=1, ocr=Ocr(languages="eng", page_timeout=59))
    with pytest.raises(
        InvalidInput,
        match="'leaflet.pdf' has no text layer and needs OCR, but tesseract is not "
        "installed: install tesseract .Debian/Ubuntu: apt-get install tesseract-ocr",
    ):
        parse_limited(scan, "leaflet.pdf", limits)
    pdf = FPDF(format=(120, 70))
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="A typed page about the kiln room and its opening hours.")
    pdf.add_page()
    pdf.image(page_images(dpi=100)[0], x=0, y=0, w=120, h=70)
    doc = one(parse_limited(bytes(pdf.output()), "half.pdf", limits))
    assert "kiln room" in doc.text and doc.metadata == {"filename": "half.pdf", "pages": 2}


def test_missing_language_data_names_the_package(scan: bytes) -> None:
    with pytest.raises(InvalidInput, match="no data for xyz.*apt-get install tesseract-ocr-xyz"):
        parse_bytes(scan, "leaflet.pdf", ocr=Ocr(languages="eng+xyz"))


def test_images_pdf_round_trips_through_pillow() -> None:
    """The helper itself: an image-only PDF has pages and no text layer."""
    data = images_pdf(page_images(dpi=72))
    assert data.startswith(b"%PDF-")
    with pytest.raises(InvalidInput, match="has no text layer"):
        parse_bytes(data, "x.pdf", ocr=OFF)
