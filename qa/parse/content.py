"""Content checks and text clean-up shared by every format: what counts as text, and what can be stored."""

from __future__ import annotations

import json
import re
from typing import Any

from qa.errors import InvalidInput
from qa.limits import NESTING_CAP, check_nesting

UTF8_BOM = b"\xef\xbb\xbf"

# Control bytes that never appear in real text files. Tab, LF, CR, form feed (page breaks in
# old text files) and ESC (ANSI colours in logs) are left out so such files are not rejected.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
# Share of control bytes above which a file is treated as binary rather than odd text.
_MAX_CONTROL_SHARE = 0.10

# A paired surrogate written as two code points (e.g. from JSON "\ud83d\ude00") is one real
# character; anything left in the surrogate range afterwards is lone and cannot be UTF-8 encoded.
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotFiniteNumber(ValueError):
    """NaN or Infinity in JSON text: Python's parser takes them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise NotFiniteNumber(f"{name} is not valid JSON: numbers must be finite")


def load_json(raw: str | bytes) -> Any:
    """``raw`` parsed as strict JSON: NaN and Infinity are refused (``NotFiniteNumber``, a
    ``ValueError``), so nothing parsed can fail to serialize again. Raises what ``json.loads``
    raises otherwise (``ValueError``, and ``RecursionError`` for nesting past the parser)."""
    return json.loads(raw, parse_constant=_refuse_constant)


def normalize_text(text: str) -> str:
    """Remove NUL characters and lone surrogates (unstorable as UTF-8); leave everything else as is."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _SURROGATE.search(text) is None:
        return text
    text = _SURROGATE_PAIR.sub(_join_surrogates, text)
    return _SURROGATE.sub("", text)


def _join_surrogates(m: re.Match[str]) -> str:
    """Combine a high/low surrogate pair into the character it encodes."""
    return m.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def normalize_value(value: Any) -> Any:
    """Apply ``normalize_text`` to every string (keys too) inside JSON-like metadata.

    Raises:
        TooLarge: ``value`` nests deeper than ``NESTING_CAP`` levels (this walk recurses; the
            configured, lower limit is checked when the document is indexed).
    """
    check_nesting(value, NESTING_CAP)
    return _normalize_value(value)


def _normalize_value(value: Any) -> Any:
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, dict):
        return {normalize_text(str(k)): _normalize_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_value(v) for v in value]
    return value


def check_not_binary(data: bytes, filename: str) -> None:
    """Reject content that is clearly not text, before decoding, with a reason the user can act on."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput(f"'{filename}' is UTF-16 encoded; convert it to UTF-8")
    if b"\x00" in data:
        raise InvalidInput(
            f"'{filename}' looks binary (it contains NUL bytes), not text; only UTF-8 text can be indexed"
        )
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(data):
        raise InvalidInput(
            f"'{filename}' looks binary ({controls} of {len(data)} bytes are control characters), not text; "
            "only UTF-8 text can be indexed"
        )


def decode_utf8(data: bytes, filename: str) -> str:
    """Decode UTF-8 (a leading BOM is dropped) or raise naming the first bad byte and its offset."""
    offset = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as e:
        pos = offset + e.start
        raise InvalidInput(
            f"'{filename}' is not valid UTF-8 text (byte 0x{data[pos]:02x} at offset {pos}); convert it to UTF-8"
        ) from None
