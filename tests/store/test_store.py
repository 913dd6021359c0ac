"""The embedded store with real FAISS and SQLite: writes, replaces, deletes, restarts, corruption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexMismatch, InvalidInput
from qa.store import Write
from qa.store.embedded import FAISS_FILE, FAISS_META, EmbeddedStore
from qa.types import Chunk, Document

DIM = 8


def vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for h in hot:
        v[h] = 1.0
    return v / np.linalg.norm(v)


def write_doc(store: EmbeddedStore, doc_id: str, text: str, hots: list[int], **meta: object) -> None:
    """One chunk per word of text, each with a one-hot vector."""
    doc = Document(id=doc_id, text=text, title=doc_id.upper(), metadata=dict(meta))
    chunks, pos = [], 0
    for i, word in enumerate(text.split()):
        start = text.index(word, pos)
        pos = start + len(word)
        chunks.append(Chunk(doc_id, i, start, pos, word))
    vectors = np.stack([vec(h) for h in hots[: len(chunks)]])
    store.write([Write(doc, chunks, vectors, "test")])


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)


def test_search_returns_exact_spans_and_metadata(store: EmbeddedStore) -> None:
    write_doc(store, "a", "alpha beta", [0, 1], topic="x")
    write_doc(store, "b", "gamma", [2], topic="y")
    hits = store.search(vec(1), k=3)
    assert [h.doc_id for h in hits][:1] == ["a"]
    top = hits[0]
    assert top.text == "beta" and (top.start, top.end) == (6, 10) and top.title == "A"
    assert top.metadata == {"topic": "x"} and top.score == pytest.approx(1.0)
    assert store.get_text("a")[top.start : top.end] == top.text  # type: ignore[index]


def test_filters_match_exact_metadata_values(store: EmbeddedStore) -> None:
    write_doc(store, "a", "alpha", [0], topic="x", year=2020, draft=True)
    write_doc(store, "b", "beta", [0], topic="y", year=2021, draft=False)
    assert [h.doc_id for h in store.search(vec(0), 5, {"topic": "y"})] == ["b"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"year": 2020})] == ["a"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"draft": False})] == ["b"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"doc_id": ["a"]})] == ["a"]
    assert store.search(vec(0), 5, {"topic": "nope"}) == []
    with pytest.raises(InvalidInput, match="not a valid metadata field"):
        store.search(vec(0), 5, {"bad'field": "x"})


def test_replace_and_delete_leave_nothing_behind(store: EmbeddedStore) -> None:
    write_doc(store, "a", "one two three", [0, 1, 2])
    write_doc(store, "a", "four", [3])
    assert store.stats()["chunks"] == 1 and store.index.ntotal == 1
    assert [h.text for h in store.search(vec(0), 5)] == ["four"]
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert store.index.ntotal == 0 and store.search(vec(3), 5) == [] and store.get("a") is None
    assert store.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 0


def test_reopen_after_restart_gives_same_results(tmp_path: Path) -> None:
    s1 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    write_doc(s1, "a", "alpha beta", [0, 1])
    write_doc(s1, "b", "gamma delta", [2, 3])
    before = [(h.chunk_id, h.score) for h in s1.search(vec(1, 2), 4)]
    s1.close()
    s2 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    assert [(h.chunk_id, h.score) for h in s2.search(vec(1, 2), 4)] == before


def test_crash_between_commit_and_faiss_save_is_repaired(tmp_path: Path) -> None:
    s1 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    write_doc(s1, "a", "alpha", [0])
    s1.save()
    write_doc(s1, "b", "beta", [1])  # committed to SQLite, FAISS file not saved: as if killed here
    s1.db.close()
    s2 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    assert [h.doc_id for h in s2.search(vec(1), 1)] == ["b"]
    assert json.loads((tmp_path / "idx" / FAISS_META).read_text())["generation"] == s2.generation


def test_corrupt_faiss_file_is_rebuilt_from_sqlite(tmp_path: Path) -> None:
    s1 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    write_doc(s1, "a", "alpha beta", [0, 1])
    s1.close()
    path = tmp_path / "idx" / FAISS_FILE
    path.write_bytes(path.read_bytes()[:20])  # truncated
    s2 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    assert s2.index.ntotal == 2 and [h.text for h in s2.search(vec(1), 1)] == ["beta"]


def test_other_process_writes_are_seen(tmp_path: Path) -> None:
    reader = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    writer = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    write_doc(writer, "a", "alpha", [0])
    assert [h.doc_id for h in reader.search(vec(0), 1)] == ["a"]
    assert [h.doc_id for h in reader.lexical_search(["alpha"], 1)] == ["a"]
    writer.delete("a")
    assert reader.search(vec(0), 1) == []
    assert reader.lexical_search(["alpha"], 1) == []


def test_opening_with_another_model_is_a_clear_error(tmp_path: Path) -> None:
    EmbeddedStore(tmp_path / "idx", model="m", dim=DIM).close()
    with pytest.raises(IndexMismatch, match="built with model 'm'"):
        EmbeddedStore(tmp_path / "idx", model="other", dim=DIM)
    with pytest.raises(IndexMismatch, match="dim 8"):
        EmbeddedStore(tmp_path / "idx", model="m", dim=16)


def test_list_pages_in_id_order(store: EmbeddedStore) -> None:
    for i in range(5):
        write_doc(store, f"d{i}", "word", [i])
    page, total = store.list_documents(offset=1, limit=2)
    assert total == 5 and [d.id for d in page] == ["d1", "d2"]
    assert page[0].n_chunks == 1 and page[0].chars == 4


def test_backup_of_the_sqlite_file_alone_restores_the_index(tmp_path: Path) -> None:
    """Operations: a backup is the SQLite file (online backup API); FAISS is rebuilt from it."""
    import sqlite3

    live = EmbeddedStore(tmp_path / "live", model="m", dim=DIM)
    write_doc(live, "a", "alpha beta", [0, 1])
    (tmp_path / "restored").mkdir()
    with sqlite3.connect(tmp_path / "restored" / "qa.sqlite") as dst:
        live.db.backup(dst)
    restored = EmbeddedStore(tmp_path / "restored", model="m", dim=DIM)
    assert [h.text for h in restored.search(vec(1), 1)] == ["beta"]
    assert restored.stats()["documents"] == 1 and (tmp_path / "restored" / FAISS_FILE).exists()


def test_metadata_filters_use_their_table_which_follows_replaces_and_deletes(store: EmbeddedStore) -> None:
    write_doc(store, "a", "alpha", [0], topic="x", score=1.5, tags=["p", "q"])
    write_doc(store, "a", "alpha", [0], topic="y")  # replaced: topic changes, score and tags go
    assert [h.doc_id for h in store.search(vec(0), 5, {"topic": "y"})] == ["a"]
    assert store.search(vec(0), 5, {"topic": "x"}) == [] and store.search(vec(0), 5, {"score": 1.5}) == []
    rows = store.db.execute("SELECT doc_id, key, value FROM doc_meta").fetchall()
    assert rows == [("a", "topic", "y")]  # lists and objects are never filter values
    write_doc(store, "b", "beta", [0], topic="y", n=3)
    assert [h.doc_id for h in store.search(vec(0), 5, {"topic": "y", "n": 3.0})] == ["b"]  # 3 == 3.0, as JSON
    assert [h.doc_id for h in store.search(vec(0), 5, {"topic": "y", "doc_id": ["a"]})] == ["a"]
    store.delete("a")
    assert store.db.execute("SELECT COUNT(*) FROM doc_meta WHERE doc_id = 'a'").fetchone()[0] == 0
    assert store.verify() == []


def test_an_index_without_the_metadata_table_gets_it_filled_on_open(tmp_path: Path) -> None:
    import sqlite3

    s1 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    write_doc(s1, "a", "alpha", [0], topic="x", draft=True)
    write_doc(s1, "b", "beta", [0], topic="y", draft=False)
    s1.close()
    db = sqlite3.connect(tmp_path / "idx" / "qa.sqlite")
    db.execute("DROP TABLE doc_meta")  # as an index made by an earlier version
    db.execute("DELETE FROM manifest WHERE key = 'doc_meta'")
    db.commit()
    db.close()
    s2 = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    assert [h.doc_id for h in s2.search(vec(0), 5, {"draft": True})] == ["a"]
    assert [h.doc_id for h in s2.search(vec(0), 5, {"topic": "y"})] == ["b"]
    # Damage it behind the store's back: verify names it, repair refills it.
    s2.db.execute("DELETE FROM doc_meta WHERE doc_id = 'b'")
    assert any("metadata filter table" in p for p in s2.verify())
    assert s2.repair()["remaining"] == [] and [h.doc_id for h in s2.search(vec(0), 5, {"topic": "y"})] == ["b"]
    s2.close()
