"""Real files of every supported format, written in the tests by each format's own library
(python-docx, python-pptx, openpyxl, odfpy, the standard library's email, gzip and codecs; an
EPUB by the specification's layout with ``zipfile``). Each holds one fact, in a sentence or a
table row, that a question in ``FACTS`` asks about, so a test can index the files and check that
each is answered from the right one."""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime


@dataclass(frozen=True)
class Fact:
    """A file, the question its fact answers, and words the answer must hold."""

    name: str
    question: str
    expect: str


FACTS = [
    Fact("glazes.docx", "How much red iron oxide does the celadon glaze need?", "two percent"),
    Fact("studio.pptx", "When does the pottery studio open on Saturdays?", "seven in the morning"),
    Fact("members.xlsx", "Which member is the treasurer?", "Margit Olsen"),
    Fact("clays.csv", "Which supplier sells the porcelain clay?", "Valentine Clays"),
    Fact("throwing.epub", "What should a beginner do before opening the clay?", "centre the clay"),
    Fact("rules.odt", "How must members sweep the floor?", "wet"),
    Fact("raku.rst", "What are raku pieces dropped into after the kiln?", "sawdust"),
    Fact("repair.eml", "When will the electrician replace the heating elements?", "Thursday"),
    Fact("list.mbox#2", "Where does the annual pottery sale take place?", "town hall"),
    Fact("wedging.txt.gz", "What does wedging remove from the clay?", "air bubbles"),
    Fact("cafe-latin1.txt", "What does the café next to the studio serve on Fridays?", "crème brûlée"),
    Fact("fan-utf16.txt", "How long must the ventilation fan run after spraying?", "one hour"),
]


def docx_bytes() -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = "Glaze recipes"
    d.add_heading("Glaze recipes", 1)
    d.add_paragraph("Our glazes are mixed by the members in the glaze room.")
    d.add_heading("Celadon", 2)
    d.add_paragraph("The celadon glaze needs two percent of red iron oxide to turn pale green in reduction.")
    d.add_paragraph("Sieve it twice before use.", style="List Bullet")
    table = d.add_table(rows=3, cols=3)
    for row, values in zip(table.rows, [("Glaze", "Cone", "Colour"), ("Celadon", "10", "green"),
                                        ("Tenmoku", "10", "black")], strict=True):  # fmt: skip
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def pptx_bytes() -> bytes:
    import pptx

    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]  # title and content
    for title, lines, notes in [
        ("Welcome", ["The studio is run by its members."], ""),
        ("Opening hours", ["The pottery studio opens at seven in the morning on Saturdays.", "Weekdays from noon."],
         "Remind people to sign the book."),
    ]:  # fmt: skip
        slide = deck.slides.add_slide(layout)
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = lines[0]
        for line in lines[1:]:
            p = body.add_paragraph()
            p.text = line
            p.level = 1
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Members"
    for row in [("Name", "Role", "Joined"), ("Margit Olsen", "treasurer", 2019), ("Per Lund", "secretary", 2021.0)]:
        sheet.append(row)
    other = book.create_sheet("Kilns")
    other.append(("Kiln", "Volume"))
    other.append(("Electric", "120 litres"))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes() -> bytes:
    rows = ["Clay,Supplier,Price per bag", "Porcelain,Valentine Clays,42 euros", "Stoneware,Potclays,18 euros"]
    return ("\r\n".join(rows) + "\r\n").encode()


def epub_bytes() -> bytes:
    """An EPUB 3 as the specification lays it out (no Python library that writes one is MIT-licensed:
    ebooklib is AGPL): the stored ``mimetype`` first, the container, the package document with its
    manifest and spine, and two XHTML chapters, listed in the spine in the other order than the
    manifest so reading order is the spine's."""
    chapters = {
        "text/ch1.xhtml": ("The wheel", "<p>A beginner should centre the clay before opening it with the thumbs.</p>"),
        "text/ch2.xhtml": ("Trimming", "<p>Trim a pot when it is leather hard.</p><ul><li>Use a sharp tool.</li></ul>"),
    }
    container = (
        '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">throwing-1</dc:identifier>'
        "<dc:title>Throwing on the wheel</dc:title><dc:language>en</dc:language></metadata><manifest>"
        '<item id="c2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="cover" href="cover.png" media-type="image/png"/>'
        '</manifest><spine><itemref idref="cover"/><itemref idref="c1"/><itemref idref="c2"/></spine></package>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container)
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/cover.png", b"\x89PNG not really")
        for name, (title, body) in chapters.items():
            page = (
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
            )
            z.writestr(f"OEBPS/{name}", page)
    return out.getvalue()


def odt_bytes() -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, List, ListItem, P

    doc = OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text="Studio rules"))
    doc.text.addElement(P(text="Members must sweep the floor wet to keep the silica dust down."))
    items = List()
    for line in ("Close the windows.", "Switch off the wheels."):
        item = ListItem()
        item.addElement(P(text=line))
        items.addElement(item)
    doc.text.addElement(items)
    table = Table(name="Duties")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for values in (("Day", "Duty"), ("Monday", "clean the kiln shelves")):
        row = TableRow()
        for value in values:
            cell = TableCell()
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    doc.text.addElement(table)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


RST = """\
===========
Raku firing
===========

Raku is a fast firing done outdoors.

The process
-----------

Raku pieces are pulled from the kiln at about 1000 degrees and dropped into sawdust. Then::

    lid --close
    wait 20

.. note:: Wear a mask near the smoke.
"""


def rst_bytes() -> bytes:
    return RST.encode()


def _message(subject: str, sender: str, body: str, day: int, attachment: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = "members@example.org"
    msg["Date"] = format_datetime(datetime(2024, 3, day, 9, 30, tzinfo=UTC))
    msg.set_content(body)
    if attachment:
        msg.add_attachment(b"%PDF-1.4 quote", maintype="application", subtype="pdf", filename=attachment)
    return msg


def eml_bytes() -> bytes:
    msg = _message(
        "Kiln repair",
        "Jonas Berg <jonas@example.org>",
        "Hello all,\n\nThe electrician will replace the kiln's heating elements on Thursday.\n\nJonas\n",
        4,
        attachment="quote.pdf",
    )
    return bytes(msg)


def mbox_bytes() -> bytes:
    messages = [
        _message("Clay order", "Ann <ann@example.org>", "The clay order arrives next week.\n", 1),
        _message(
            "Pottery sale",
            "Per <per@example.org>",
            "The annual pottery sale takes place in the town hall.\nFrom now on, sign up on the sheet.\n",
            2,
        ),  # fmt: skip
    ]
    out = b""
    for msg in messages:
        body = bytes(msg).replace(b"\nFrom ", b"\n>From ")
        out += b"From someone@example.org Sat Mar  2 09:30:00 2024\n" + body + b"\n"
    return out


def gz_bytes() -> bytes:
    return gzip.compress(b"Wedging removes air bubbles from the clay before throwing.\n")


def latin1_bytes() -> bytes:
    text = "The café next to the studio serves crème brûlée on Fridays. Its owner, Zoë, was a potter."
    return text.encode("latin-1")


def utf16_bytes() -> bytes:
    return "The glaze room's ventilation fan must run for one hour after spraying.\n".encode("utf-16")


def files() -> dict[str, bytes]:
    """Every file of ``FACTS`` by name (the mbox as ``list.mbox``)."""
    return {
        "glazes.docx": docx_bytes(),
        "studio.pptx": pptx_bytes(),
        "members.xlsx": xlsx_bytes(),
        "clays.csv": csv_bytes(),
        "throwing.epub": epub_bytes(),
        "rules.odt": odt_bytes(),
        "raku.rst": rst_bytes(),
        "repair.eml": eml_bytes(),
        "list.mbox": mbox_bytes(),
        "wedging.txt.gz": gz_bytes(),
        "cafe-latin1.txt": latin1_bytes(),
        "fan-utf16.txt": utf16_bytes(),
    }
