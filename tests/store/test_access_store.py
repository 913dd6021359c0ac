"""Access lists in both stores: the caller's identities filter the first stage (dense and
lexical) inside the store, lists and counts follow them, and an access list changes without
touching the chunks. Embedded indexes made before access lists open without a rebuild."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.store import Store
from qa.store.embedded import EmbeddedStore, schema
from qa.store.filters import Filters

from .test_store_contract import open_store, pg_url_fixture, vec, words  # noqa: F401  (the store fixtures)

Opener = Callable[..., Store]
HR = Filters(access=("user:hana", "group:hr"))
FINANCE = Filters(access=("user:fred", "group:finance"))


def seed(store: Store) -> None:
    store.write(
        [
            words("hr", "salary salary salary review", [0, 0, 0, 1], access=["group:hr"]),
            words("fin", "salary budget invoice", [1, 2, 3], access=["group:finance", "user:hana"]),
            words("pub", "salary handbook", [2, 4]),
            words("none", "salary secret", [0, 5], access=[]),
        ]
    )


def test_access_filters_dense_and_lexical_first_stage(open_store: Opener) -> None:  # noqa: F811
    store = open_store()
    seed(store)
    query = vec(0)
    everything = dict(store.search_hits(query, 20))
    for filters, visible in ((FINANCE, {"fin", "pub"}), (HR, {"hr", "fin", "pub"}), (Filters(access=()), {"pub"})):
        dense = store.search(query, 4, filters)
        assert {p.doc_id for p in dense} <= visible
        # k honoured from the visible chunks, and their scores are the unfiltered ones.
        n_visible = sum(len(store.document_chunks(d)[0]) for d in visible)
        assert len(dense) == min(4, n_visible)
        assert [p.score for p in dense] == [everything[p.chunk_id] for p in dense]
        lexical = store.lexical_search(["salary"], 10, filters)
        assert {p.doc_id for p in lexical} == visible
        docs, total = store.list_documents(0, 10, filters.access)
        assert total == len(visible) and {d.id for d in docs} == visible
    # None: no restriction (admins); an empty list is for admins only.
    assert store.list_documents(0, 10, None)[1] == 4
    assert {p.doc_id for p in store.lexical_search(["salary"], 10, Filters(access=None, match=()))} == {
        "hr",
        "fin",
        "pub",
        "none",
    }
    # Combined with a metadata filter and a doc_id filter.
    assert store.search(query, 4, Filters(doc_ids=("hr",), access=FINANCE.access)) == []


def test_set_access_keeps_the_chunks(open_store: Opener) -> None:  # noqa: F811
    store = open_store()
    seed(store)
    before = store.document_chunks("hr")
    assert store.set_access("hr", ["group:finance"])
    assert "hr" in {p.doc_id for p in store.search(vec(0), 10, FINANCE)}
    info = store.get("hr")
    assert info is not None and info.metadata["access"] == ["group:finance"]
    after = store.document_chunks("hr")
    assert [c.start for c in after[0]] == [c.start for c in before[0]]
    assert np.array_equal(after[1], before[1])
    assert store.set_access("hr", None)
    assert "access" not in store.get("hr").metadata  # type: ignore[union-attr]
    assert {p.doc_id for p in store.lexical_search(["salary"], 10, Filters(access=()))} == {"pub", "hr"}
    assert not store.set_access("missing", None)


def test_an_index_from_before_access_lists_opens_without_rebuild(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    seed(store)
    store.close()
    # What an index written by a qa without access lists looks like: no doc_access, no manifest key.
    db = sqlite3.connect(tmp_path / "i" / "qa.sqlite")
    db.execute("DROP TABLE doc_access")
    db.execute("DELETE FROM manifest WHERE key = 'doc_access'")
    db.commit()
    db.close()
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    try:
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, FINANCE)} == {"fin", "pub"}
        assert store.list_documents(0, 10, ())[1] == 1
    finally:
        store.close()


def test_lexical_access_filter_is_native_and_scores_as_unfiltered(tmp_path: Path) -> None:
    """The embedded lexical side filters on tantivy's ``access`` field: the same hits, with the
    same scores, as the unfiltered search restricted to the visible chunks, k counted among them."""
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    try:
        seed(store)
        everything = store.lexical_hits(["salary", "budget"], 50)
        owner = {p.chunk_id: p.doc_id for p in store.passages(everything)}
        for filters, visible in ((FINANCE, {"fin", "pub"}), (HR, {"hr", "fin", "pub"}), (Filters(access=()), {"pub"})):
            want = [h for h in everything if owner[h[0]] in visible]
            assert store.lexical_hits(["salary", "budget"], 50, filters) == want
            assert store.lexical_hits(["salary", "budget"], 2, filters) == want[:2]
        # With a metadata filter too, the ids from SQLite restrict it as before.
        store.write([words("hr2", "salary plan", [1, 2], access=["group:hr"], team="x")])
        hits = store.lexical_search(["salary"], 10, Filters(match=(("team", "x"),), access=HR.access))
        assert {p.doc_id for p in hits} == {"hr2"}
        assert store.lexical_search(["salary"], 10, Filters(match=(("team", "x"),), access=FINANCE.access)) == []
    finally:
        store.close()


def test_set_access_rewrites_the_lexical_rows_without_writing_the_faiss_file(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    try:
        seed(store)
        store.save()
        faiss_file = tmp_path / "i" / "vectors.faiss"
        written = faiss_file.stat().st_mtime_ns
        gen = store.generation
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, FINANCE)} == {"fin", "pub"}
        assert {p.doc_id for p in store.search(vec(0), 10, FINANCE)} == {"fin", "pub"}  # cached now
        assert store.set_access("hr", ["group:finance"])
        assert store.generation == gen + 1
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, FINANCE)} == {"hr", "fin", "pub"}
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, HR)} == {"fin", "pub"}
        assert {p.doc_id for p in store.search(vec(0), 10, FINANCE)} == {"hr", "fin", "pub"}
        store.save()
        assert faiss_file.stat().st_mtime_ns == written
        assert store.verify() == []
    finally:
        store.close()
    # Reopened: the FAISS file's record is at SQLite's generation, the lexical rows are the new ones.
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    try:
        assert faiss_file.stat().st_mtime_ns == written
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, FINANCE)} == {"hr", "fin", "pub"}
        assert store.verify() == []
    finally:
        store.close()


def test_an_access_change_killed_between_the_lexical_and_sqlite_commits_is_undone(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    seed(store)
    ids = sorted(store.lexical_hits(["salary"], 10, HR))
    # The lexical commit of an access change whose SQLite commit never happened: "hr" opened to finance.
    hr_rows = [(r[0], r[1], r[2], ["group:finance"]) for r in schema.lexical_rows(store.db, "hr")]
    store.lexical.commit(store.generation + 1, [r[0] for r in hr_rows], hr_rows)
    store.close()
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    try:
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, FINANCE)} == {"fin", "pub"}
        assert sorted(store.lexical_hits(["salary"], 10, HR)) == ids  # tied scores: any order
    finally:
        store.close()


def test_the_visible_ids_are_cached_per_generation(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    other = EmbeddedStore(tmp_path / "i", model="m", dim=8)  # stands for another process
    try:
        seed(store)
        first = store.search_hits(vec(0), 10, FINANCE)
        misses = store.allowed.misses
        assert store.search_hits(vec(0), 10, FINANCE) == first
        assert store.allowed.misses == misses and store.allowed.hits >= 1
        # Another process's access change moves the generation: the next search reads the ids again.
        assert other.set_access("hr", ["group:finance"])
        assert {p.doc_id for p in store.search(vec(0), 10, FINANCE)} == {"hr", "fin", "pub"}
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, FINANCE)} == {"hr", "fin", "pub"}
        assert store.allowed.misses == misses + 1
    finally:
        other.close()
        store.close()


def test_verify_finds_lexical_access_entries_out_of_step_and_repair_fixes_them(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "i", model="m", dim=8)
    try:
        seed(store)
        assert store.verify() == []
        # The hr document's lexical rows say finance, at SQLite's own generation.
        wrong = [(r[0], r[1], r[2], ["group:finance"]) for r in schema.lexical_rows(store.db, "hr")]
        store.lexical.commit(store.generation, [r[0] for r in wrong], wrong)
        problems = store.verify()
        assert len(problems) == 1 and "access entries differ from doc_access" in problems[0]
        assert store.repair()["remaining"] == []
        assert {p.doc_id for p in store.lexical_search(["salary"], 10, FINANCE)} == {"fin", "pub"}
    finally:
        store.close()
