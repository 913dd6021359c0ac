"""Real PDFs made in the tests (fpdf2), laid out like a printed manual: a running head and a page
number on every page, a table of contents with dot leaders, words hyphenated at line ends, a
footnote, and a sentence that runs over a page break. Each line is placed as given, so the tests
know what the text layer holds. ``scanned_pdf`` makes a PDF of page images only, as a scanner
does, from real rendered text."""

from __future__ import annotations

import io
from typing import Any

from fpdf import FPDF

HEAD = "Kiln Operations Manual, edition 2"

# The pages' body lines (the running head and the page number are added to each).
MANUAL: list[list[str]] = [
    [
        "Contents",
        "1 Loading the kiln . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 2",
        "2 Firing schedule . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 3",
        "3 Cooling and unloading . . . . . . . . . . . . . . . . . . . . . . . . . 4",
    ],
    [
        "1 Loading the kiln",
        "Before every firing the operator checks the shelves, the posts and the thermo-",
        "couple, and writes the date of the check in the log book kept beside the door.",
        "Pieces must not touch each other or the walls, and every glazed piece stands",
        "on a cookie. The kiln has a state-of-the-art controller that keeps a record of",
        "every firing, and an old-fashioned peephole for looking at the witness cones.",
        "Load the heaviest pieces on the lowest shelf.",
    ],
    [
        "2 Firing schedule",
        "The kiln fires stoneware at 1240 degrees Celsius, which is cone 6 on the wit-",
        "ness cones.1 The controller raises the temperature by 150 degrees an hour and",
        "holds the top temperature for twenty minutes before it starts to cool. After",
        "a firing the controller switches the elements off, the vent stays open for one",
        "1 Cone 6 bends at about 1220 degrees at the usual rate of heating.",
    ],
    [
        "hour, and the lid stays closed until the kiln is below 100 degrees on the dial.",
        "3 Cooling and unloading",
        "Unload the kiln only with gloves, and put the shelves back in the same order.",
    ],
]


def manual_pdf(title: str = "Kiln Operations Manual") -> bytes:
    """The manual above as a PDF: one page per entry of ``MANUAL``."""
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    for number, lines in enumerate(MANUAL, start=1):
        pdf.add_page()
        pdf.set_xy(20, 12)
        pdf.cell(text=HEAD)
        y = 30.0
        for line in lines:
            pdf.set_xy(20, y)
            pdf.cell(text=line)
            y += 6
        pdf.set_xy(100, 280)
        pdf.cell(text=str(number))
    return bytes(pdf.output())


def pdf_of_pages(pages: list[list[str]]) -> bytes:
    """A PDF with one page per list of lines, nothing added."""
    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for i, line in enumerate(lines):
            pdf.set_xy(20, 20 + 6 * i)
            pdf.cell(text=line)
    return bytes(pdf.output())


# A small two-page leaflet, scanned: its pages exist only as images (see ``scanned_pdf``).
LEAFLET: list[list[str]] = [
    [
        "Studio kiln notes",
        "Load the shelves the evening before a firing,",
        "with the heaviest pieces on the lowest shelf.",
    ],
    [
        "Firing",
        "The kiln fires stoneware at 1240 degrees Celsius,",
        "and holds the top temperature for twenty minutes.",
    ],
]


def scanned_pdf(pages: list[list[str]] = LEAFLET, dpi: int = 200) -> bytes:
    """A PDF whose pages are only images, as a scanner makes them: ``pages`` written as text on
    small pages (fpdf2), rendered to greyscale bitmaps by PDFium, and written back as an
    image-only PDF by Pillow. No text layer: only OCR reads it."""
    return images_pdf(page_images(pages, dpi), dpi)


def page_images(pages: list[list[str]] = LEAFLET, dpi: int = 200) -> list[Any]:
    """``pages`` as real text pages (120 x 70 mm, 12 pt), rendered to greyscale PIL images."""
    import pypdfium2 as pdfium

    pdf = FPDF(format=(120, 70))
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=12)
    for lines in pages:
        pdf.add_page()
        for i, line in enumerate(lines):
            pdf.set_xy(8, 10 + 8 * i)
            pdf.cell(text=line)
    doc = pdfium.PdfDocument(bytes(pdf.output()))
    try:
        return [doc[i].render(scale=dpi / 72, grayscale=True).to_pil().copy() for i in range(len(doc))]
    finally:
        doc.close()


def images_pdf(images: list[Any], dpi: int = 200) -> bytes:
    """An image-only PDF, one page per image (Pillow's PDF writer)."""
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buf.getvalue()
