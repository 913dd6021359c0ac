"""Access lists in both stores: the caller's identities filter the first stage (dense and
lexical) inside the store, lists and counts follow them, and an access list changes without
touching the chunks. Embedded indexes made before access lists open without a rebuild."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.store import Store
from qa.store.embedded import EmbeddedStore
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
