"""Case where it matters: "-v" and "-V", "-l" and "-L", "%d" and "%D" are different options, and a
question that names one gets the passage that defines that one first. Over real HTTP (uvicorn on
a socket), the real model and the real store, on a manual page written for the tests
(tests/data/arcs.1.txt) beside the example documents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.config import Settings
from qa.service import QAService

from ..conftest import EXAMPLES
from ..live_server import live_server
from .test_service import index_paths

MANPAGE = Path(__file__).resolve().parents[1] / "data" / "arcs.1.txt"

# Question -> the start of the line that answers it in the manual page.
PAIRS = [
    ("What does arcs -V do?", "-V, --version"),
    ("What does arcs -v do?", "-v, --verbose"),
    ("What does arcs -L do?", "-L, --dereference"),
    ("What does -R do?", "-R, --recursive"),
    ("What does -r do?", "-r, --reverse"),
    ("What does arcs -Z do?", "-Z, --zstd"),
    ("What does arcs -X do?", "-X FILE"),
    ("What does %D print in arcs?", "%D     the date"),
]
# Not asked here: "arcs -R", whose example line ("arcs -R -z -o backup.tar.gz") holds "arcs" twice
# and "-R" as written, and "%d", "%y", which the shorthand lines use ("%m/%d/%y"): the passage that
# mentions the option as written can come first there. Telling a definition from a mention is
# not a matter of case.


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[httpx.Client]:
    svc = QAService(Settings(index_dir=tmp_path_factory.mktemp("case")), embedder=embedder)
    index_paths(svc, EXAMPLES)
    with live_server(svc) as base, httpx.Client(base_url=base, timeout=120) as client:
        doc = {"id": "arcs.1", "title": "arcs(1)", "text": MANPAGE.read_text()}
        assert client.post("/v1/documents", json=doc).status_code == 201
        yield client
    svc.close()


def line_at(text: str, start: str) -> int:
    m = re.search(re.escape(start).replace(r"\ ", r"\s+"), text)
    assert m, start
    return m.start()


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
@pytest.mark.parametrize(("question", "line"), PAIRS)
def test_the_option_asked_about_comes_first(http: httpx.Client, mode: str, question: str, line: str) -> None:
    text = MANPAGE.read_text()
    r = http.post("/v1/search", json={"question": question, "k": 3, "mode": mode})
    assert r.status_code == 200, r.text
    top = r.json()["passages"][0]
    assert top["doc_id"] == "arcs.1" and top["start"] <= line_at(text, line) < top["end"], (question, top["text"])


def test_ask_reads_the_passage_of_the_option_asked_about_first(http: httpx.Client) -> None:
    text = MANPAGE.read_text()
    for question, line in PAIRS[:2]:
        a = http.post("/v1/ask", json={"question": question}).json()
        top = a["passages"][0]
        assert top["start"] <= line_at(text, line) < top["end"], (question, top["text"])
        for c in a["citations"]:
            assert text[c["start"] : c["end"]] == c["quote"]
