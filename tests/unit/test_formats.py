"""The formats beyond text, HTML and PDF (qa.parse: word, slides, sheets, epub, odt, rst, mail,
.gz, encodings) on real files made here: their text, headings, rows and pages, the exact-offset
invariant of their chunks, and what each refuses and how it says so."""

from __future__ import annotations

import gzip
import io
import os
from email.message import EmailMessage
from pathlib import Path

import pytest

from qa.chunk import Chunker
from qa.errors import InvalidInput, TooLarge, UnsupportedFileType
from qa.ingest import index_paths
from qa.parse import parse_bytes
from qa.parse.files import Skipped
from qa.sentences import sentence_spans
from qa.types import Document, IngestResult

from ..formats import docx_bytes, files, pptx_bytes, xlsx_bytes


def one(docs: list[Document]) -> Document:
    assert len(docs) == 1
    return docs[0]


@pytest.mark.parametrize("name", sorted(files()))
def test_headings_are_heading_lines_and_chunks_are_exact(name: str) -> None:
    docs = parse_bytes(files()[name], name)
    chunker = Chunker(max_tokens=24, overlap=4)
    for doc in docs:
        kinds = {(s.start, s.end): s.kind for s in sentence_spans(doc.text)}
        for h in doc.headings:
            line = doc.text[h.start : h.end]
            assert line.startswith("#" * h.level + " "), line
            assert kinds[(h.start, h.end)] == "heading"  # never an answer
        for c in chunker.chunk(doc):
            assert doc.text[c.start : c.end] == c.text
        doc.text.encode("utf-8")


def test_docx_headings_lists_and_tables() -> None:
    doc = one(parse_bytes(docx_bytes(), "glazes.docx"))
    assert doc.title == "Glaze recipes"
    assert [(doc.text[h.start : h.end], h.level) for h in doc.headings] == [("# Glaze recipes", 1), ("## Celadon", 2)]
    assert "\n\n- Sieve it twice before use.\n\n" in doc.text
    assert doc.text.endswith("Glaze: Celadon; Cone: 10; Colour: green\n\nGlaze: Tenmoku; Cone: 10; Colour: black")


def test_pptx_slides_are_pages() -> None:
    doc = one(parse_bytes(pptx_bytes(), "studio.pptx"))
    assert doc.metadata["slides"] == 2 and len(doc.page_starts) == 2
    assert [doc.text[s:].split("\n")[0] for s in doc.page_starts] == ["# 1. Welcome", "# 2. Opening hours"]
    assert "- Weekdays from noon." in doc.text  # an indented bullet
    assert doc.text.endswith("Remind people to sign the book.")  # the speaker notes


def test_xlsx_rows_name_their_columns_per_sheet() -> None:
    doc = one(parse_bytes(xlsx_bytes(), "members.xlsx"))
    assert doc.text == (
        "# Members\n\nName: Margit Olsen; Role: treasurer; Joined: 2019\n\nName: Per Lund; Role: secretary; "
        "Joined: 2021\n\n# Kilns\n\nKiln: Electric; Volume: 120 litres"
    )
    row = next(s for s in sentence_spans(doc.text) if "Margit" in doc.text[s.start : s.end])
    assert doc.text[row.start : row.end] == "Name: Margit Olsen; Role: treasurer; Joined: 2019" and row.answerable


@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        ("a.csv", b"Kiln;Litres\nElectric;120\nGas;300\n", "Kiln: Electric; Litres: 120\n\nKiln: Gas; Litres: 300"),
        ("a.tsv", b"Kiln\tLitres\nElectric\t120\n", "Kiln: Electric; Litres: 120"),
        ("a.csv", b"Kiln,,Fuel\nRaku,,gas,extra\n", "Kiln: Raku; Fuel: gas; Column 4: extra"),
        ("a.csv", b'Name,Note\nAda,"two\nlines"\n', "Name: Ada; Note: two lines"),  # a row is one line
        ("a.csv", "Ville,Pays\nMontréal,Canada\n".encode("cp1252"), "Ville: Montréal; Pays: Canada"),
    ],
)
def test_csv_dialects_and_encodings(name: str, data: bytes, text: str) -> None:
    assert one(parse_bytes(data, name)).text == text


def test_rst_titles_code_directives_and_roles() -> None:
    rst = (
        "Guide\n=====\n\nUse :func:`os.path.join` and `the docs <https://x.org>`_.\n\n"
        "Install\n-------\n\nRun this::\n\n    pip install qa\n\n"
        ".. code-block:: python\n   :linenos:\n\n   import qa\n\n"
        ".. warning:: Back up first.\n\n.. toctree::\n\n   other\n\n.. a comment\n\n"
        "Deeper\n~~~~~~\n\nText.\n\nSecond\n------\n\nMore.\n"
    )
    doc = one(parse_bytes(rst.encode(), "guide.rst"))
    assert doc.title == "Guide"
    assert doc.text == (
        "# Guide\n\nUse os.path.join and the docs.\n\n## Install\n\nRun this:\n\n```text\npip install qa\n```"
        "\n\n```python\nimport qa\n```\n\nBack up first.\n\n### Deeper\n\nText.\n\n## Second\n\nMore."
    )


def mail(subject: str, body: str, html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["Date"] = subject, "Ann <ann@example.org>", "Fri, 01 Mar 2024 09:30:00 +0000"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def test_eml_prefers_plain_text_else_reads_the_html_part() -> None:
    plain = one(parse_bytes(bytes(mail("Hi", "Plain body.\n", "<p>HTML body.</p>")), "a.eml"))
    assert "Plain body." in plain.text and "HTML body" not in plain.text
    html_only = EmailMessage()
    html_only["Subject"] = "Newsletter"
    html_only.set_content("<h2>News</h2><p>The kiln is fixed.</p>", subtype="html")
    doc = one(parse_bytes(bytes(html_only), "n.eml"))
    assert doc.text == "# Newsletter\n\n## News\n\nThe kiln is fixed." and doc.title == "Newsletter"
    assert [doc.text[h.start : h.end] for h in doc.headings] == ["# Newsletter", "## News"]


def test_mbox_gives_one_document_per_message() -> None:
    box = b"".join(b"From x@y Fri Mar  1 09:30:00 2024\n" + bytes(mail(f"M{n}", f"Body {n}.\n")) for n in (1, 2))
    docs = parse_bytes(box, "box.mbox", metadata={"list": "studio"})
    assert [(d.id, d.title) for d in docs] == [("box.mbox#1", "M1"), ("box.mbox#2", "M2")]
    assert docs[1].metadata == {
        "filename": "box.mbox",
        "from": "Ann <ann@example.org>",
        "date": "Fri, 01 Mar 2024 09:30:00 +0000",
        "subject": "M2",
        "list": "studio",
    }


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("a.eml", b"just some words\nnot a header\n", "not an e-mail message"),
        ("a.mbox", b"no separator lines here\n", "holds no messages"),
        ("a.docx", b"not a zip", "not a ZIP archive"),
        ("a.xlsx", b"PK\x03\x04broken", "not a readable Excel workbook"),
        ("a.epub", b"PK\x03\x04broken", "not a readable EPUB e-book"),
        ("a.odt", b"PK\x03\x04broken", "not a readable OpenDocument text"),
    ],
)
def test_what_is_not_its_format_is_refused_with_a_message(name: str, data: bytes, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        parse_bytes(data, name)


def test_a_zip_without_its_parts_is_refused() -> None:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    with pytest.raises(InvalidInput, match="no part 'META-INF/container.xml'"):
        parse_bytes(out.getvalue(), "book.epub")


def test_gz_is_read_as_its_inner_file_within_the_size_limit() -> None:
    doc = one(parse_bytes(gzip.compress(docx_bytes()), "glazes.docx.gz"))
    assert doc.id == "glazes.docx.gz" and doc.title == "Glaze recipes" and doc.headings
    assert one(parse_bytes(gzip.compress(b"boot ok"), "syslog.gz")).text == "boot ok"
    assert one(parse_bytes(gzip.compress(b"a") + gzip.compress(b"b"), "two.txt.gz")).text == "ab"  # two members
    bomb = gzip.compress(b"x" * 5_000_000)
    with pytest.raises(TooLarge, match="decompresses to over 1,000,000 bytes"):
        parse_bytes(bomb, "bomb.txt.gz", max_bytes=1_000_000)
    for name in ("backup.tar.gz", "nested.txt.gz.gz", "ls.1.gz"):
        with pytest.raises(UnsupportedFileType):
            parse_bytes(gzip.compress(b"x"), name)


RUSSIAN = (
    "Печь в мастерской разжигают каждый понедельник утром. Глазурованные изделия ставят на полки, "
    "подальше от стенок. Максимальная температура достигает тысячи двухсот сорока градусов."
)


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("Grüße, café".encode(), "Grüße, café", None),  # UTF-8: no detection, no metadata
        ("Le café est fermé le lundi.".encode("latin-1"), "Le café est fermé le lundi.", "cp1252"),
        ("He said “hello” — and left…".encode("cp1252"), "He said “hello” — and left…", "cp1252"),
        (RUSSIAN.encode("cp1251"), RUSSIAN, "cp1251"),
        (RUSSIAN.encode("koi8-r"), RUSSIAN, "koi8_r"),
        ("Grüße".encode("utf-16-le").join([b"\xff\xfe", b""]), "Grüße", "utf-16"),
        ("Grüße".encode("utf-16-be").join([b"\xfe\xff", b""]), "Grüße", "utf-16"),
        ("Grüße".encode("utf-32"), "Grüße", "utf-32"),
    ],
)
def test_text_in_any_common_encoding(data: bytes, text: str, encoding: str | None) -> None:
    doc = one(parse_bytes(data, "t.md"))
    assert doc.text == text and doc.metadata.get("encoding") == encoding


def test_a_bad_utf16_file_says_so() -> None:
    with pytest.raises(InvalidInput, match="UTF-16 byte order mark but is not valid UTF-16"):
        parse_bytes(b"\xff\xfe\x00\xd8", "t.txt")


@pytest.mark.skipif(not hasattr(os, "mkfifo") or os.name == "nt", reason="needs POSIX FIFOs and symlinks")
def test_a_folder_walk_reports_every_file_it_passes_over(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nThe kiln is hot.")
    (root / "b.mp4").write_bytes(b"\x00\x00\x00\x18ftyp")
    (root / "c.rst").write_bytes(b"\xff\xfe\x00\xd8")  # bad UTF-16
    (root / "big.txt").write_text("x" * 2000)
    (root / "blank.txt").write_text(" \n")  # read, and nothing to index: passed over, not failed
    (root / "dead.txt").symlink_to(tmp_path / "missing.txt")
    (root / "out.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "outside.txt").write_text("outside")
    os.mkfifo(root / "pipe.txt")
    (root / ".hidden.png").write_bytes(b"x")  # hidden: never listed

    def add(docs: list[Document]) -> list[IngestResult]:
        return [IngestResult(d.id, "added", 1) for d in docs]

    summary = index_paths(add, [root], max_bytes=1000)
    reasons = {Path(e["path"]).name: e["reason"] for e in summary.skipped}
    assert reasons == {"b.mp4": "unsupported", "dead.txt": "unreadable", "out.txt": "unreadable",
                       "pipe.txt": "unreadable", "blank.txt": "empty"}  # fmt: skip
    failed = {Path(e["path"]).name: e["reason"] for e in summary.failed}
    assert failed == {"c.rst": "invalid", "big.txt": "too_large"}
    assert summary.added == 1 and set(summary.as_dict()) >= {"failed", "skipped"}
    assert Skipped.of("x", UnsupportedFileType("no")).reason == "unsupported"
