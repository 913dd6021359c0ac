"""The postgres store's own behaviour: schema, migrations, connection errors.

What both stores must do is in tests/store/test_store_contract.py. These run on a real PostgreSQL
with pgvector (tests/pg.py), one fresh database per test.
"""

from __future__ import annotations

import psycopg
import pytest

from qa.errors import IndexMismatch
from qa.store.postgres import MIGRATIONS, PostgresStore, StoreUnavailable, redact

from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)
from .test_store_contract import DIM, words, write_doc

# -- postgres only -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_schema_is_migrated_once_with_hnsw_and_full_text_indexes(pg_url: str) -> None:
    stores = [PostgresStore(pg_url, model="m", dim=DIM) for _ in range(2)]
    try:
        write_doc(stores[0], "a", "running dogs", [0, 1])
        with psycopg.connect(pg_url) as conn:
            versions = conn.execute("SELECT version FROM qa_default.schema_migrations").fetchall()
            assert versions == [(v,) for v, _, _ in MIGRATIONS]
            indexes = dict(
                conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'qa_default'").fetchall()
            )
            assert "USING hnsw (embedding vector_ip_ops)" in indexes["chunks_embedding"]
            assert "USING gin (tsv)" in indexes["chunks_tsv"]
            # The lexical side is stemmed full text (BM25 ranks it in lexical_search).
            hit = conn.execute(
                "SELECT c.ordinal FROM qa_default.chunks c WHERE c.tsv @@ plainto_tsquery('english', 'run')"
            ).fetchall()
            assert hit == [(0,)]
            coltype = conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = 'qa_default.chunks'::regclass AND attname = 'embedding'"
            ).fetchone()
            assert coltype == (f"vector({DIM})",)
        assert stores[1].schema_version() == MIGRATIONS[-1][0]
    finally:
        for s in stores:
            s.close()


@pytest.mark.postgres
def test_an_older_schema_is_migrated_in_place(pg_url: str) -> None:
    store = PostgresStore(pg_url, model="m", dim=DIM)
    store.write([words("a", "running dogs", [0, 1]), words("b", "sleeping cats", [2, 3])])
    store.close()
    lengths = "SELECT id, lex_len FROM qa_default.chunks ORDER BY id"
    with psycopg.connect(pg_url) as conn:  # back to schema version 1, data kept
        fresh = conn.execute(lengths).fetchall()
        conn.execute("ALTER TABLE qa_default.chunks DROP COLUMN lex_len")
        conn.execute("DROP FUNCTION qa_default.tsvector_length(tsvector)")
        conn.execute("ALTER TABLE qa_default.documents DROP COLUMN page_starts")
        conn.execute("DELETE FROM qa_default.schema_migrations WHERE version > 1")
    store = PostgresStore(pg_url, model="m", dim=DIM)
    try:
        assert store.schema_version() == MIGRATIONS[-1][0]
        with psycopg.connect(pg_url) as conn:
            assert conn.execute(lengths).fetchall() == fresh and all(n > 0 for _, n in fresh)
        assert [h.doc_id for h in store.lexical_search(["run"], 5)] == ["a"]
        assert store.get("a").page_starts == ()  # type: ignore[union-attr]
    finally:
        store.close()


@pytest.mark.postgres
def test_a_newer_schema_is_refused(pg_url: str) -> None:
    PostgresStore(pg_url, model="m", dim=DIM).close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO qa_default.schema_migrations(version, name) VALUES (999, 'future')")
    with pytest.raises(IndexMismatch, match="schema version 999"):
        PostgresStore(pg_url, model="m", dim=DIM)


@pytest.mark.postgres
def test_unreachable_database_is_a_clear_error_without_the_password() -> None:
    url = "postgresql://qa:s3cret@127.0.0.1:1/qa"
    with pytest.raises(StoreUnavailable, match="cannot connect") as info:
        PostgresStore(url, model="m", dim=DIM)
    assert "s3cret" not in str(info.value)
    assert redact(url) == "postgresql://qa:***@127.0.0.1:1/qa"
