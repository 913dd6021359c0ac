"""The postgres store: documents, chunks and vectors in PostgreSQL with pgvector.

Picked with ``QA_STORE=postgresql://user:pass@host:5432/db``. Many processes (API replicas,
ingestion workers) share one database; every read sees every committed write, so a document
ingested through one replica is searchable through another as soon as the ingest returns.
Each index (``QA_INDEX_NAME``) lives in its own schema, ``qa_<index_name>``.

Modules, each importing only those above it:

- ``analysis``: the lexical analysis of an index (Postgres's ``english`` configuration, or
  ``qa.language``'s for any other ``QA_LANGUAGE``) and its manifest rows
- ``schema``: connecting, the tables, migrations and manifest of an index's schema
- ``queries``: the SQL of filtered nearest-neighbour and BM25 searches
- ``store``: ``PostgresStore``, the store itself
"""

from qa.store.postgres.analysis import TEXT_SEARCH_CONFIG, Analysis
from qa.store.postgres.queries import BM25_B, BM25_K1, MAX_EF_SEARCH, PASSAGE_COLUMNS
from qa.store.postgres.schema import (
    BOOTSTRAP_LOCK,
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    MIGRATIONS,
    SCHEMA_VERSION,
    StoreUnavailable,
    redact,
    schema_name,
)
from qa.store.postgres.store import PostgresStore

__all__ = [
    "Analysis",
    "BM25_B",
    "BM25_K1",
    "BOOTSTRAP_LOCK",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_M",
    "MAX_EF_SEARCH",
    "MIGRATIONS",
    "PASSAGE_COLUMNS",
    "SCHEMA_VERSION",
    "TEXT_SEARCH_CONFIG",
    "PostgresStore",
    "StoreUnavailable",
    "redact",
    "schema_name",
]
