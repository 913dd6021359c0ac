"""E-books (.epub): the chapters in reading order (the package's spine), each an XHTML page read
by ``qa.parse.html``, so headings, lists, tables and code come out as they do for a web page.
Pages without text (a cover image) are left out.

Read with the standard library (``qa.parse.xmlzip``): ``META-INF/container.xml`` names the
package document, whose manifest and spine give the chapters' files in order. ebooklib, the
Python library for the format, is AGPL-licensed (this project is MIT), and we need none of its
writing side.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from urllib.parse import unquote

from qa.errors import InvalidInput
from qa.parse.blocks import TextBuilder
from qa.parse.html import parse_html
from qa.parse.xmlzip import parse_part, read_part

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_PAGES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def parse_epub(data: bytes, filename: str) -> tuple[TextBuilder, str | None]:
    """The text of an .epub's chapters and its title (Dublin Core ``title``).

    Raises:
        InvalidInput: no package document, or one without chapters; what ``zipfile`` raises for a
            damaged archive is worded by the caller.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        container = parse_part(archive, "META-INF/container.xml", filename)
        rootfile = container.find(f".//{_CONTAINER}rootfile")
        opf_path = rootfile.get("full-path") if rootfile is not None else None
        if not opf_path:
            raise InvalidInput(f"'{filename}' names no package document in META-INF/container.xml; it is damaged")
        package = parse_part(archive, opf_path, filename)
        base = posixpath.dirname(opf_path)
        manifest = {
            item.get("id"): (item.get("href") or "", item.get("media-type") or "")
            for item in package.iter(f"{_OPF}item")
        }
        out = TextBuilder()
        for ref in package.iter(f"{_OPF}itemref"):
            href, media = manifest.get(ref.get("idref"), ("", ""))
            if not href or media not in _PAGES:
                continue
            name = posixpath.normpath(posixpath.join(base, unquote(href)))
            try:
                text, headings, _ = parse_html(read_part(archive, name, filename), f"{filename}:{name}")
            except InvalidInput:  # a page with no visible text, or a missing one
                continue
            out.extend(text, headings)
    found = package.find(f".//{_DC}title")
    title = " ".join((found.text or "").split()) or None if found is not None else None
    return out, title
