"""Pages of PDFs through the HTTP API: a real multi-page PDF uploaded, asked about, searched,
chatted with and fetched; each citation, short answer and passage carries the page it starts on,
on both stores (the postgres case runs with the slow tier)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.types import content_hash, page_at

from ..live_server import LOCAL
from ..pdfs import manual_pdf

# Uploads are in the source "upload" (qa.sources).
KILN = "upload/kiln.pdf"
QUESTION = "At what temperature does the kiln fire stoneware?"


@pytest.fixture(
    scope="module",
    params=["embedded", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])],
)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[TestClient]:
    store = ""
    if request.param == "postgres":
        from ..pg import server

        store = server().new_database()
    settings = Settings(index_dir=tmp_path_factory.mktemp("pdfpages"), store=store)
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        r = c.post("/v1/documents", files={"file": ("kiln.pdf", manual_pdf())})
        assert r.status_code == 201, r.text
        note = {"id": "notes.md", "title": "Notes", "text": "The studio kiln room is open on Mondays."}
        assert c.post("/v1/documents", json=note).status_code == 201
        yield c
    svc.close()


def document(client: TestClient, doc_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/documents/{doc_id}", params={"include_text": True})
    assert r.status_code == 200, r.text
    return dict(r.json())


def check_pages(client: TestClient, citations: list[dict[str, Any]]) -> None:
    """Every citation's quote is the text at its offsets, on the page it says."""
    assert citations
    for c in citations:
        doc = document(client, c["doc_id"])
        assert doc["text"][c["start"] : c["end"]] == c["quote"]
        if c["doc_id"] == KILN:
            assert c["page"] == page_at(doc["page_starts"], c["start"])
        else:
            assert c["page"] is None


def test_a_citation_carries_its_page(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["found"] and "1240 degrees" in a["answer"], a["answer"]
    top = a["citations"][0]
    assert (top["doc_id"], top["page"]) == (KILN, 3)
    check_pages(client, a["citations"])
    if a["short_answer"] is not None:
        assert a["short_answer"]["page"] == 3
    pages = {p["doc_id"]: p["page"] for p in a["passages"]}
    assert pages.get("notes.md", None) is None and pages[KILN] in (1, 2, 3, 4)


def test_the_document_gives_its_page_offsets(client: TestClient) -> None:
    doc = document(client, KILN)
    starts = doc["page_starts"]
    assert len(starts) == doc["metadata"]["pages"] == 4 and starts[0] == 0 and starts == sorted(starts)
    text = doc["text"]
    assert page_at(starts, text.index("Load the heaviest pieces")) == 2
    assert page_at(starts, text.index("Unload the kiln only with gloves")) == 4
    assert "Kiln Operations Manual, edition 2" not in text and ". . ." not in text
    assert document(client, "notes.md")["page_starts"] is None
    # A list stays light: no page offsets in it.
    listed = client.get("/v1/documents").json()["documents"]
    assert {d["id"]: d["page_starts"] for d in listed} == {KILN: None, "notes.md": None}


def test_search_passages_carry_their_page(client: TestClient) -> None:
    r = client.post("/v1/search", json={"question": "Unload the kiln with gloves", "k": 5})
    assert r.status_code == 200, r.text
    passages = r.json()["passages"]
    assert passages
    for p in passages:
        if p["doc_id"] == KILN:
            starts = document(client, KILN)["page_starts"]
            assert p["page"] == page_at(starts, p["start"])
        else:
            assert p["page"] is None


def test_chat_and_its_stream_carry_pages(client: TestClient) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    r = client.post("/v1/chat", json={"messages": messages})
    assert r.status_code == 200, r.text
    assert r.json()["citations"][0]["page"] == 3
    check_pages(client, r.json()["citations"])
    with client.stream("POST", "/v1/chat", json={"messages": messages, "stream": True}) as s:
        events = [line for line in s.iter_lines() if line.startswith("data:")]
    cited = [json.loads(e[5:]) for e in events if '"citations"' in e and '"quote"' in e]
    assert cited and cited[-1]["citations"][0]["page"] == 3


def test_openai_completion_names_the_page(client: TestClient) -> None:
    body = {"model": "qa", "messages": [{"role": "user", "content": QUESTION}]}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["citations"][0]["page"] == 3
    assert "(upload/kiln.pdf, page 3, characters " in out["choices"][0]["message"]["content"]


def test_an_index_from_before_pages_is_migrated(tmp_path: Path, embedder: Embedder) -> None:
    """An embedded index made before page offsets opens, answers with no page for its old
    documents, and stores pages for what is indexed after."""
    settings = Settings(index_dir=tmp_path, index_name="old")
    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        assert c.post("/v1/documents", files={"file": ("kiln.pdf", manual_pdf())}).status_code == 201
    svc.close()
    db = sqlite3.connect(tmp_path / "old" / "qa.sqlite")
    db.execute("ALTER TABLE documents DROP COLUMN page_starts")
    # What the hash was before pages counted in it.
    title, text, metadata = db.execute("SELECT title, text, metadata FROM documents").fetchone()
    db.execute("UPDATE documents SET content_hash = ?", (content_hash(title, text, json.loads(metadata)),))
    db.commit()
    db.close()

    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        a = c.post("/v1/ask", json={"question": QUESTION}).json()
        assert a["found"] and a["citations"][0]["page"] is None
        assert document(c, KILN)["page_starts"] is None
        # The same file again: its text is unchanged but it now has pages, so it is written.
        r = c.post("/v1/documents", files={"file": ("kiln.pdf", manual_pdf())})
        assert r.json()["results"][0]["status"] == "updated"
        assert c.post("/v1/ask", json={"question": QUESTION}).json()["citations"][0]["page"] == 3
    svc.close()
