"""``POST /v1/documents`` is all or nothing: a 422 for the last of 40 documents stores none of them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.service import QAService

from ..fakes import HashEmbedder
from ..live_server import LOCAL


def test_forty_documents_with_the_last_invalid_is_a_422_that_stores_nothing(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path, chunk_tokens=24, chunk_overlap=4)
    svc = QAService(settings, embedder=HashEmbedder())  # type: ignore[arg-type]
    docs = [{"id": f"d{i}", "text": f"Document {i} says something about topic {i}."} for i in range(39)]
    docs.append({"id": "d39", "text": "   "})
    with TestClient(create_app(settings, service=svc), base_url=LOCAL) as client:
        r = client.post("/v1/documents", json={"documents": docs})
        assert r.status_code == 422 and "'d39' has no text" in r.json()["message"]
        assert client.get("/v1/documents").json()["total"] == 0
        assert client.get("/healthz").json()["chunks"] == 0
        # The same batch without the bad document is stored whole.
        r = client.post("/v1/documents", json={"documents": docs[:-1]})
        assert r.status_code == 201 and len(r.json()["results"]) == 39
        assert client.get("/v1/documents").json()["total"] == 39
    svc.close()
