"""A damaged page in qa.sqlite: found by the check after open (a warning naming the file),
reported by ``/healthz`` as ``degraded``; reads that touch it are a clear ``IndexCorrupt`` (503
JSON), never a 500, while the others are served; `qa repair` copies every readable document
into a new file, keeps the damaged one, lists the lost ids, and the result verifies clean."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import IndexCorrupt
from qa.service import QAService
from qa.store.embedded import DB_FILE, EmbeddedStore
from qa.types import Document

from ..fakes import HashEmbedder
from ..live_server import LOCAL
from .test_repair import run_cli

MODEL, DIM = HashEmbedder().name, HashEmbedder().dim
IDS = [f"d{i}" for i in range(30)]


def build(index_dir: Path) -> None:
    svc = QAService(Settings(index_dir=index_dir, chunk_tokens=24, chunk_overlap=4), embedder=HashEmbedder())
    svc.add_documents(
        [Document(id=f"d{i}", text=" ".join(f"Doc {i} line {j} has w{i}x{j}." for j in range(40))) for i in range(30)]
    )
    svc.close()


def damage(index_dir: Path, table: str) -> int:
    """Overwrite the header of a leaf page (the middle one) of ``table``'s b-tree: its rows cannot
    be read any more, the other pages' can. Returns the page number."""
    path = index_dir / "default" / DB_FILE
    assert not (index_dir / "default" / f"{DB_FILE}-wal").exists()  # everything is in the file
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    leaves = [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'", (table,))]
    db.close()
    if not leaves:  # one page: the root is the leaf
        db = sqlite3.connect(path)
        leaves = [db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]]
        db.close()
    page = sorted(leaves)[len(leaves) // 2]
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * page_size)
        fh.write(b"\xff" * 64)
    return int(page)


def open_store(index_dir: Path) -> EmbeddedStore:
    store = EmbeddedStore(index_dir / "default", model=MODEL, dim=DIM)
    assert store.sqlite_checked.wait(30)
    return store


@pytest.mark.parametrize("table", ["chunks", "documents"])
def test_damage_is_found_after_open_and_reads_that_meet_it_are_index_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, table: str
) -> None:
    build(tmp_path)
    damage(tmp_path, table)
    caplog.set_level(logging.WARNING, logger="qa.store.embedded")
    store = open_store(tmp_path)
    try:
        assert f"{tmp_path / 'default' / DB_FILE} is damaged" in caplog.text
        assert store.problems() and "is damaged" in store.problems()[0]
        served, refused = 0, 0
        for doc_id in IDS:
            try:
                store.document_chunks(doc_id)
                store.get_text(doc_id)
                served += 1
            except IndexCorrupt as exc:
                assert "qa repair" in str(exc)
                refused += 1
        assert served and refused  # the rest is still served
        assert any("SQLite integrity check failed" in p for p in store.verify())
        with pytest.raises(IndexCorrupt, match="qa repair"):
            store.repair()
    finally:
        store.close()


def test_healthz_is_degraded_and_searches_that_meet_damage_are_503_json(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qa.api import create_app

    build(tmp_path)
    damage(tmp_path, "chunks")
    settings = Settings(index_dir=tmp_path, chunk_tokens=24, chunk_overlap=4)
    svc = QAService(settings, embedder=HashEmbedder())  # type: ignore[arg-type]
    store = svc.store
    assert isinstance(store, EmbeddedStore) and store.sqlite_checked.wait(30)
    with TestClient(create_app(settings, service=svc), raise_server_exceptions=False, base_url=LOCAL) as client:
        h = client.get("/healthz")
        assert h.status_code == 200 and h.json()["status"] == "degraded"
        assert "is damaged" in h.json()["problems"][0]
        statuses = []
        for i in range(30):
            r = client.post("/v1/search", json={"question": f"w{i}x5", "k": 1})
            statuses.append(r.status_code)
            if r.status_code == 503:
                assert r.json()["error"] == "unavailable" and "qa repair" in r.json()["message"]
            else:
                assert r.status_code == 200, r.text
        assert 503 in statuses and 200 in statuses
    svc.close()


@pytest.mark.parametrize("table", ["chunks", "documents"])
def test_qa_repair_recovers_the_readable_documents(tmp_path: Path, table: str) -> None:
    build(tmp_path)
    damage(tmp_path, table)
    r = run_cli("repair", "--json", index_dir=tmp_path)
    assert r.returncode == 1, r.stderr  # documents were lost: they need their sources
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    report = json.loads(r.stdout)
    recovered = report["recovered"]
    assert "is damaged" in report["found"][0]
    lost = recovered["lost"]
    assert lost and recovered["documents"] + len(lost) == len(IDS) and set(lost) <= set(IDS)
    assert report["remaining"] == [p for p in report["remaining"] if "re-index them" in p] and report["remaining"]
    backup = Path(recovered["backup"])
    assert backup.parent == tmp_path / "default" and backup.name.startswith(f"{DB_FILE}.damaged-")
    store = open_store(tmp_path)
    try:
        assert store.verify() == [] and store.problems() == []
        assert store.counts()["documents"] == recovered["documents"]
        for i, doc_id in enumerate(IDS):
            hits = store.lexical_search([f"w{i}x5"], 1)
            assert [h.doc_id for h in hits][:1] == ([] if doc_id in lost else [doc_id])
    finally:
        store.close()
    # The repaired index is sound: a second repair finds nothing.
    r = run_cli("repair", index_dir=tmp_path)
    assert r.returncode == 0 and "found:" not in r.stdout, r.stdout + r.stderr


def test_qa_repair_with_nothing_readable_says_so_in_one_line(tmp_path: Path) -> None:
    build(tmp_path)
    damage(tmp_path, "manifest")
    before = (tmp_path / "default" / DB_FILE).read_bytes()
    r = run_cli("repair", index_dir=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "beyond recovery" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / "default" / DB_FILE).read_bytes() == before  # left as it was
