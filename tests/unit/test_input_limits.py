"""What a document may bring besides its text, and what a filter may be, checked without a server
(issue 16, points 5, 6, 14 and 15)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from qa.chunk import Chunker
from qa.errors import InvalidInput, TooLarge
from qa.ingest import validate
from qa.parse import parse_bytes
from qa.store.filters import parse_filters
from qa.types import Document

MB = 1_000_000


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def doc(**fields: Any) -> Document:
    return Document(**{"id": "d", "text": "Otters hold hands.", **fields})


# -- point 15 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["\x00", "\ud800", "\x00\udc00\x00", " \x00 "])
def test_ids_blank_after_normalizing_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="blank"):
        validate(doc(id=raw), MB)


def test_ids_are_normalized_before_their_length_is_checked() -> None:
    assert validate(doc(id="a\x00b\ud800"), MB).id == "ab"
    assert len(validate(doc(id="x" * 512 + "\x00" * 10), MB).id) == 512


# -- point 5 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "needle"),
    [
        (nested(256), "QA_MAX_METADATA_DEPTH"),
        (nested(9), "QA_MAX_METADATA_DEPTH"),
        ({"a": [[[[[[[[[1]]]]]]]]]}, "QA_MAX_METADATA_DEPTH"),
        ({f"k{i}": i for i in range(1000)}, "QA_MAX_METADATA_ITEMS"),
        ({"a": list(range(10_000))}, "QA_MAX_METADATA_ITEMS"),
        ({"k" * 257: 1}, "256 characters"),
        ({"a": "x" * 10_000}, "QA_MAX_METADATA_STRING_CHARS"),
        ({f"k{i}": "x" * 4000 for i in range(100)}, "QA_MAX_METADATA_BYTES"),
    ],
)
def test_metadata_over_a_limit_is_too_large(metadata: Any, needle: str) -> None:
    with pytest.raises(TooLarge, match=needle):
        validate(doc(metadata=metadata), MB)


@pytest.mark.parametrize(
    ("metadata", "needle"),
    [
        ({"a": math.nan}, "finite"),
        ({"a": [math.inf]}, "finite"),
        ({"a": {"b": -math.inf}}, "finite"),
        ({"a": 2**63}, "64-bit"),
        ({"a": -(2**63) - 1}, "64-bit"),
        ({"a": {1, 2}}, "JSON"),
        ({"a": object()}, "JSON"),
        ({1: "a"}, "string"),
        ([1], "object"),
    ],
)
def test_metadata_that_is_not_plain_json_is_invalid(metadata: Any, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        validate(doc(metadata=metadata), MB)


def test_metadata_within_the_limits_is_kept_and_normalized() -> None:
    meta = {"a": nested(7), "n": [1, 2.5, True, None, 2**63 - 1, -(2**63)], "s": "x\x00y\ud800"}
    out = validate(doc(metadata=meta), MB).metadata
    assert out == {**meta, "s": "xy"}
    json.dumps(out, allow_nan=False).encode("utf-8")


def test_stored_metadata_is_made_safe_to_send() -> None:
    from qa.limits import safe_metadata  # here: the other tests also run on code without the module

    fine = {"a": [1, 2.5, "x", None, True], "b": nested(7)}
    assert safe_metadata(fine) is fine
    bad = {"deep": nested(300), "nan": [math.nan, math.inf], "s\ud800": "x\ud800y", "n": 2**70}
    out = safe_metadata(bad)
    json.dumps(out, allow_nan=False).encode("utf-8")
    assert out["nan"] == [None, None] and out["s"] == "xy" and out["n"] == 2**70
    depth, value = 0, out["deep"]
    while isinstance(value, dict):
        depth, value = depth + 1, value["a"]
    assert depth == 63 and "not shown" in value


# -- point 6 ------------------------------------------------------------------------------------


def test_filters_are_bounded() -> None:
    with pytest.raises(InvalidInput, match="1000 fields"):
        parse_filters({f"k{i}": 1 for i in range(1000)})
    for value in (2**63, -(2**63) - 1, 2**70):
        with pytest.raises(InvalidInput, match="64-bit"):
            parse_filters({"n": value})
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(InvalidInput, match="finite"):
            parse_filters({"n": value})
    assert parse_filters({"n": 2**63 - 1, "m": -(2**63), "f": 1.5}).match == (
        ("n", 2**63 - 1),
        ("m", -(2**63)),
        ("f", 1.5),
    )
    assert parse_filters({f"k{i}": 1 for i in range(64)}).match


def test_parsing_refuses_metadata_too_deep_to_clean_up() -> None:
    line = ('{"text": "hi", "metadata": {"a": ' + "[" * 900 + "]" * 900 + "}}").encode()
    with pytest.raises(InvalidInput):
        parse_bytes(line, "a.jsonl")
    with pytest.raises(InvalidInput):
        parse_bytes(b"Otters.", "a.txt", metadata=nested(900))


# -- point 14 -----------------------------------------------------------------------------------


def test_titles_over_the_limit_are_too_large() -> None:
    with pytest.raises(TooLarge, match="QA_MAX_TITLE_CHARS"):
        validate(doc(title="T" * 1001), MB)
    assert validate(doc(title="T" * 1000 + "\x00"), MB).title == "T" * 1000


def test_ids_over_the_limit_are_invalid() -> None:
    with pytest.raises(InvalidInput, match="QA_MAX_ID_CHARS"):
        validate(doc(id="x" * 513), MB)


def test_titles_parsed_from_files_are_cut_at_a_word() -> None:
    for data, name in (
        (b"# " + b"word " * 1000 + b"\n\nOtters.", "a.md"),
        (b"<title>" + b"word " * 1000 + b"</title><p>Otters.</p>", "a.html"),
        (b"<h1>" + b"word " * 1000 + b"</h1><p>Otters.</p>", "b.html"),
        (b"Otters.", "x" * 300 + ".txt"),
    ):
        (parsed,) = parse_bytes(data, name, doc_id="d")
        assert len(parsed.title) <= 200 and parsed.title.endswith("…"), name
        assert not parsed.title.startswith("x") or len(parsed.title) == 200
    (parsed,) = parse_bytes(b"# A title\n\nOtters.", "a.md")
    assert parsed.title == "A title"


def test_chunk_headings_are_cut_and_the_text_is_kept() -> None:
    heading = "# " + "Heading " * 10_000
    d = doc(text=heading + "\n\nOtters are here.\n")
    chunks = Chunker(max_tokens=64, overlap=0).chunk(d)
    body = [c for c in chunks if "Otters" in c.text]
    assert body and body[0].heading is not None
    assert len(body[0].heading) <= 200 and body[0].heading.endswith("…")
    assert all(d.text[c.start : c.end] == c.text for c in chunks)
    short = Chunker(max_tokens=64, overlap=0, max_heading_chars=12).chunk(doc(text="# A long heading\n\nOtters."))
    assert short[-1].heading == "A long…"
