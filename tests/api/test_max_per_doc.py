"""Per-request ``max_per_doc`` on /v1/search, /v1/ask and /v1/chat, and k honoured when a filter
leaves one document: over real HTTP (uvicorn on a socket), the real model and the real store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.limits import MAX_PER_DOC
from qa.service import QAService
from qa.types import Document

from ..conftest import EXAMPLES
from ..live_server import live_server
from .test_service import index_paths

MANPAGE = Path(__file__).resolve().parents[1] / "data" / "arcs.1.txt"
MAN_ID = "arcs.1"


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[httpx.Client]:
    from qa.config import Settings

    # Small chunks: the manual page is about 25 of them, so one document can fill any k below.
    settings = Settings(index_dir=tmp_path_factory.mktemp("mpd"), chunk_tokens=64, chunk_overlap=8)
    svc = QAService(settings, embedder=embedder)
    index_paths(svc, EXAMPLES)
    svc.add_documents([Document(id=MAN_ID, title="arcs(1)", text=MANPAGE.read_text(), metadata={"kind": "man"})])
    with live_server(svc) as base, httpx.Client(base_url=base, timeout=120) as client:
        yield client
    svc.close()


def passages(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    return list(r.json()["passages"])


def assert_clean(client: httpx.Client, ps: list[dict[str, Any]]) -> None:
    """Exact offsets, scores best first, and no two passages of a document overlapping or touching."""
    assert [p["score"] for p in ps] == sorted((p["score"] for p in ps), reverse=True)
    texts: dict[str, str] = {}
    for p in ps:
        if p["doc_id"] not in texts:
            doc = client.get(f"/v1/documents/{p['doc_id']}", params={"include_text": True}).json()
            texts[p["doc_id"]] = doc["text"]
        assert texts[p["doc_id"]][p["start"] : p["end"]] == p["text"]
    for i, p in enumerate(ps):
        for q in ps[i + 1 :]:
            assert p["doc_id"] != q["doc_id"] or p["end"] < q["start"] or q["end"] < p["start"]


@pytest.mark.parametrize("filters", [{"doc_id": MAN_ID}, {"kind": "man"}])
def test_a_filter_that_leaves_one_document_gets_k_passages_of_it(http: httpx.Client, filters: dict[str, str]) -> None:
    question = "How are times printed in the long listing?"
    ps = passages(http.post("/v1/search", json={"question": question, "k": 10, "filters": filters}))
    # The server-wide cap is 3: it held only while other documents could fill k.
    assert 3 < len(ps) <= 10 and {p["doc_id"] for p in ps} == {MAN_ID}
    assert_clean(http, ps)
    # An explicit cap is a cap too: one document left fills k whatever it is.
    one = passages(http.post("/v1/search", json={"question": question, "k": 10, "filters": filters, "max_per_doc": 1}))
    assert [p["chunk_id"] for p in one] == [p["chunk_id"] for p in ps]


def test_max_per_doc_per_request_on_search(http: httpx.Client) -> None:
    question = "What is BM25 and how does FAISS search vectors?"
    for cap in (1, 2):
        ps = passages(http.post("/v1/search", json={"question": question, "k": 5, "max_per_doc": cap}))
        assert len(ps) == 5 and max(Counter(p["doc_id"] for p in ps).values()) == cap, ps
        assert_clean(http, ps)
    uncapped = passages(
        http.post("/v1/search", json={"question": "arcs options for listing files", "k": 8, "max_per_doc": 0})
    )
    assert Counter(p["doc_id"] for p in uncapped)[MAN_ID] > 3  # the server's cap of 3 lifted
    assert_clean(http, uncapped)


def test_the_cap_gives_way_when_the_candidates_hold_too_few_documents(http: httpx.Client) -> None:
    # The candidates (the top 30 chunks) of this question are of two documents only: capped at one
    # passage each, the rest of k is filled by the next best passages, whatever their document.
    question = "Which option of arcs follows symbolic links, and how is bread dough proofed?"
    ps = passages(http.post("/v1/search", json={"question": question, "k": 5, "max_per_doc": 1}))
    assert len(ps) == 5 and [p["doc_id"] for p in ps][:2] == [MAN_ID, "bread-baking.txt"], ps
    assert_clean(http, ps)


def test_max_per_doc_on_ask_and_chat(http: httpx.Client) -> None:
    question = "What is BM25 and how does FAISS search vectors?"
    body = {"question": question, "k": 5, "max_per_doc": 1}
    searched = [p["chunk_id"] for p in passages(http.post("/v1/search", json=body))]
    a = http.post("/v1/ask", json=body)
    assert a.status_code == 200, a.text
    assert [p["chunk_id"] for p in a.json()["passages"]] == searched
    assert len({p["doc_id"] for p in a.json()["passages"]}) == 5
    messages = [{"role": "user", "content": question}]
    c = http.post("/v1/chat", json={"messages": messages, "k": 5, "max_per_doc": 1})
    assert c.status_code == 200, c.text
    assert [p["chunk_id"] for p in c.json()["passages"]] == searched
    default = http.post("/v1/chat", json={"messages": messages, "k": 5}).json()
    assert Counter(p["doc_id"] for p in default["passages"])["faiss-notes.md"] == 3
    filtered = http.post("/v1/chat", json={"messages": messages, "k": 6, "filters": {"doc_id": MAN_ID}}).json()
    assert len(filtered["passages"]) > 3 and {p["doc_id"] for p in filtered["passages"]} == {MAN_ID}


@pytest.mark.parametrize("value", [-1, MAX_PER_DOC + 1, "many", 2.5, None])
@pytest.mark.parametrize("route", ["/v1/search", "/v1/ask", "/v1/chat"])
def test_bad_max_per_doc_is_a_json_422(http: httpx.Client, route: str, value: object) -> None:
    body: dict[str, Any] = (
        {"messages": [{"role": "user", "content": "what does -V do?"}]}
        if route == "/v1/chat"
        else {"question": "what does -V do?"}
    )
    r = http.post(route, json={**body, "max_per_doc": value})
    if value is None:  # null: the server's QA_MAX_PER_DOC
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 422, r.text
    got = r.json()
    assert set(got) == {"error", "message"} and got["error"] == "invalid_input" and "max_per_doc" in got["message"]


def test_max_per_doc_is_documented_in_openapi(http: httpx.Client) -> None:
    schemas = http.get("/openapi.json").json()["components"]["schemas"]
    for model in ("QuestionIn", "ChatIn"):
        field = schemas[model]["properties"]["max_per_doc"]
        ranges = [s for s in field["anyOf"] if s.get("type") == "integer"]
        assert ranges == [{"type": "integer", "minimum": 0, "maximum": MAX_PER_DOC}], field
        assert "no cap" in field["description"] and "filter" in field["description"]


def test_service_and_cli_refuse_a_bad_max_per_doc(make_service: Callable[..., QAService], tmp_path: Path) -> None:
    from qa.errors import InvalidInput

    svc = make_service()
    for bad in (-1, MAX_PER_DOC + 1):
        with pytest.raises(InvalidInput, match="max_per_doc must be between 0"):
            svc.search("anything", max_per_doc=bad)
        with pytest.raises(InvalidInput, match="max_per_doc"):
            svc.ask_stream("anything", max_per_doc=bad)
    from .test_cli import empty_index, qa

    empty_index(tmp_path)
    r = qa(tmp_path, "search", "x", "--max-per-doc", "-3", "--mode", "lexical")
    assert r.returncode != 0 and "max_per_doc must be between 0" in r.stderr
