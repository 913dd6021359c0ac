"""Indexes made before sources are rewritten once when opened (embedded schema version 2,
Postgres migration 5): ids become source/path, content hashes leave out the file name, and the
next sync of the folder finds every document unchanged, with nothing re-embedded."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService
from qa.store.base import readdress
from qa.types import Document

from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

DOCS = "DOCS"  # stands for the folder's absolute path in the tables below


def old_hash(title: str, text: str, metadata: dict[str, Any]) -> str:
    """The content hash before sources: the file name was part of it."""
    payload = json.dumps({"title": title, "text": text, "metadata": metadata}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@pytest.mark.parametrize(
    ("old_id", "old_source", "new"),
    [
        ("sub/a.md", "/r/sub/a.md", ("/r/sub/a.md", "/r", "sub/a.md")),  # qa index /r
        ("a.md", "/a.md", ("/a.md", "/", "a.md")),  # qa index /
        ("d.jsonl#3", "/r/d.jsonl", ("/r/d.jsonl#3", "/r", "d.jsonl")),  # a .jsonl line without an id
        ("x1", "/r/sub/d.jsonl", ("x1", "/r/sub", "d.jsonl")),  # a .jsonl line with its own id
        ("report.pdf", "report.pdf", ("upload/report.pdf", "upload", "report.pdf")),  # an upload
        ("given", "report.pdf", ("given", "upload", "report.pdf")),  # an upload with an id
        ("note-1", None, ("note-1", None, None)),  # a JSON document
    ],
)
def test_readdress(old_id: str, old_source: str | None, new: tuple[str, str | None, str | None]) -> None:
    assert readdress(old_id, old_source) == new


def corpus(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Otters\nOtters hold hands while they sleep.")
    (folder / "sub" / "b.txt").write_text("Beavers build dams from branches and mud.")
    lines = [{"id": "x1", "text": "The kiln room is open on Mondays."}, {"text": "Glazes are mixed in the back."}]
    (folder / "d.jsonl").write_text("\n".join(json.dumps(x) for x in lines))


def old_address(new_id: str, source: str | None, path: str | None) -> tuple[str, str | None]:
    """The (id, source) a document had before sources (what ``readdress`` undoes)."""
    if source == "upload":
        return (path, path) if new_id == f"upload/{path}" else (new_id, path)  # type: ignore[return-value]
    if source is None or path is None:
        return new_id, source
    if new_id == f"{source}/{path}":
        return path, new_id
    if new_id.startswith(f"{source}/{path}#"):
        return path + new_id[len(f"{source}/{path}") :], f"{source}/{path}"
    return new_id, f"{source}/{path}"


Row = tuple[str, str | None, str | None, str, str, Any]


def downgrade(execute: Callable[..., Any], rows: list[Row], mark: str) -> None:
    """Rewrite documents as schema version 1 stored them (``mark``: the SQL parameter mark)."""
    cols = "title, text, metadata, source, content_hash, chunker, n_chunks, created_at, updated_at, page_starts"
    for doc_id, source, path, title, text, metadata in rows:
        meta = json.loads(metadata) if isinstance(metadata, str) else metadata
        old_id, old_source = old_address(doc_id, source, path)
        h = old_hash(title, text, meta)
        q = mark
        execute(f"UPDATE documents SET source = {q}, content_hash = {q} WHERE id = {q}", (old_source, h, doc_id))
        if old_id != doc_id:
            execute(
                f"INSERT INTO documents(id, {cols}) SELECT {q}, {cols} FROM documents WHERE id = {q}", (old_id, doc_id)
            )
            execute(f"UPDATE chunks SET doc_id = {q} WHERE doc_id = {q}", (old_id, doc_id))
            if mark == "?":
                execute("UPDATE doc_meta SET doc_id = ? WHERE doc_id = ?", (old_id, doc_id))
                execute("UPDATE doc_access SET doc_id = ? WHERE doc_id = ?", (old_id, doc_id))
            execute(f"DELETE FROM documents WHERE id = {q}", (doc_id,))


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: Embedder
) -> Iterator[tuple[Callable[[], QAService], Callable[[], None]]]:
    """A way to open the service, and one to turn its (closed) index back into schema version 1."""
    opened: list[QAService] = []
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    settings = Settings(index_dir=tmp_path / "index", **({"store": url} if url else {}))

    def open_service() -> QAService:
        svc = QAService(settings, embedder=embedder)
        opened.append(svc)
        return svc

    select = "SELECT id, source, path, title, text, metadata FROM documents"

    def to_v1() -> None:
        if url is None:
            db = sqlite3.connect(settings.index_path / "qa.sqlite", isolation_level=None)
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN")
            downgrade(db.execute, db.execute(select).fetchall(), "?")
            db.execute("UPDATE documents SET path = NULL")
            db.execute("DELETE FROM files")
            db.execute("DELETE FROM manifest WHERE key = 'schema_version'")
            db.execute("COMMIT")
            db.close()
        else:
            with psycopg.connect(url) as conn:
                conn.execute("SET search_path TO qa_default, public")
                downgrade(conn.execute, conn.execute(select).fetchall(), "%s")
                conn.execute("ALTER TABLE documents DROP COLUMN path")
                conn.execute("DROP TABLE files")
                conn.execute("DELETE FROM schema_migrations WHERE version = 5")

    yield open_service, to_v1
    for svc in opened:
        svc.close()


def test_an_index_made_before_sources_is_rewritten_once(
    tmp_path: Path, backend: tuple[Callable[[], QAService], Callable[[], None]]
) -> None:
    open_service, to_v1 = backend
    folder = tmp_path / "docs"
    corpus(folder)
    svc = open_service()
    svc.index_paths([folder])
    svc.add_documents(
        [
            Document(
                id="upload/report.txt",
                text="Reports are due on Fridays.",
                source="upload",
                path="report.txt",
                metadata={"filename": "report.txt"},
            )
        ]
    )
    svc.add_documents([Document(id="note-1", text="Notes sent as JSON keep their ids.")])
    before = {d.id: (svc.store.document_chunks(d.id)[0], d.n_chunks) for d in svc.list_documents(0, 100)[0]}
    svc.close()
    to_v1()

    svc = open_service()
    after = {d.id: (svc.store.document_chunks(d.id)[0], d.n_chunks) for d in svc.list_documents(0, 100)[0]}
    assert after == before  # same ids, chunks and offsets as a build made with sources
    root = str(folder)
    assert set(after) == {f"{root}/a.md", f"{root}/sub/b.txt", "x1", f"{root}/d.jsonl#2", "upload/report.txt", "note-1"}
    info = svc.get(f"{root}/sub/b.txt")
    assert (info.source, info.path) == (root, "sub/b.txt")
    assert svc.store.verify() == []
    top = svc.search("Which animals build dams?", 1)
    assert top and top[0].doc_id == f"{root}/sub/b.txt"

    # The next sync finds everything unchanged: the hashes were recomputed, nothing is re-embedded.
    embedded_before = svc.embedded_texts
    summary = svc.index_paths([folder]).as_dict()
    assert (summary["added"], summary["updated"], summary["deleted"], summary["chunks_written"]) == (0, 0, 0, 0)
    assert summary["unchanged"] == 4 and svc.embedded_texts == embedded_before
    svc.close()
    # Once: opening it again changes nothing.
    again = open_service()
    assert {d.id for d in again.list_documents(0, 100)[0]} == set(after)
