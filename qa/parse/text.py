"""Plain text and Markdown (.txt, .md, .markdown): the bytes decoded, kept exactly as written."""

from __future__ import annotations

import re

from qa.errors import InvalidInput
from qa.parse.content import decode, normalize_text


def decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """Bytes of a text file to text, kept exactly as written (CRLF and whitespace included), and
    the encoding they were in (see ``qa.parse.content.decode``)."""
    raw, encoding = decode(data, filename)
    text = normalize_text(raw)
    if not text.strip():
        raise InvalidInput(f"'{filename}' is empty: nothing to index")
    return text, encoding


_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def markdown_title(text: str) -> str | None:
    """Text of the first level-1 ATX heading ("# Title") outside fenced code blocks, if any."""
    fence: str | None = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        h = _ATX_H1.match(line)
        if h and h.group(1).strip():
            return h.group(1).strip()
    return None
