"""Reading the XML parts of ZIP-based formats (.odt, .epub) with the standard library.

``xml.etree`` never fetches external entities or DTDs, and the expat it runs on (2.4.1 and later)
refuses entity expansion bombs ("billion laughs"); a part's size is checked before it is read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile

from qa.errors import InvalidInput, TooLarge

# Largest XML part read (uncompressed): a ZIP entry that inflates past it is refused, not read.
MAX_PART_BYTES = 256 * 1024 * 1024


def read_part(archive: zipfile.ZipFile, name: str, filename: str) -> bytes:
    """The bytes of part ``name``.

    Raises:
        InvalidInput: the archive has no such part.
        TooLarge: the part inflates past ``MAX_PART_BYTES``.
    """
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise InvalidInput(f"'{filename}' has no part '{name}'; it is damaged or not what its extension says") from None
    if info.file_size > MAX_PART_BYTES:
        raise TooLarge(f"'{filename}': its part '{name}' inflates to {info.file_size:,} bytes; not read")
    return archive.read(info)


def parse_part(archive: zipfile.ZipFile, name: str, filename: str) -> ET.Element:
    """Part ``name`` parsed as XML.

    Raises:
        InvalidInput: missing, or not well-formed XML.
    """
    try:
        return ET.fromstring(read_part(archive, name, filename))
    except ET.ParseError as e:
        raise InvalidInput(f"'{filename}': its part '{name}' is not well-formed XML ({e}); it is damaged") from None
