"""A damaged tantivy index: found at open by its files' CRC32 footers and rebuilt from SQLite;
damage that appears under a running store (a read errors or panics in Rust) is a clear
``IndexCorrupt`` (503), never a plain 500, and the index is rebuilt before the next read;
`verify`/`repair` name it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import IndexCorrupt
from qa.service import QAService
from qa.store.embedded import EmbeddedStore
from qa.store.embedded.lexical import damaged_files
from qa.types import Document

from ..fakes import HashEmbedder
from ..live_server import LOCAL

MODEL, DIM = HashEmbedder().name, HashEmbedder().dim


def build(index_dir: Path) -> None:
    svc = QAService(Settings(index_dir=index_dir, chunk_tokens=24, chunk_overlap=4), embedder=HashEmbedder())
    svc.add_documents(
        [Document(id=f"d{i}", text=" ".join(f"Doc {i} line {j} has w{i}x{j}." for j in range(40))) for i in range(30)]
    )
    svc.close()


def open_store(index_dir: Path) -> EmbeddedStore:
    return EmbeddedStore(index_dir / "default", model=MODEL, dim=DIM)


def damage(index_dir: Path, ext: str) -> Path:
    """Overwrite the middle of the largest segment file with ``ext`` in place (same size)."""
    path = max((index_dir / "default" / "lexical").glob(f"*{ext}"), key=lambda p: p.stat().st_size)
    with open(path, "r+b") as fh:
        size = fh.seek(0, 2)
        fh.seek(size // 3)
        fh.write(b"\xff" * max(16, size // 3))
    return path


@pytest.mark.parametrize("ext", [".idx", ".term", ".fast"])
def test_damage_is_found_at_open_and_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture, ext: str) -> None:
    build(tmp_path)
    damaged = damage(tmp_path, ext)
    assert damaged_files(damaged.parent)
    caplog.set_level(logging.WARNING, logger="qa.store.embedded")
    store = open_store(tmp_path)
    try:
        assert "lexical index" in caplog.text and "is damaged" in caplog.text
        assert damaged_files(damaged.parent) == [] and store.verify() == []
        assert [h.doc_id for h in store.lexical_search(["w7x3"], 3)][:1] == ["d7"]
        report = store.repair()
        assert any("is damaged" in p for p in report["found"]) and report["remaining"] == []
    finally:
        store.close()


@pytest.mark.parametrize("ext", [".idx", ".term", ".fast"])
def test_damage_under_a_running_store_is_a_clear_error_then_rebuilt(tmp_path: Path, ext: str) -> None:
    build(tmp_path)
    store = open_store(tmp_path)
    try:
        assert [h.doc_id for h in store.lexical_search(["w7x3"], 3)][:1] == ["d7"]
        damage(tmp_path, ext)  # the files the running store has mapped
        words = [f"w{i}x{j}" for i in range(30) for j in (0, 13, 39)]
        for word in words:  # may read damaged bytes: a clear IndexCorrupt (503) at worst, never a panic
            try:
                store.lexical_search([word], 3)
                with store.snapshot():
                    store.lexical_hits([word], 3)
            except IndexCorrupt as exc:
                assert "rebuilt from SQLite" in str(exc)
        # verify names it, and the next read rebuilds it from SQLite.
        assert any("lexical index files are damaged" in p for p in store.verify())
        for i in range(30):
            assert [h.doc_id for h in store.lexical_search([f"w{i}x13"], 3)][:1] == [f"d{i}"]
        assert store.verify() == []
    finally:
        store.close()


class PanicException(BaseException):
    """Stands in for pyo3's (a BaseException, matched by name: it cannot be imported)."""


def test_a_tantivy_panic_is_a_503_json_then_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from qa.api import create_app

    build(tmp_path)
    settings = Settings(index_dir=tmp_path, chunk_tokens=24, chunk_overlap=4, retrieval_mode="lexical")
    svc = QAService(settings, embedder=HashEmbedder())  # type: ignore[arg-type]
    store = svc.store
    assert isinstance(store, EmbeddedStore)
    real = store.lexical.index
    assert real is not None

    class Panicking:
        def searcher(self) -> None:
            raise PanicException("index out of bounds: the len is 3 but the index is 7")

    monkeypatch.setattr(store.lexical, "index", Panicking())
    with TestClient(create_app(settings, service=svc), raise_server_exceptions=False, base_url=LOCAL) as client:
        with store.snapshot():  # inside one read: the damage is answered, not hidden
            with pytest.raises(IndexCorrupt, match="PanicException"):
                store.lexical_hits(["w7x3"], 3)
        assert store.lexical.damaged
        r = client.post("/v1/search", json={"question": "w7x3", "k": 3})
        # The flagged index was rebuilt from SQLite before this read: the search is answered.
        assert r.status_code == 200, r.text
        assert r.json()["passages"][0]["doc_id"] == "d7"
    svc.close()
