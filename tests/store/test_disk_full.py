"""A full disk: a write SQLite refuses is a 507 and stores nothing; a write that committed is a
success even when the FAISS file cannot be saved after it (derived data, caught up later); temp
files of failed or killed writes do not stay behind."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.service import QAService
from qa.store.embedded import FAISS_FILE, EmbeddedStore
from qa.store.embedded import vectors as vectors_module

from ..fakes import HashEmbedder
from ..live_server import LOCAL

DOCS = [
    {"id": f"d{i}", "text": " ".join(f"Document {i} sentence {j} about w{i}x{j}." for j in range(30))} for i in range(3)
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, QAService]]:
    settings = Settings(index_dir=tmp_path, chunk_tokens=24, chunk_overlap=4)
    svc = QAService(settings, embedder=HashEmbedder())  # type: ignore[arg-type]
    with TestClient(create_app(settings, service=svc), raise_server_exceptions=False, base_url=LOCAL) as client:
        yield client, svc
    svc.close()


def temp_files(path: Path) -> list[str]:
    return sorted(f.name for f in path.iterdir() if f.name.endswith(".tmp"))


def test_sqlite_refusing_the_write_is_a_507_and_nothing_is_stored(served: tuple[TestClient, QAService]) -> None:
    client, svc = served
    assert client.post("/v1/documents", json={"documents": DOCS[:1]}).status_code == 201
    store = svc.store
    assert isinstance(store, EmbeddedStore)
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL, no disk filled
    r = client.post("/v1/documents", json={"documents": DOCS[1:]})
    assert r.status_code == 507, r.text
    body = r.json()
    assert body["error"] == "insufficient_storage" and "nothing of this write was stored" in body["message"]
    assert client.get("/v1/documents").json()["total"] == 1
    assert [h["doc_id"] for h in client.post("/v1/search", json={"question": "w1x3", "k": 3}).json()["passages"]] != [
        "d1"
    ]
    store.db.execute("PRAGMA max_page_count = 1073741823")
    assert client.post("/v1/documents", json={"documents": DOCS[1:]}).status_code == 201
    assert client.get("/v1/documents").json()["total"] == 3
    assert store.verify() == []


def test_faiss_file_refused_after_the_commit_is_a_success_and_leaves_no_temp_file(
    served: tuple[TestClient, QAService], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client, svc = served

    def full_disk(index: object, path: Path) -> str:
        path.write_bytes(b"partial")  # the temp file exists, half written, when the disk fills
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(vectors_module, "write_index", full_disk)
    r = client.post("/v1/documents", json={"documents": DOCS})
    assert r.status_code == 201, r.text  # committed: what the client is told is what is stored
    assert [x["status"] for x in r.json()["results"]] == ["added"] * 3
    assert client.get("/v1/documents").json()["total"] == 3
    assert temp_files(tmp_path / "default") == []
    assert client.post("/v1/search", json={"question": "w2x5", "k": 1}).json()["passages"][0]["doc_id"] == "d2"
    monkeypatch.undo()
    svc.store.close()
    # Reopened: the FAISS file of an older generation is caught up from SQLite; nothing is missing.
    store = EmbeddedStore(tmp_path / "default", model=HashEmbedder().name, dim=HashEmbedder().dim)
    try:
        assert store.verify() == [] and store.counts()["documents"] == 3
    finally:
        store.close()
    svc._store = None  # closed above


def test_temp_files_of_killed_writes_are_removed_at_open(tmp_path: Path) -> None:
    EmbeddedStore(tmp_path, model="m", dim=4).close()
    dead = tmp_path / f"{FAISS_FILE}.999999999.1.tmp"  # no such process
    live = tmp_path / f"{FAISS_FILE}.{os.getppid()}.1.tmp"  # a live process's write in progress
    dead.write_bytes(b"x" * 100)
    live.write_bytes(b"x")
    EmbeddedStore(tmp_path, model="m", dim=4).close()
    assert not dead.exists() and live.exists()
