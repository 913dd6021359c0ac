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
        raise InvalidInput(f"'{filename}' looks binary (it contains NUL bytes), not text; it cannot be indexed")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(data):
        raise InvalidInput(
            f"'{filename}' looks binary ({controls} of {len(data)} bytes are control characters), not text; "
            "it cannot be indexed"
        )


# Byte order marks: the encoding they announce (UTF-32's first, as its LE mark starts with UTF-16's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# Of the legacy encodings that read a text equally well, the one Western files are almost always
# in: Windows' cp1252 (a superset of Latin-1's printable characters), then Latin-1 itself.
_PREFERRED = ("cp1252", "latin_1", "iso8859_15")
# Below this language coherence the detector had too little text to judge by (a short file).
_LITTLE_EVIDENCE = 0.2


def decode(data: bytes, filename: str) -> tuple[str, str]:
    """Text bytes in any common encoding to text, and the encoding read (``utf-8`` for most).

    UTF-8 is tried first (a leading BOM dropped): most files are, and decoding it costs nothing
    next to detection. Then a UTF-16 or UTF-32 byte order mark; then the encoding
    charset-normalizer finds most likely (Latin-1, cp1252, cp1251, Shift JIS, GB18030...): of
    candidates that read the text equally well, cp1252 is taken, and for a text too short to tell
    by its language (a few words), cp1252 when it reads it as well as the best guess.

    Raises:
        InvalidInput: binary content, or bytes no common encoding reads as text.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError as e:
                raise InvalidInput(
                    f"'{filename}' starts with a {codec.upper()} byte order mark but is not valid {codec.upper()} "
                    f"(at byte {e.start}); convert it to UTF-8"
                ) from None
    check_not_binary(data, filename)
    if data.startswith(UTF8_BOM):  # says it is UTF-8: bytes that are not are damage, not another encoding
        return decode_utf8(data, filename), "utf-8"
    try:
        return decode_utf8(data, filename), "utf-8"
    except InvalidInput as not_utf8:
        detected = _detect(data)
        if detected is None:
            raise InvalidInput(
                f"{not_utf8.args[0].split('; ')[0]}, and no common encoding reads it as text; convert it to UTF-8"
            ) from None
    return data.decode(detected), detected


def _detect(data: bytes) -> str | None:
    """The most likely legacy encoding of ``data`` (see ``decode``), or None."""
    import charset_normalizer

    results = list(charset_normalizer.from_bytes(data))
    if not results:
        return None
    best = min(results, key=lambda r: (r.chaos, -r.coherence))
    ties = {r.encoding for r in results if r.chaos <= best.chaos and r.coherence >= best.coherence - 0.005}
    for codec in _PREFERRED:
        if codec in ties:
            return codec
    if best.coherence < _LITTLE_EVIDENCE:
        western = charset_normalizer.from_bytes(data, cp_isolation=["cp1252"]).best()
        if western is not None and western.chaos <= best.chaos:
            return "cp1252"
    return str(best.encoding)


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
