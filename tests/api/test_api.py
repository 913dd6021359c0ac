"""The HTTP API over real HTTP semantics (TestClient), the real model, FAISS and SQLite."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.api.schemas import AskOut, SearchOut
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..conftest import EXAMPLES
from ..live_server import LOCAL


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("api"), max_document_bytes=200_000, max_request_bytes=400_000)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        for path in sorted(EXAMPLES.iterdir()):
            r = c.post("/v1/documents", files={"file": (path.name, path.read_bytes())})
            assert r.status_code == 201, r.text
        yield c
    svc.close()


def error(r: object, status: int) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message"} and body["message"]
    return str(body["message"])


def test_healthz_and_openapi_docs(client: TestClient) -> None:
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["documents"] >= 8 and h["chunks"] >= h["documents"]
    spec = client.get("/openapi.json").json()
    for path in ("/v1/search", "/v1/ask", "/v1/documents", "/v1/documents/{doc_id}", "/healthz"):
        assert path in spec["paths"], path
    # JSON on /v1/documents, files on /v1/documents/upload (tests/api/test_openapi.py has the rest).
    assert set(spec["paths"]["/v1/documents"]["post"]["requestBody"]["content"]) == {"application/json"}
    assert set(spec["paths"]["/v1/documents/upload"]["post"]["requestBody"]["content"]) == {"multipart/form-data"}
    assert "DocumentIn" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_ask_who_met_in_paris(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "Who met in Paris?"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["found"] and "al-Shaibani" in a["answer"] and "Dermer" in a["answer"]
    assert a["citations"]
    for c in a["citations"]:
        doc = client.get(f"/v1/documents/{c['doc_id']}", params={"include_text": True}).json()
        assert doc["text"][c["start"] : c["end"]] == c["quote"]


def test_search_returns_ranked_passages_with_spans(client: TestClient) -> None:
    r = client.post("/v1/search", json={"question": "How does a sourdough starter work?", "k": 3})
    assert r.status_code == 200
    passages = r.json()["passages"]
    assert len(passages) == 3 and passages[0]["doc_id"] == "upload/bread-baking.txt"
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)
    text = client.get("/v1/documents/upload/bread-baking.txt", params={"include_text": True}).json()["text"]
    assert text[passages[0]["start"] : passages[0]["end"]] == passages[0]["text"]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_answers_the_canonical_question(client: TestClient, mode: str) -> None:
    a = client.post("/v1/ask", json={"question": "Who met in Paris?", "mode": mode}).json()
    assert "al-Shaibani" in a["answer"] and "Dermer" in a["answer"], mode


def test_search_filters_on_metadata(client: TestClient) -> None:
    r = client.post("/v1/search", json={"question": "ranking", "k": 10, "filters": {"topic": "ranking"}})
    ids = {p["doc_id"] for p in r.json()["passages"]}
    assert ids and ids <= {"glossary-bm25", "glossary-rrf"}


def test_json_documents_lifecycle(client: TestClient) -> None:
    doc = {
        "id": "notes/kiln",
        "title": "Kiln",
        "text": "The kiln in the studio fires at 1240 degrees.",
        "metadata": {"team": "ceramics"},
    }
    r = client.post("/v1/documents", json=doc)
    assert r.status_code == 201 and r.json()["results"] == [{"id": "notes/kiln", "status": "added", "chunks": 1}]
    assert client.post("/v1/documents", json=doc).json()["results"][0]["status"] == "unchanged"
    batch = {"documents": [{**doc, "text": "The kiln now fires at 1300 degrees."}, {"text": "No id given here."}]}
    results = client.post("/v1/documents", json=batch).json()["results"]
    assert results[0]["status"] == "updated" and results[1]["id"].startswith("doc-")
    got = client.get("/v1/documents/notes/kiln").json()
    assert got["metadata"] == {"team": "ceramics"} and got["n_chunks"] == 1
    hits = client.post("/v1/search", json={"question": "kiln temperature", "filters": {"team": "ceramics"}}).json()
    assert [p["text"] for p in hits["passages"]] == ["The kiln now fires at 1300 degrees."]
    assert client.delete("/v1/documents/notes/kiln").json() == {"deleted": "notes/kiln"}
    error(client.get("/v1/documents/notes/kiln"), 404)
    assert (
        client.post("/v1/search", json={"question": "kiln", "filters": {"team": "ceramics"}}).json()["passages"] == []
    )
    client.delete(f"/v1/documents/{results[1]['id']}")


def test_list_documents_pages(client: TestClient) -> None:
    first = client.get("/v1/documents", params={"limit": 3}).json()
    second = client.get("/v1/documents", params={"limit": 3, "offset": 3}).json()
    assert first["total"] == second["total"] >= 8
    assert len(first["documents"]) == 3
    assert not {d["id"] for d in first["documents"]} & {d["id"] for d in second["documents"]}


# /v1/documents/upload is the upload's own operation; /v1/documents still takes the same form, as
# it did before (curl -F, the chat page, qa.client).
@pytest.mark.parametrize("route", ["/v1/documents/upload", "/v1/documents"])
def test_multipart_upload_with_id_title_and_metadata(client: TestClient, route: str) -> None:
    files = {"file": ("memo.md", io.BytesIO(b"# Memo\n\nThe quarterly offsite moves to Lisbon in May."))}
    data = {"id": "memo-1", "title": "Offsite memo", "metadata": json.dumps({"team": "ops"})}
    r = client.post(route, files=files, data=data)
    assert r.status_code == 201, r.text
    info = client.get("/v1/documents/memo-1").json()
    assert info["title"] == "Offsite memo" and info["metadata"]["team"] == "ops"
    a = client.post("/v1/ask", json={"question": "Where is the offsite?", "filters": {"team": "ops"}}).json()
    assert "Lisbon" in a["answer"]
    client.delete("/v1/documents/memo-1")


def test_each_documents_route_names_the_other_for_a_body_it_does_not_take(client: TestClient) -> None:
    message = error(client.post("/v1/documents/upload", json={"text": "The kiln fires at 1240 degrees."}), 415)
    assert "multipart/form-data" in message and "POST /v1/documents" in message
    message = error(client.post("/v1/documents", content=b"hi", headers={"content-type": "text/plain"}), 415)
    assert "POST /v1/documents/upload" in message
    # A document whose id is "upload" is still a document like any other.
    assert client.post("/v1/documents", json={"id": "upload", "text": "Upload day is Friday."}).status_code == 201
    assert client.get("/v1/documents/upload").json()["id"] == "upload"
    assert client.delete("/v1/documents/upload").json() == {"deleted": "upload"}


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"question": ""}, 422, "empty"),
        ({"question": "   "}, 422, "empty"),
        ({"question": "x" * 2001}, 413, "2001 characters"),
        ({"question": "ok", "k": 0}, 422, "k must be between 1 and 100"),
        ({"question": "ok", "k": 101}, 422, "k must be between 1 and 100"),
        ({"question": "ok", "k": "many"}, 422, "k"),
        ({"k": 3}, 422, "question"),
        ({"question": "ok", "surprise": 1}, 422, "surprise"),
        ({"question": "ok", "filters": {"bad'key": "x"}}, 422, "bad'key"),
        ({"question": 5}, 422, "question"),
        ({"question": "ok", "mode": "fuzzy"}, 422, "mode"),
    ],
)
@pytest.mark.parametrize("route", ["/v1/search", "/v1/ask"])
def test_bad_questions_get_clear_4xx(client: TestClient, route: str, payload: dict, status: int, needle: str) -> None:
    assert needle in error(client.post(route, json=payload), status)


def test_malformed_json_is_400(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert "not valid JSON" in error(client.post("/v1/ask", content=b'{"question": ', headers=headers), 400)
    assert "not valid JSON" in error(client.post("/v1/documents", content=b"{nope", headers=headers), 400)


def test_document_errors(client: TestClient) -> None:
    assert "no document with id 'missing'" in error(client.delete("/v1/documents/missing"), 404)
    assert "no document" in error(client.get("/v1/documents/missing"), 404)
    msg = error(client.post("/v1/documents", files={"file": ("a.doc", b"\xd0\xcf\x11\xe0junk")}), 415)
    assert ".doc" in msg
    assert ".docx" in error(client.post("/v1/documents", files={"file": ("a.docx", b"PK\x03\x04junk")}), 422)
    assert "empty" in error(client.post("/v1/documents", files={"file": ("e.txt", b"")}), 422)
    bad = bytes(range(0x80, 0x100)) * 2  # in no common encoding
    assert "UTF-8" in error(client.post("/v1/documents", files={"file": ("bad.txt", bad)}), 422)
    assert "text" in error(client.post("/v1/documents", json={"id": "x"}), 422)
    assert "no text" in error(client.post("/v1/documents", json={"id": "x", "text": "  "}), 422)
    assert "file" in error(client.post("/v1/documents", data={"id": "x"}, files={"other": ("a.txt", b"hi")}), 422)
    assert "content type" in error(
        client.post("/v1/documents", content=b"hi", headers={"content-type": "text/plain"}), 415
    )
    assert "200000" in error(client.post("/v1/documents", json={"id": "big", "text": "word " * 50_000}), 413)
    assert "400000" in error(client.post("/v1/documents", json={"id": "huge", "text": "w" * 500_000}), 413)
    assert "offset" in error(client.get("/v1/documents", params={"offset": -1}), 422)
    # An unknown /v1 path is an OpenAI client's (`/v1/completions`...): answered in OpenAI's shape.
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and "no route" in missing.json()["error"]["message"]
    assert "no route" in error(client.get("/nothing"), 404)
    assert client.get("/healthz").json()["documents"] >= 8  # nothing above broke the index


@pytest.mark.parametrize(("route", "model"), [("/v1/search", SearchOut), ("/v1/ask", AskOut)])
def test_question_routes_send_exactly_their_response_model(client: TestClient, route: str, model: type) -> None:
    # These routes serialize their model themselves (FastAPI's re-validation of it skipped): the
    # bytes must be the documented model's JSON, as FastAPI would have sent them.
    r = client.post(route, json={"question": "Who met in Paris?", "k": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert model.model_validate_json(r.content).model_dump_json().encode() == r.content
    assert len(r.json()["passages"]) == 3


def test_uvicorn_runs_on_httptools_and_uvloop() -> None:
    # uvicorn's `auto` takes them when installed, else silently falls back to h11 and asyncio's
    # loop, which cost more per request: the pins in pyproject.toml must keep them installed.
    import uvicorn
    import uvloop
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    config = uvicorn.Config(create_app(Settings()), log_config=None)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
