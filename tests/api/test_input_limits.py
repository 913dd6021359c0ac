"""Bad input gets a clear 4xx JSON error over HTTP, never a 500 and never stored poison (issue 16,
points 5, 6, 14 and 15): metadata, filters, questions, titles, headings and ids, by every way in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import qa.ingest
from qa.api import create_app, schemas
from qa.config import Settings
from qa.service import QAService
from qa.types import Document

from ..fakes import HashEmbedder
from ..live_server import LOCAL

JSON = {"content-type": "application/json"}


def make_client(tmp_path: Path, **overrides: object) -> TestClient:
    settings = Settings(index_dir=tmp_path, **overrides)  # type: ignore[arg-type]
    app = create_app(settings, service=QAService(settings, embedder=HashEmbedder()))
    return TestClient(app, raise_server_exceptions=False, base_url=LOCAL)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as c:
        assert (
            c.post("/v1/documents", json={"id": "ok", "text": "Otters hold hands while they sleep."}).status_code == 201
        )
        yield c


def refused(r: Any, *statuses: int) -> str:
    """The message of a qa JSON error with one of ``statuses`` (default: any 4xx)."""
    assert r.status_code < 500, r.text
    assert r.status_code in (statuses or range(400, 500)), r.text
    body = r.json()
    assert set(body) == {"error", "message"} and body["message"], body
    return str(body["message"])


def openai_refused(r: Any) -> str:
    assert 400 <= r.status_code < 500, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"], error
    return str(error["message"])


def nested(depth: int) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    cur = meta
    for _ in range(depth - 1):
        cur["a"] = {}
        cur = cur["a"]
    return meta


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def ids(c: TestClient) -> list[str]:
    r = c.get("/v1/documents", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return [d["id"] for d in r.json()["documents"]]


ASKS = [
    ("/v1/search", lambda extra: {"question": "otters", **extra}),
    ("/v1/ask", lambda extra: {"question": "otters", **extra}),
    ("/v1/chat", lambda extra: {"messages": [{"role": "user", "content": "otters"}], **extra}),
]


# -- point 5: metadata bounded on the way in, and reads never break on what is stored -----------


def test_deep_metadata_is_refused_by_every_way_in(client: TestClient) -> None:
    meta = nested(256)
    doc = {"id": "deep", "text": "Otters sleep in rafts.", "metadata": meta}
    assert "QA_MAX_METADATA_DEPTH" in refused(client.post("/v1/documents", json=doc), 413)
    assert "QA_MAX_METADATA_DEPTH" in refused(client.post("/v1/documents", json={"documents": [doc]}), 413)
    form = {"metadata": json.dumps(meta)}
    assert "QA_MAX_METADATA_DEPTH" in refused(
        client.post("/v1/documents", files={"file": ("a.txt", b"Otters.")}, data=form), 413
    )
    line = json.dumps({"id": "deep", "text": "Otters.", "metadata": meta}).encode()
    assert "QA_MAX_METADATA_DEPTH" in refused(client.post("/v1/documents", files={"file": ("a.jsonl", line)}), 413)
    assert ids(client) == ["ok"]


def test_metadata_size_limits_are_settings(tmp_path: Path) -> None:
    with make_client(tmp_path / "a") as c:
        cases = {
            "QA_MAX_METADATA_ITEMS": {f"k{i}": i for i in range(1000)},
            "QA_MAX_METADATA_STRING_CHARS": {"a": "x" * 100_000},
            "QA_MAX_METADATA_BYTES": {f"k{i}": "x" * 4000 for i in range(100)},
        }
        for setting, meta in cases.items():
            r = c.post("/v1/documents", json={"id": "m", "text": "Otters.", "metadata": meta})
            assert setting in refused(r, 413)
        r = c.post("/v1/documents", json={"id": "m", "text": "Otters.", "metadata": {"k" * 1000: 1}})
        assert "256 characters" in refused(r, 413)
        assert ids(c) == []
    # A user who needs more raises the settings.
    with make_client(tmp_path / "b", max_metadata_depth=20, max_metadata_items=2000) as c:
        meta = {**nested(15), **{f"k{i}": i for i in range(1000)}}
        assert c.post("/v1/documents", json={"id": "m", "text": "Otters.", "metadata": meta}).status_code == 201
        assert c.get("/v1/documents/m").json()["metadata"] == meta


def test_reads_survive_metadata_stored_before_the_limits(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # What an older version accepted: metadata 256 levels deep (and integers past 64 bits).
    monkeypatch.setattr(qa.ingest, "validate", lambda doc, *args, **kwargs: doc)
    monkeypatch.setattr(schemas, "check_metadata", lambda *args: None)
    meta = {"deep": nested(256), "big": 2**70}
    body = json.dumps({"id": "old", "text": "Otters are old friends.", "metadata": meta})
    r = client.post("/v1/documents", content=body, headers=JSON)
    assert r.status_code == 201, r.text
    monkeypatch.undo()
    listed = client.get("/v1/documents")
    assert listed.status_code == 200, listed.text
    got = client.get("/v1/documents/old")
    assert got.status_code == 200, got.text
    assert got.json()["metadata"]["big"] == 2**70
    for route, body in ASKS:
        r = client.post(route, json=body({"filters": {"doc_id": "old"}}))
        assert r.status_code == 200, (route, r.text)
        assert [p["doc_id"] for p in r.json()["passages"]] == ["old"]


# -- point 6: bad inputs that were 500s ---------------------------------------------------------


def test_json_nested_past_the_parser_is_4xx(client: TestClient) -> None:
    body = '{"id": "x", "text": "t", "metadata": {"a": ' + deep_json(5000) + "}}"
    assert "nest" in refused(client.post("/v1/documents", content=body, headers=JSON), 400, 413, 422)
    form = {"metadata": '{"a": ' + deep_json(5000) + "}"}
    r = client.post("/v1/documents", files={"file": ("a.txt", b"Otters.")}, data=form)
    assert "metadata" in refused(r, 400, 413, 422)
    line = ('{"text": "hi", "metadata": {"a": ' + deep_json(5000) + "}}").encode()
    refused(client.post("/v1/documents", files={"file": ("a.jsonl", line)}), 413, 422)
    # Deep enough to parse, too deep for the recursive clean-up of metadata.
    line = ('{"text": "hi", "metadata": {"a": ' + deep_json(900) + "}}").encode()
    assert "QA_MAX_METADATA_DEPTH" in refused(client.post("/v1/documents", files={"file": ("a.jsonl", line)}), 413)
    form = {"metadata": '{"a": ' + deep_json(900) + "}"}
    r = client.post("/v1/documents", files={"file": ("a.txt", b"Otters.")}, data=form)
    assert "QA_MAX_METADATA_DEPTH" in refused(r, 413)
    body = '{"text": "x y", "metadata": {"a": ' + deep_json(900) + "}}"
    assert "QA_MAX_METADATA_DEPTH" in refused(client.post("/v1/documents", content=body, headers=JSON), 413)
    for route, _ in ASKS:
        r = client.post(route, content='{"question": "q", "filters": {"a": ' + deep_json(5000) + "}}", headers=JSON)
        refused(r, 400, 422)
    assert ids(client) == ["ok"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_metadata_are_422(client: TestClient, constant: str) -> None:
    body = '{"id": "n", "text": "Otters.", "metadata": {"a": ' + constant + "}}"
    assert constant in refused(client.post("/v1/documents", content=body, headers=JSON), 422)
    r = client.post(
        "/v1/documents", files={"file": ("a.txt", b"Otters.")}, data={"metadata": '{"a": ' + constant + "}"}
    )
    assert constant in refused(r, 422)
    line = ('{"text": "Otters.", "metadata": {"a": ' + constant + "}}").encode()
    refused(client.post("/v1/documents", files={"file": ("a.jsonl", line)}), 422)
    assert ids(client) == ["ok"]


def test_numbers_json_cannot_round_trip_are_422(client: TestClient) -> None:
    body = '{"id": "n", "text": "Otters.", "metadata": {"a": ' + "9" * 5000 + "}}"
    refused(client.post("/v1/documents", content=body, headers=JSON), 400, 422)
    r = client.post("/v1/documents", json={"id": "n", "text": "Otters.", "metadata": {"a": 2**70}})
    assert "64-bit" in refused(r, 422)


@pytest.mark.parametrize(("route", "body"), ASKS)
def test_bad_filters_are_422(client: TestClient, route: str, body: Any) -> None:
    assert "64-bit" in refused(client.post(route, json=body({"filters": {"n": 2**70}})), 422)
    assert "64-bit" in refused(client.post(route, json=body({"filters": {"n": -(2**64)}})), 422)
    many = {f"k{i}": 1 for i in range(1000)}
    assert "1000 fields" in refused(client.post(route, json=body({"filters": many})), 422)
    r = client.post(route, content=json.dumps(body({"filters": {"a": float("nan")}})), headers=JSON)
    assert "finite" in refused(r, 422)
    # The largest 64-bit integers still work.
    assert client.post(route, json=body({"filters": {"n": 2**63 - 1}})).status_code == 200
    assert client.post(route, json=body({"filters": {"n": -(2**63)}})).status_code == 200


def test_bad_filters_are_refused_before_a_stream_starts(client: TestClient) -> None:
    body = {"messages": [{"role": "user", "content": "otters"}], "filters": {"n": 2**70}, "stream": True}
    assert "64-bit" in refused(client.post("/v1/chat", json=body), 422)


def test_questions_with_a_lone_surrogate_are_422(client: TestClient) -> None:
    for route in ("/v1/search", "/v1/ask"):
        r = client.post(route, content='{"question": "otters \\ud800"}', headers=JSON)
        assert "surrogate" in refused(r, 422)
    r = client.post("/v1/chat", content='{"messages": [{"role": "user", "content": "otters \\ud800"}]}', headers=JSON)
    refused(r, 400, 422)
    body = '{"model": "qa", "messages": [{"role": "user", "content": "otters \\ud800"}]}'
    openai_refused(client.post("/v1/chat/completions", content=body, headers=JSON))
    # A pair of surrogates is one real character, and fine.
    assert client.post("/v1/ask", content='{"question": "otters \\ud83e\\udda6"}', headers=JSON).status_code == 200


# -- point 14: titles, headings, ids ------------------------------------------------------------


def test_titles_are_limited_by_every_way_in(client: TestClient) -> None:
    big = "T" * 2_000_000
    started = time.perf_counter()
    r = client.post("/v1/documents", json={"id": "t", "title": big, "text": "Otters."})
    assert "QA_MAX_TITLE_CHARS" in refused(r, 413)
    assert time.perf_counter() - started < 10
    r = client.post("/v1/documents", files={"file": ("a.txt", b"Otters.")}, data={"title": "T" * 1001})
    assert "QA_MAX_TITLE_CHARS" in refused(r, 413)
    line = json.dumps({"id": "t", "title": "T" * 1001, "text": "Otters."}).encode()
    assert "QA_MAX_TITLE_CHARS" in refused(client.post("/v1/documents", files={"file": ("a.jsonl", line)}), 413)
    assert ids(client) == ["ok"]
    assert client.post("/v1/documents", json={"id": "t", "title": "T" * 1000, "text": "Otters."}).status_code == 201


def test_parsed_titles_and_headings_are_cut(client: TestClient) -> None:
    md = ("# " + "Heading " * 40_000 + "\n\nOtters are here.\n").encode()
    assert client.post("/v1/documents", files={"file": ("h.md", md)}).status_code == 201
    html = b"<html><head><title>" + b"Title " * 50_000 + b"</title></head><body><h2>" + b"Sub " * 50_000
    html += b"</h2><p>Otters swim.</p></body></html>"
    assert client.post("/v1/documents", files={"file": ("h.html", html)}).status_code == 201
    for doc_id in ("upload/h.md", "upload/h.html"):
        title = client.get(f"/v1/documents/{doc_id}").json()["title"]
        assert 0 < len(title) <= 200 and title.endswith("…")
    r = client.post("/v1/search", json={"question": "otters", "filters": {"doc_id": ["upload/h.md", "upload/h.html"]}})
    passages = r.json()["passages"]
    assert len(passages) == 2 and len(r.content) < 10_000
    for p in passages:
        assert p["heading"] and len(p["heading"]) <= 200 and p["heading"].endswith("…")


def test_heading_limit_is_a_setting(tmp_path: Path) -> None:
    with make_client(tmp_path, max_heading_chars=20) as c:
        md = b"# A heading longer than twenty\n\nOtters are here.\n"
        assert c.post("/v1/documents", files={"file": ("h.md", md)}).status_code == 201
        p = c.post("/v1/search", json={"question": "otters"}).json()["passages"][0]
        assert p["heading"] == "A heading longer…"


def test_id_limit_is_a_setting(tmp_path: Path) -> None:
    with make_client(tmp_path, max_id_chars=10) as c:
        r = c.post("/v1/documents", json={"id": "x" * 11, "text": "Otters."})
        assert "QA_MAX_ID_CHARS" in refused(r, 422)
        assert c.post("/v1/documents", json={"id": "x" * 10, "text": "Otters."}).status_code == 201


# -- point 15: ids are normalized, then checked -------------------------------------------------


def test_ids_blank_after_normalizing_are_refused_by_every_way_in(client: TestClient) -> None:
    for raw in ('"\\u0000"', '"\\ud800"', '"\\u0000\\udc00"'):
        body = '{"id": ' + raw + ', "text": "Otters hold hands."}'
        assert "blank" in refused(client.post("/v1/documents", content=body, headers=JSON), 422)
    r = client.post("/v1/documents", files={"file": ("a.txt", b"Otters.")}, data={"id": "\x00"})
    refused(r, 422)
    line = b'{"id": "\\u0000", "text": "Otters."}'
    refused(client.post("/v1/documents", files={"file": ("a.jsonl", line)}), 422)
    assert ids(client) == ["ok"]
    # Normalized ids are what is stored: "a\u0000" is "a".
    assert client.post("/v1/documents", content='{"id": "a\\u0000", "text": "One."}', headers=JSON).status_code == 201
    assert sorted(ids(client)) == ["a", "ok"]


def test_service_add_documents_checks_like_the_api(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path)
    svc = QAService(settings, embedder=HashEmbedder())
    for doc in (
        Document(id="\x00\ud800", text="Otters."),
        Document(id="d", text="Otters.", metadata=nested(256)),
        Document(id="d", text="Otters.", metadata={"a": float("nan")}),
        Document(id="d", text="Otters.", title="T" * 1001),
    ):
        with pytest.raises(qa.ingest.InvalidInput):
            svc.add_documents([doc])
    assert svc.list_documents()[1] == 0
    svc.close()


def test_json_nested_past_the_parser_is_a_clear_400_on_every_json_route(client: TestClient) -> None:
    """FastAPI's own "There was an error parsing the body" said nothing a user could act on."""
    deep = "[" * 3000 + "]" * 3000
    for path, body in [
        ("/v1/search", '{"question": "x", "filters": ' + deep + "}"),
        ("/v1/ask", '{"question": ' + deep + "}"),
        ("/v1/chat", '{"messages": ' + deep + "}"),
    ]:
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error"] == "bad_request" and "nested too deeply" in r.json()["message"], r.text
