"""A damaged FAISS file is detected at open with a clear message and rebuilt from SQLite;
`qa repair` checks an index, rebuilds its derived parts and says what it found."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.service import QAService
from qa.store.embedded import DB_FILE, FAISS_FILE, FAISS_META, EmbeddedStore
from qa.types import Document

from ..fakes import HashEmbedder

ROOT = Path(__file__).resolve().parents[2]
MODEL = HashEmbedder().name


def build(index_dir: Path, n: int = 4) -> QAService:
    svc = QAService(Settings(index_dir=index_dir, chunk_tokens=24, chunk_overlap=4), embedder=HashEmbedder())
    docs = [
        Document(id=f"d{i}", title=f"D{i}", text=" ".join(f"Word{i}x{j} appears in sentence {j}." for j in range(12)))
        for i in range(n)
    ]
    svc.add_documents(docs)
    return svc


def open_store(index_dir: Path) -> EmbeddedStore:
    return EmbeddedStore(index_dir / "default", model=MODEL, dim=HashEmbedder().dim)


def own_vectors_find_own_chunks(store: EmbeddedStore) -> None:
    for chunk_id, blob in store.db.execute("SELECT id, vector FROM chunks"):
        hits = store.search(np.frombuffer(blob, dtype=np.float32), 1)
        assert hits and hits[0].chunk_id == chunk_id


@pytest.mark.parametrize(
    "damage, checksum, message",
    [
        (lambda b: b[: len(b) // 2], True, "checksum mismatch"),
        (lambda b: b[:-8] + bytes(8), True, "checksum mismatch"),  # same size, still parses: only the checksum sees it
        # A file from before checksums were recorded: FAISS itself refuses to read it.
        (lambda b: b[: len(b) // 2], False, "corrupt or truncated"),
        (lambda b: b"", False, "corrupt or truncated"),
    ],
    ids=["truncated", "flipped-bytes", "truncated-no-checksum", "empty-no-checksum"],
)
def test_damaged_faiss_file_is_detected_at_open_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object, checksum: bool, message: str
) -> None:
    build(tmp_path).close()
    path = tmp_path / "default" / FAISS_FILE
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    if not checksum:
        meta_path = tmp_path / "default" / FAISS_META
        meta = json.loads(meta_path.read_text())
        del meta["xxh3_128"]
        meta_path.write_text(json.dumps(meta))
    caplog.set_level(logging.WARNING, logger="qa.store.embedded")
    store = open_store(tmp_path)
    try:
        assert message in caplog.text and "rebuilding it from the vectors in" in caplog.text
        assert store.verify() == []
        own_vectors_find_own_chunks(store)
    finally:
        store.close()
    # The rebuilt file is whole again: the next open finds nothing to say.
    caplog.clear()
    open_store(tmp_path).close()
    assert "rebuilding" not in caplog.text


def test_unreadable_metadata_is_detected(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    build(tmp_path).close()
    (tmp_path / "default" / FAISS_META).write_text('{"generation": ')
    caplog.set_level(logging.WARNING, logger="qa.store.embedded")
    store = open_store(tmp_path)
    assert "FAISS metadata" in caplog.text and store.verify() == []
    store.close()


def test_verify_names_orphans_half_documents_and_stale_lexical_rows(tmp_path: Path) -> None:
    build(tmp_path).close()
    # Damage SQLite behind the store's back, as a buggy tool or a half-restored backup could.
    db = sqlite3.connect(tmp_path / "default" / DB_FILE)
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("DELETE FROM documents WHERE id = 'd0'")  # its chunks stay: orphans
    db.execute("DELETE FROM chunks WHERE doc_id = 'd1' AND ordinal = 0")  # d1 is half there
    db.commit()
    db.close()
    store = open_store(tmp_path)
    try:
        problems = store.verify()
        assert any("chunks have no document" in p for p in problems)
        assert any("document 'd1' has" in p and "re-index it" in p for p in problems)
        assert any("lexical index has" in p for p in problems)
        report = store.repair()
        # The FAISS file no longer matched the chunk rows at open: found then, rebuilt already.
        assert "does not match the database" in report["found"][0] and report["found"][1:] == problems
        # Orphans and stale FTS rows are gone; the half document needs its source.
        assert report["remaining"] == [p for p in problems if "'d1'" in p]
        assert store.db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id = 'd0'").fetchone()[0] == 0
        own_vectors_find_own_chunks(store)
    finally:
        store.close()


def run_cli(*args: str, index_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "QA_MODEL": MODEL, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_qa_repair_command(tmp_path: Path) -> None:
    build(tmp_path).close()
    path = tmp_path / "default" / FAISS_FILE
    path.write_bytes(path.read_bytes()[:100])
    r = run_cli("repair", "--json", index_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    # The damage was found at open (and reported on stderr as it happened), then everything rebuilt.
    assert any("checksum mismatch" in p for p in report["found"]) and report["remaining"] == []
    assert report["documents"] == 4 and report["chunks"] > 4
    assert "rebuilding it from the vectors" in r.stderr
    store = open_store(tmp_path)
    assert store.verify() == []
    store.close()

    r = run_cli("repair", index_dir=tmp_path)
    assert r.returncode == 0 and "rebuilt vectors.faiss, lexical index" in r.stdout and "found:" not in r.stdout

    r = run_cli("repair", index_dir=tmp_path / "nowhere")
    assert r.returncode == 1 and r.stderr.startswith("error: no index at")

    (tmp_path / "default" / DB_FILE).write_bytes(b"not a database at all" * 100)
    for f in (tmp_path / "default").glob(f"{DB_FILE}-*"):
        f.unlink()
    r = run_cli("repair", index_dir=tmp_path)
    assert r.returncode == 1 and "restore it from a backup" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
