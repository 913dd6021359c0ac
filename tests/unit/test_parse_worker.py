"""Parsing in worker processes (issue 16, point 13): the same documents as in-process parsing,
and a file that runs over its time or memory limit is refused (its worker killed), not parsed."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from qa.errors import InvalidInput, TooLarge, UnsupportedFileType
from qa.parse import parse_bytes
from qa.parse.worker import ParseLimits, parse_limited, pool

from ..conftest import ROOT
from ..hostile import messy_html, pdf_bomb
from .test_parse import HTML, pdf_bytes

LIMITS = ParseLimits(timeout=20, memory_mb=1024, workers=2)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.md", "# Title\n\nBody text, caf\u00e9 \u2014 ok.".encode()),
        ("page.html", HTML.encode()),
        ("doc.pdf", pdf_bytes("Page one text.", "Page two text.", title="A PDF")),
        ("d.jsonl", b'{"id": "x", "text": "one", "metadata": {"n": 1.5, "tags": ["a"]}}\n{"text": "two"}\n'),
    ],
)
def test_worker_returns_what_parse_bytes_returns(name: str, data: bytes) -> None:
    kwargs = {"title": None, "metadata": {"k": "v"}, "max_bytes": 10_000, "source": "/src/" + name}
    assert parse_limited(data, name, LIMITS, **kwargs) == parse_bytes(data, name, **kwargs)


def test_errors_cross_with_their_type_and_message() -> None:
    with pytest.raises(InvalidInput, match="'e.txt' is empty"):
        parse_limited(b"  ", "e.txt", LIMITS)
    with pytest.raises(UnsupportedFileType):
        parse_limited(b"x", "e.doc", LIMITS)
    with pytest.raises(TooLarge, match="QA_MAX_DOCUMENT_BYTES"):
        parse_limited(b"x" * 11, "e.txt", LIMITS, max_bytes=10)


def warm_up(limits: ParseLimits, tries: int = 5) -> None:
    """A first parse, so the worker has started and imported its modules. On a loaded machine
    that start alone can pass a short limit (the worker is then replaced): try again, a few times."""
    for _ in range(tries - 1):
        try:
            parse_limited(b"warm up", "w.txt", limits)
            return
        except TooLarge:
            continue
    parse_limited(b"warm up", "w.txt", limits)


def test_pdf_bomb_is_stopped_at_the_time_limit_and_the_worker_replaced() -> None:
    limits = ParseLimits(timeout=1.0, memory_mb=1024, workers=1)
    warm_up(limits)  # the worker's start is not the file's time
    (worker,) = pool(limits).idle_processes()
    bomb = pdf_bomb()
    assert len(bomb) < 32_000
    started = time.monotonic()
    with pytest.raises(TooLarge, match="took more than 1 s to parse.*QA_PARSE_TIMEOUT"):
        parse_limited(bomb, "bomb.pdf", limits)
    assert time.monotonic() - started < 3
    assert worker.poll() is not None  # killed, not left running
    assert parse_limited(b"after", "a.txt", limits)[0].text == "after"  # a fresh worker takes over


def test_messy_html_is_stopped_at_the_time_limit() -> None:
    limits = ParseLimits(timeout=0.5, memory_mb=1024, workers=1)
    warm_up(limits)
    with pytest.raises(TooLarge, match="QA_PARSE_TIMEOUT"):
        parse_limited(messy_html(), "messy.html", limits)


def test_memory_cap_refuses_a_file_that_needs_more() -> None:
    limits = ParseLimits(timeout=20, memory_mb=200, workers=1)
    # 60 MB of text: decoding and normalizing it needs several copies, over 200 MB.
    with pytest.raises(TooLarge, match="(more than|memory limit of) 200 MB.*QA_PARSE_MEMORY_MB"):
        parse_limited(b"word " * 12_000_000, "big.txt", limits)
    assert parse_limited(b"small", "s.txt", limits)[0].text == "small"


def test_timeout_zero_parses_in_process() -> None:
    assert parse_limited(b"here", "h.txt", ParseLimits(timeout=0))[0].text == "here"
    assert not pool(ParseLimits(timeout=0)).idle_processes()


def test_worker_imports_no_model_library() -> None:
    """A worker starts fast and small: it imports qa.parse, never numpy or torch."""
    code = (
        "import sys, qa.parse.worker; print(json.dumps(sorted({'torch', 'numpy', 'onnxruntime'} & set(sys.modules))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
