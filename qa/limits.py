"""What a document may bring besides its text (id, title, metadata), checked on the way in, and
metadata made safe to send on the way out.

Every way in (JSON, multipart, .jsonl, files, ``add_documents``) meets ``qa.ingest.validate``,
which calls ``check_metadata``: so nothing stored can break a response. ``safe_metadata`` guards
reads of what an older version stored before these limits existed.

Metadata is walked with an explicit stack, never by recursion: a value nested 1,000 levels deep
(as deep as ``json.loads`` goes) must get a message, not a ``RecursionError``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from qa.config import Settings
from qa.errors import InvalidInput, TooLarge

# Longest metadata key: keys name fields (filters take at most 64 characters); not a setting,
# since no one needs a longer name.
MAX_KEY_CHARS = 256
# The deepest nesting anything walks recursively (``qa.parse`` cleaning metadata up, pydantic
# serializing it: about 255 levels break it). QA_MAX_METADATA_DEPTH may not be set above it.
NESTING_CAP = 64
# Integers SQLite stores and filters compare exactly: wider ones are refused (as text they are fine).
INT64 = (-(2**63), 2**63 - 1)
# Largest per-request ``max_per_doc`` (0 is no cap): a cap at or above k caps nothing, and k
# itself is at most QA_MAX_K (100 by default), so a larger number can only be a mistake.
MAX_PER_DOC = 1000

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Limits:
    """The configured limits on a document's id, title and metadata (see ``Settings``)."""

    id_chars: int
    title_chars: int
    metadata_depth: int
    metadata_items: int
    metadata_string_chars: int
    metadata_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        s = settings
        return cls(
            id_chars=s.max_id_chars,
            title_chars=s.max_title_chars,
            metadata_depth=s.max_metadata_depth,
            metadata_items=s.max_metadata_items,
            metadata_string_chars=s.max_metadata_string_chars,
            metadata_bytes=s.max_metadata_bytes,
        )


# The settings' defaults (``model_construct`` reads no environment).
DEFAULT_LIMITS = Limits.of(Settings.model_construct())


def check_nesting(value: Any, max_depth: int, what: str = "metadata") -> None:
    """Raise ``TooLarge`` if ``value`` nests objects or arrays deeper than ``max_depth`` levels
    (``{}`` is one level, ``{"a": []}`` two); nothing else is checked."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > max_depth:
            raise TooLarge(
                f"{what} is nested more than {max_depth} levels deep (objects and arrays); "
                f"flatten it or raise QA_MAX_METADATA_DEPTH (at most {NESTING_CAP})"
            )
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def check_metadata(metadata: Any, limits: Limits, where: str = "") -> None:
    """Raise unless ``metadata`` is a JSON object within ``limits``: nesting, number of keys and
    list items (through every level), key and string lengths, serialized size; numbers finite and
    within 64 bits; only JSON types.

    Raises:
        TooLarge: over a limit (the message names its setting).
        InvalidInput: not a JSON object of strings, finite numbers, booleans, null, arrays, objects.
    """
    name = f"{where}metadata"
    if not isinstance(metadata, dict):
        raise InvalidInput(f"{name} must be a JSON object, got {type(metadata).__name__}")
    check_nesting(metadata, limits.metadata_depth, name)
    items = 0
    stack: list[Any] = [metadata]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            items += len(value)
            for key in value:
                if not isinstance(key, str):
                    raise InvalidInput(f"{name} keys must be strings, got {key!r}")
                if len(key) > MAX_KEY_CHARS:
                    raise TooLarge(
                        f"{name} key {key[:40]!r}... is {len(key)} characters, over {MAX_KEY_CHARS} characters"
                    )
            stack.extend(value.values())
        elif isinstance(value, list):
            items += len(value)
            stack.extend(value)
        elif isinstance(value, str):
            if len(value) > limits.metadata_string_chars:
                raise TooLarge(
                    f"{name} holds a string of {len(value)} characters, over the limit of "
                    f"{limits.metadata_string_chars} (QA_MAX_METADATA_STRING_CHARS)"
                )
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if not INT64[0] <= value <= INT64[1]:
                raise InvalidInput(
                    f"{name} holds the integer {str(value)[:40]}, beyond the 64-bit range; send it as a string"
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidInput(f"{name} holds {value!r}: numbers must be finite (NaN and Infinity are not JSON)")
        else:
            raise InvalidInput(
                f"{name} holds a {type(value).__name__}, which is not JSON: use strings, numbers, booleans, "
                "null, arrays and objects"
            )
        if items > limits.metadata_items:
            raise TooLarge(
                f"{name} has more than {limits.metadata_items} keys and list items; "
                "keep less in metadata or raise QA_MAX_METADATA_ITEMS"
            )
    size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > limits.metadata_bytes:
        raise TooLarge(
            f"{name} is {size} bytes as JSON, over the limit of {limits.metadata_bytes} (QA_MAX_METADATA_BYTES)"
        )


def check_id(doc_id: str, limits: Limits) -> None:
    """Raise ``InvalidInput`` unless the (normalized) id has 1 to ``limits.id_chars`` characters, not all blank."""
    if not doc_id.strip() or len(doc_id) > limits.id_chars:
        raise InvalidInput(
            f"document id {doc_id[:80]!r} must be 1 to {limits.id_chars} characters (QA_MAX_ID_CHARS), "
            "not blank once NUL characters and lone surrogates are removed"
        )


def check_title(title: str, doc_id: str, limits: Limits) -> None:
    if len(title) > limits.title_chars:
        raise TooLarge(
            f"document {doc_id!r} has a title of {len(title)} characters, over the limit of "
            f"{limits.title_chars} (QA_MAX_TITLE_CHARS); shorten it"
        )


def check_max_per_doc(max_per_doc: int) -> int:
    """``max_per_doc`` if it is 0 (no cap) to ``MAX_PER_DOC``, else ``InvalidInput``."""
    if isinstance(max_per_doc, bool) or not isinstance(max_per_doc, int) or not 0 <= max_per_doc <= MAX_PER_DOC:
        raise InvalidInput(
            f"max_per_doc must be between 0 (no cap) and {MAX_PER_DOC}, got {max_per_doc!r}; "
            "it is how many passages one document may give a result"
        )
    return max_per_doc


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, ending in "…", at a space when one is in
    its second half; unchanged when it fits."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ", max_chars // 2)
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def check_unicode(text: str, what: str) -> None:
    """Raise ``InvalidInput`` if ``text`` holds a lone surrogate, which is not text and cannot be
    encoded as UTF-8 (JSON allows "\\ud800"; Python's json module decodes it)."""
    m = _SURROGATE.search(text)
    if m is not None:
        raise InvalidInput(
            f"{what} holds a lone surrogate (U+{ord(m.group()):04X} at character {m.start()}), which is not "
            "valid Unicode text; remove it"
        )


def safe_metadata(metadata: Any, max_depth: int = NESTING_CAP) -> dict[str, Any]:
    """``metadata`` as it can always be sent as JSON: itself (no copy) when it can, else a copy with
    lone surrogates removed, non-finite numbers as null and anything nested deeper than
    ``max_depth`` replaced by a note. For values stored before the limits of ``check_metadata``."""
    if not isinstance(metadata, dict):
        return {}
    if _sendable(metadata, max_depth):
        return metadata
    return _repair(metadata, max_depth)


def _sendable(metadata: dict[str, Any], max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > max_depth or any(not isinstance(k, str) or _SURROGATE.search(k) for k in value):
                return False
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            if depth > max_depth:
                return False
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                return False
        elif isinstance(value, float):
            if not math.isfinite(value):
                return False
        elif not (value is None or isinstance(value, (bool, int))):
            return False
    return True


def _repair(metadata: dict[str, Any], max_depth: int) -> dict[str, Any]:
    """A sendable copy of ``metadata``, built with an explicit stack (it may be deep)."""
    root: dict[str, Any] = {}
    # (container to fill, key or index in it, value to copy, its depth)
    stack: list[tuple[Any, Any, Any, int]] = [(root, k, v, 2) for k, v in metadata.items()]
    while stack:
        parent, key, value, depth = stack.pop()
        out: Any
        if isinstance(value, (dict, list)) and depth > max_depth:
            out = f"(nested deeper than {max_depth} levels: not shown)"
        elif isinstance(value, dict):
            out = {}
            stack.extend((out, k, v, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            out = [None] * len(value)
            stack.extend((out, i, v, depth + 1) for i, v in enumerate(value))
        elif isinstance(value, str):
            out = _SURROGATE.sub("", value)
        elif isinstance(value, float):
            out = value if math.isfinite(value) else None
        elif value is None or isinstance(value, (bool, int)):
            out = value
        else:
            out = str(value)
        parent[_SURROGATE.sub("", str(key)) if isinstance(parent, dict) else key] = out
    return root
