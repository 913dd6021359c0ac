"""Collections over HTTP (TestClient), with the real model, FAISS, SQLite and tantivy: created,
listed, described and deleted; isolated from each other on every route; kept across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.api import create_app
from qa.collections import Collections
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.types import Document

from ..live_server import LOCAL

HR_TEXT = (
    "Parental leave policy. Employees receive sixteen weeks of paid parental leave after the birth or "
    "adoption of a child. Requests go to the people team four weeks ahead."
)
DEFAULT_TEXT = (
    "The Eiffel Tower in Paris was completed in 1889. It is 330 metres tall and was built by the "
    "company of Gustave Eiffel for the World's Fair."
)
LEAVE = "How many weeks of paid parental leave do employees get?"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index made before collections existed: ``index/default`` with one document."""
    path = tmp_path_factory.mktemp("collections")
    svc = QAService(Settings(index_dir=path), embedder=embedder)
    svc.add_documents([Document(id="eiffel", text=DEFAULT_TEXT, title="Eiffel Tower")])
    svc.close()
    return path


@pytest.fixture(scope="module")
def client(index_dir: Path, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(index_dir=index_dir)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        r = c.post("/v1/collections", json={"name": "hr", "settings": {"chunk_tokens": 120, "language": "en"}})
        assert r.status_code == 201, r.text
        r = c.post("/v1/documents?collection=hr", json={"id": "leave", "text": HR_TEXT, "title": "Parental leave"})
        assert r.status_code == 201, r.text
        yield c
    svc.close()


def error(r: object, status: int, kind: str | None = None) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message"} and body["message"]
    if kind is not None:
        assert body["error"] == kind
    return str(body["message"])


def test_an_existing_index_is_the_default_collection(client: TestClient) -> None:
    listed = client.get("/v1/collections").json()["collections"]
    assert [c["name"] for c in listed] == ["default", "hr"]
    default = listed[0]
    assert default["default"] and default["model_id"] == "qa" and default["documents"] == 1
    assert default["overrides"] == {} and default["created_at"] is None
    # Today's URLs answer from it.
    a = client.post("/v1/ask", json={"question": "When was the Eiffel Tower completed?"}).json()
    assert a["found"] and a["citations"][0]["doc_id"] == "eiffel"
    assert client.get("/v1/collections/default").json()["documents"] == 1


def test_describe_shows_overrides_and_the_settings_run_with(client: TestClient) -> None:
    hr = client.get("/v1/collections/hr").json()
    assert hr["name"] == "hr" and not hr["default"] and hr["model_id"] == "hr"
    assert hr["overrides"] == {"chunk_tokens": 120, "language": "en"}
    assert hr["settings"]["chunk_tokens"] == 120 and hr["settings"]["chunk_overlap"] == 32
    assert hr["settings"]["language"] == "en"
    assert hr["documents"] == 1 and hr["chunks"] >= 1 and hr["created_at"] > 0
    assert hr["location"].endswith("hr")


def test_a_document_in_one_collection_is_never_seen_from_another(client: TestClient) -> None:
    # Found, answered, listed and fetched in hr...
    a = client.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()
    assert a["found"] and a["citations"][0]["doc_id"] == "leave" and "sixteen weeks" in a["answer"]
    passages = client.post("/v1/search?collection=hr", json={"question": LEAVE}).json()["passages"]
    assert [p["doc_id"] for p in passages] == ["leave"]
    assert [d["id"] for d in client.get("/v1/documents?collection=hr").json()["documents"]] == ["leave"]
    assert client.get("/v1/documents/leave?collection=hr").status_code == 200
    chat = client.post("/v1/chat?collection=hr", json={"messages": [{"role": "user", "content": LEAVE}]})
    assert chat.status_code == 200 and "sixteen weeks" in chat.text
    # ...and never from the default collection, on any route.
    for mode in ("dense", "lexical", "hybrid"):
        found = client.post("/v1/search", json={"question": LEAVE, "mode": mode}).json()["passages"]
        assert all(p["doc_id"] != "leave" for p in found), mode
    a = client.post("/v1/ask", json={"question": LEAVE}).json()
    assert all(c["doc_id"] != "leave" for c in a["citations"])
    assert [d["id"] for d in client.get("/v1/documents").json()["documents"]] == ["eiffel"]
    error(client.get("/v1/documents/leave"), 404)
    error(client.delete("/v1/documents/leave"), 404)
    chat = client.post("/v1/chat", json={"messages": [{"role": "user", "content": LEAVE}]})
    assert "leave" not in [c.get("doc_id") for c in _chat_citations(chat.text)]
    completion = client.post(
        "/v1/chat/completions", json={"model": "qa", "messages": [{"role": "user", "content": LEAVE}]}
    )
    assert "sixteen weeks" not in completion.json()["choices"][0]["message"]["content"]
    # The hr document is untouched by the default's refusals.
    assert client.get("/v1/collections/hr").json()["documents"] == 1


def _chat_citations(stream: str) -> list[dict[str, object]]:
    import json

    out: list[dict[str, object]] = []
    for line in stream.splitlines():
        if line.startswith("data: ") and '"citations"' in line:
            data = json.loads(line[len("data: ") :])
            out += data.get("citations", [])
    return out


def test_the_openai_model_picks_the_collection(client: TestClient) -> None:
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["qa", "hr"]
    assert client.get("/v1/models/hr").json()["id"] == "hr"
    assert client.get("/v1/models/default").status_code == 200
    messages = [{"role": "user", "content": LEAVE}]
    r = client.post("/v1/chat/completions", json={"model": "hr", "messages": messages}).json()
    assert r["model"] == "hr" and "sixteen weeks" in r["choices"][0]["message"]["content"]
    # Its citations link to the document's page in its collection.
    url = r["choices"][0]["message"]["annotations"][0]["url_citation"]["url"]
    assert "/documents/leave?collection=hr#" in url
    r = client.post("/v1/responses", json={"model": "hr", "input": LEAVE}).json()
    assert r["model"] == "hr" and "sixteen weeks" in r["output"][0]["content"][0]["text"]
    e = client.post("/v1/embeddings", json={"model": "hr", "input": "leave"}).json()
    assert len(e["data"][0]["embedding"]) == 384


def test_unknown_collections_are_404_in_each_shape(client: TestClient) -> None:
    assert "no collection 'nope'" in error(client.post("/v1/ask?collection=nope", json={"question": "x?"}), 404)
    error(client.get("/v1/documents?collection=nope"), 404)
    error(client.get("/v1/jobs?collection=nope"), 404)
    error(client.get("/v1/collections/nope"), 404)
    assert client.get("/v1/collections/..%2Fdefault").status_code == 404  # no such route
    error(client.get("/v1/documents?collection=../default"), 404)
    error(client.get("/v1/documents?collection=%2Ftmp"), 404)
    for path, body in (
        ("/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "x?"}]}),
        ("/v1/responses", {"model": "nope", "input": "x?"}),
        ("/v1/embeddings", {"model": "nope", "input": "x"}),
    ):
        r = client.post(path, json=body)
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found", path
    assert client.get("/v1/models/nope").json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("name", ["", "../x", "a/b", "x" * 49, "HR", "-hr", "qa", "hr.v2", "..", "caf\u00e9"])
def test_bad_names_are_refused(client: TestClient, name: str) -> None:
    error(client.post("/v1/collections", json={"name": name}), 422)


@pytest.mark.parametrize(
    "settings",
    [{"api_keys": "x"}, {"chunk_tokens": 5}, {"embed_backend": "gpu"}, {"chunk_overlap": 500}, {"language": "../x"}],
)
def test_bad_settings_are_refused(client: TestClient, settings: dict[str, object]) -> None:
    message = error(client.post("/v1/collections", json={"name": "bad", "settings": settings}), 422)
    assert next(iter(settings)) in message
    error(client.get("/v1/collections/bad"), 404)


def test_a_name_taken_is_a_conflict(client: TestClient) -> None:
    assert "exists already" in error(client.post("/v1/collections", json={"name": "hr"}), 409, "conflict")
    error(client.post("/v1/collections", json={"name": "default"}), 409, "conflict")
    assert client.get("/v1/collections/hr").json()["overrides"]["chunk_tokens"] == 120


def test_the_default_collection_cannot_be_deleted(client: TestClient) -> None:
    error(client.delete("/v1/collections/default"), 409, "conflict")
    error(client.delete("/v1/collections/nope"), 404)
    assert client.get("/v1/collections/default").json()["documents"] == 1


def test_deleting_an_open_collection(client: TestClient, index_dir: Path) -> None:
    assert client.post("/v1/collections", json={"name": "tmp"}).status_code == 201
    assert client.post("/v1/documents?collection=tmp", json={"id": "t", "text": HR_TEXT}).status_code == 201
    assert client.post("/v1/ask?collection=tmp", json={"question": LEAVE}).json()["found"]  # open, model loaded
    assert client.delete("/v1/collections/tmp").json() == {"deleted": "tmp"}
    assert not (index_dir / "tmp").exists() and not list(index_dir.glob(".deleted-*"))
    error(client.post("/v1/ask?collection=tmp", json={"question": LEAVE}), 404)
    error(client.get("/v1/collections/tmp"), 404)
    assert "tmp" not in [m["id"] for m in client.get("/v1/models").json()["data"]]
    # The name is free again, for an empty collection.
    assert client.post("/v1/collections", json={"name": "tmp"}).json()["documents"] == 0
    assert client.delete("/v1/collections/tmp").status_code == 200


def test_jobs_run_in_their_collection(client: TestClient) -> None:
    r = client.post(
        "/v1/documents?collection=hr&async=true", json={"id": "holidays", "text": "Holidays: 25 days a year."}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    error(client.get(f"/v1/jobs/{job_id}"), 404)  # not the default's
    for _ in range(600):
        job = client.get(f"/v1/jobs/{job_id}?collection=hr").json()
        if job["status"] in ("succeeded", "failed"):
            break
        import time

        time.sleep(0.05)
    assert job["status"] == "succeeded", job
    assert client.get("/v1/documents/holidays?collection=hr").status_code == 200
    error(client.get("/v1/documents/holidays"), 404)
    assert client.delete("/v1/documents/holidays?collection=hr").status_code == 200


def test_metrics_are_labelled_by_collection(client: TestClient) -> None:
    client.post("/v1/ask?collection=hr", json={"question": LEAVE})
    labels = [
        s.labels
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
        if s.name == "qa_answers_total"
    ]
    assert {"collection": "hr", "result": "found"} in labels


def test_a_restart_keeps_collections_and_their_settings(
    client: TestClient, index_dir: Path, embedder: Embedder
) -> None:
    settings = Settings(index_dir=index_dir)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as again:
        hr = again.get("/v1/collections/hr").json()
        assert hr["overrides"] == {"chunk_tokens": 120, "language": "en"} and hr["documents"] == 1
        assert again.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()["found"]
    svc.close()


def test_collections_of_one_model_share_its_embedder(tmp_path: Path, embedder: Embedder) -> None:
    cols = Collections(Settings(index_dir=tmp_path))
    try:
        cols.create("a")
        cols.create("b", {"chunk_tokens": 100})
        assert cols.get("a").embedder is cols.get("b").embedder is cols.get(None).embedder
        assert cols.get("b").settings.chunk_tokens == 100 and cols.get("a").settings.chunk_tokens == 200
        # Another backend is another embedder, and another index: no vector is shared.
        cols.create("t", {"embed_backend": "torch"})
        assert cols.get("t").embedder is not cols.get("a").embedder
        cols.get("t").add_documents([Document(id="leave", text=HR_TEXT)])
        assert cols.get("t").ask(LEAVE).found and cols.get("a").list_documents()[1] == 0
        assert [c.name for c in cols.list()] == ["default", "a", "b", "t"]
    finally:
        cols.close()


def test_the_openai_sdk_picks_a_collection_by_model(tmp_path: Path, embedder: Embedder) -> None:
    """What Open WebUI does: list the models, pick one, chat; against a real server on 127.0.0.1."""
    import httpx
    import openai

    from ..live_server import live_server

    svc = QAService(Settings(index_dir=tmp_path), embedder=embedder)
    try:
        with live_server(svc) as base:
            assert httpx.post(f"{base}/v1/collections", json={"name": "hr"}, timeout=120).status_code == 201
            r = httpx.post(f"{base}/v1/documents", params={"collection": "hr"}, json={"id": "leave", "text": HR_TEXT})
            assert r.status_code == 201, r.text
            with openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=120) as client:
                assert [m.id for m in client.models.list()] == ["qa", "hr"]
                messages: list[Any] = [{"role": "user", "content": LEAVE}]
                hr = client.chat.completions.create(model="hr", messages=messages)
                assert hr.model == "hr" and "sixteen weeks" in (hr.choices[0].message.content or "")
                streamed = client.chat.completions.create(model="hr", messages=messages, stream=True)
                assert "sixteen weeks" in "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
                default = client.chat.completions.create(model="qa", messages=messages)
                assert "sixteen weeks" not in (default.choices[0].message.content or "")
                with pytest.raises(openai.NotFoundError):
                    client.chat.completions.create(model="finance", messages=messages)
    finally:
        svc.close()
