"""Hostile files of bounded size, built here: a PDF decompression bomb and a large messy HTML file.

Both are what an attacker uploads to keep a parser busy: each is small, and each takes seconds to
parse (measured on the 2-core machine: ``pdf_bomb()`` 26 KB, 10 s in PDFium, which reads the
7 KB ``pdf_bomb(50_000)`` in 1.2 s where pypdf took 51 s; ``messy_html()`` 1.35 MB, 4.6 s in
html.parser)."""

from __future__ import annotations

import zlib


def pdf_bomb(ops: int = 400_000, pages: int = 20) -> bytes:
    """A valid PDF whose pages share one Flate content stream of ``ops`` text operators: a few KB
    that the parser inflates and interprets once per page."""
    content = zlib.compress(b"BT /F1 1 Tf (a) Tj ET\n" * ops, 9)
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
        b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        *[page] * pages,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def messy_html(n: int = 90_000) -> bytes:
    """``n`` nested, unclosed tables of one cell each, and one word: 15 bytes per level, parsing
    work without text to index."""
    return b"<html><body>" + b"<table><tr><td>" * n + b"word"
