"""Collections on the postgres store (a schema each), with the real model and a real Postgres:
created, isolated, kept across a restart, deleted; an index made before collections is `default`."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.collections import Collections
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import Conflict, NotFound
from qa.service import QAService
from qa.types import Document

from ..live_server import LOCAL
from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HR = "Parental leave policy. Employees receive sixteen weeks of paid parental leave after a birth or adoption."
PARIS = "The Eiffel Tower in Paris was completed in 1889 and is 330 metres tall."
LEAVE = "How many weeks of paid parental leave do employees get?"


def schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'qa%'")}


def test_collections_on_postgres(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path / "index", store=pg_url)
    # An index made before collections: the schema qa_default, opened as the default collection.
    old = QAService(settings, embedder=embedder)
    old.add_documents([Document(id="paris", text=PARIS)])
    old.close()

    svc = QAService(settings, embedder=embedder)
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as c:
        r = c.post("/v1/collections", json={"name": "hr", "settings": {"chunk_tokens": 100, "language": "en"}})
        assert r.status_code == 201, r.text
        assert "schema qa_hr" in r.json()["location"]
        assert c.post("/v1/documents?collection=hr", json={"id": "leave", "text": HR}).status_code == 201
        listed = c.get("/v1/collections").json()["collections"]
        assert [(x["name"], x["documents"]) for x in listed] == [("default", 1), ("hr", 1)]
        assert c.post("/v1/ask?collection=hr", json={"question": LEAVE}).json()["found"]
        for mode in ("dense", "lexical", "hybrid"):
            found = c.post("/v1/search", json={"question": LEAVE, "mode": mode}).json()["passages"]
            assert "leave" not in [p["doc_id"] for p in found], mode
        assert c.get("/v1/documents/leave").status_code == 404
        chat = {"model": "hr", "messages": [{"role": "user", "content": LEAVE}]}
        assert "sixteen weeks" in c.post("/v1/chat/completions", json=chat).json()["choices"][0]["message"]["content"]
        assert c.post("/v1/collections", json={"name": "hr"}).status_code == 409
    svc.close()
    assert {"qa_default", "qa_hr"} <= schemas(pg_url)

    # A restart (a new registry) finds hr with its settings in its schema's manifest.
    cols = Collections(settings)
    try:
        hr = cols.describe("hr")
        assert hr.overrides == {"chunk_tokens": 100, "language": "en"} and hr.documents == 1
        assert cols.get("hr").settings.chunk_tokens == 100
        assert cols.get("hr").ask(LEAVE).found
        with pytest.raises(Conflict):
            cols.delete("default")
        cols.delete("hr")  # open: closed, then its schema dropped
        assert "qa_hr" not in schemas(pg_url)
        with pytest.raises(NotFound):
            cols.get("hr")
        assert cols.names() == ["default"]
    finally:
        cols.close()
