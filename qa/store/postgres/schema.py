"""The postgres store's schema: connecting, the tables of one index, migrations and the manifest.

Each index (``QA_INDEX_NAME``) lives in its own schema, ``qa_<index_name>``:

- ``manifest (key, value)``: model, dim, format version, metric, text search config; for a
  language other than English, ``language`` and ``lexical_analysis`` too (``analysis.py``).
- ``schema_migrations (version, name, applied_at)``: the migrations below that ran.
- ``documents``: id, title, text (the canonical text every offset refers to), metadata ``jsonb``
  (GIN index, for exact-match filters), source, content_hash, chunker, n_chunks, timestamps,
  page_starts ``integer[]`` (where each page starts in the text; NULL without pages), path (in
  its source; ``qa.sources``).
- ``files``: what the last sync of each source saw of each file (``qa.store.FileRecord``).
- ``chunks``: an identity id (never reused), doc_id -> documents ON DELETE CASCADE, ordinal,
  start, end, heading, ``embedding vector(dim)`` under an HNSW index (inner product), and
  ``tsv tsvector`` under a GIN index with ``lex_len`` (its length) for the lexical side (BM25).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from qa.errors import Conflict, IndexGone, IndexMismatch, InvalidInput, Unavailable
from qa.store.base import Manifest, check_manifest, manifest_rows, readdress
from qa.store.postgres.analysis import Analysis
from qa.types import content_hash

# HNSW build parameters (pgvector defaults); search breadth is a setting (QA_PG_EF_SEARCH).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# Serializes schema set-up across processes: replicas started together must not race.
BOOTSTRAP_LOCK = 0x7161_7374  # "qast"

# Versioned migrations, applied in order inside the bootstrap transaction. Never edit one that
# has shipped: add the next version instead. ``{dim}`` is the manifest's vector dimension.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "documents, chunks, vectors (HNSW), full text (GIN)",
        """
        CREATE TABLE documents (
            id text PRIMARY KEY,
            title text NOT NULL,
            text text NOT NULL,
            metadata jsonb NOT NULL,
            source text,
            content_hash text NOT NULL,
            chunker text NOT NULL,
            n_chunks integer NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL
        );
        CREATE INDEX documents_metadata ON documents USING gin (metadata jsonb_path_ops);
        CREATE TABLE chunks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            doc_id text NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal integer NOT NULL,
            start integer NOT NULL,
            "end" integer NOT NULL,
            heading text,
            embedding vector({dim}) NOT NULL,
            tsv tsvector NOT NULL,
            UNIQUE (doc_id, ordinal)
        );
        CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_ip_ops)
            WITH (m = {m}, ef_construction = {ef_construction});
        CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
        """,
    ),
    (
        2,
        "chunk lengths in lexemes, for BM25",
        """
        CREATE FUNCTION tsvector_length(tsvector) RETURNS integer LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT COALESCE(sum(array_length(positions, 1)), 0)::integer FROM unnest($1) $$;
        ALTER TABLE chunks ADD COLUMN lex_len integer GENERATED ALWAYS AS (tsvector_length(tsv)) STORED;
        """,
    ),
    (
        3,
        "hash of each chunk's embedding text, the key of the embedding cache",
        """
        ALTER TABLE chunks ADD COLUMN IF NOT EXISTS text_hash text;
        CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks (text_hash);
        """,
    ),
    (
        4,
        "where each page of a document starts in its text (PDFs), for citations' pages",
        """
        ALTER TABLE documents ADD COLUMN IF NOT EXISTS page_starts integer[];
        """,
    ),
    (
        5,
        "sources: each document's path in its source, ids source/path, and what each source's files were",
        """
        ALTER TABLE documents ADD COLUMN IF NOT EXISTS path text;
        CREATE INDEX IF NOT EXISTS documents_source ON documents (source, path);
        CREATE TABLE IF NOT EXISTS files (
            source text NOT NULL,
            path text NOT NULL,
            size bigint NOT NULL,
            mtime_ns bigint NOT NULL,
            ctime_ns bigint NOT NULL,
            sha256 text NOT NULL,
            fingerprint text NOT NULL,
            doc_ids text[] NOT NULL,
            PRIMARY KEY (source, path)
        );
        """,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]

# Every documents column but id (copying a row under a new id).
DOCUMENT_COLUMNS = (
    "title, text, metadata, source, content_hash, chunker, n_chunks, created_at, updated_at, page_starts, path"
)


def readdress_documents(conn: psycopg.Connection[Any]) -> int:
    """Migration 5's data step, in its transaction: each document gets the id, source and path
    ``readdress`` gives it (its chunks keep their ids and vectors) and its content hash
    recomputed without ``VOLATILE_METADATA``, as the embedded store's schema version 2 does.
    Returns how many ids changed."""
    rows = conn.execute("SELECT id, source, title, text, metadata, page_starts FROM documents").fetchall()
    taken = {r[0] for r in rows}
    moved = 0
    for doc_id, source, title, text, metadata, page_starts in rows:
        new_id, new_source, path = readdress(doc_id, source)
        digest = content_hash(title, text, metadata, page_starts or ())
        conn.execute(
            "UPDATE documents SET source = %s, path = %s, content_hash = %s WHERE id = %s",
            (new_source, path, digest, doc_id),
        )
        if new_id == doc_id or new_id in taken:
            continue
        conn.execute(
            f"INSERT INTO documents(id, {DOCUMENT_COLUMNS}) SELECT %s, {DOCUMENT_COLUMNS} FROM documents WHERE id = %s",
            (new_id, doc_id),
        )
        conn.execute("UPDATE chunks SET doc_id = %s WHERE doc_id = %s", (new_id, doc_id))
        conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,))
        taken.add(new_id)
        moved += 1
    return moved


# Steps in Python that run after a migration's SQL, in the same transaction.
MIGRATION_STEPS: dict[int, Callable[[psycopg.Connection[Any]], int]] = {5: readdress_documents}


class StoreUnavailable(Unavailable):
    """The database cannot be reached, refused the connection, or has no connection free."""


def redact(url: str) -> str:
    """The URL with its password replaced, for logs, stats and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def schema_name(index_name: str) -> str:
    name = f"qa_{index_name}"
    if len(name.encode()) > 63:
        raise InvalidInput(f"index name {index_name!r} is too long for a Postgres schema (at most 60 bytes)")
    return name


def connect(url: str) -> psycopg.Connection[Any]:
    """A new connection to ``url`` (not pooled); an unreachable database is ``StoreUnavailable``."""
    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot connect to QA_STORE={redact(url)}: {str(exc).strip()}") from exc


def stored_dim(url: str, index_name: str = "default") -> int | None:
    """The vector dimension of an existing index, or None if there is none yet."""
    rows = stored_manifest(url, index_name)
    return int(rows["dim"]) if rows and "dim" in rows else None


def stored_manifest(url: str, index_name: str = "default") -> dict[str, str] | None:
    """The manifest rows of an existing index, or None if there is none yet."""
    schema = schema_name(index_name)
    with connect(url) as conn:
        found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".manifest',)).fetchone()
        if not found or found[0] is None:
            return None
        rows = conn.execute(sql.SQL("SELECT key, value FROM {}.manifest").format(sql.Identifier(schema))).fetchall()
    return dict(rows) or None


def index_names(url: str) -> list[str]:
    """The names of the indexes in the database: its schemas ``qa_<name>`` that hold a manifest."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'manifest' "
            "AND table_schema LIKE 'qa\\_%' ORDER BY table_schema"
        ).fetchall()
    return [r[0][len("qa_") :] for r in rows]


def drop_index(url: str, index_name: str) -> bool:
    """Drop the index's schema with everything in it; False if there was none."""
    schema = schema_name(index_name)
    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (BOOTSTRAP_LOCK,))
        found = conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone()
        if not found or found[0] is None:
            return False
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return True


def bootstrap(
    conn: psycopg.Connection[Any],
    schema: str,
    url: str,
    model: str,
    dim: int,
    extra: dict[str, Any],
    new_only: bool = False,
    analysis: Analysis | None = None,
    existing_only: bool = False,
) -> Manifest:
    """Create the schema, check the manifest and run pending migrations, in one transaction.
    ``analysis``: the index's lexical analysis (English's by default), recorded in a new manifest
    and checked against an existing one's.

    Raises:
        IndexMismatch: the index was built with another model, dimension or lexical analysis.
        Conflict: ``new_only`` and the index exists (another process created it first: the
            advisory lock makes the check and the creation one step).
        IndexGone: ``existing_only`` and the index does not exist (dropped by another process:
            ``drop_index`` takes the same lock, so nothing is made again under its name).
    """
    s = sql.Identifier(schema)
    analysis = analysis or Analysis()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (BOOTSTRAP_LOCK,))
        if existing_only:
            found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".manifest',)).fetchone()
            if (
                not found
                or found[0] is None
                or not conn.execute(sql.SQL("SELECT 1 FROM {}.manifest LIMIT 1").format(s)).fetchone()
            ):
                raise IndexGone(f"index {schema} in {redact(url)} does not exist: it was deleted")
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(s))
        conn.execute("CREATE TABLE IF NOT EXISTS manifest (key text PRIMARY KEY, value text NOT NULL)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = dict(conn.execute("SELECT key, value FROM manifest").fetchall())
        where = f"index {schema} in {redact(url)}"
        if not rows:
            manifest = Manifest(model=model, dim=dim, extra=extra)
            values = manifest_rows(manifest, **analysis.manifest_rows())
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO manifest(key, value) VALUES (%s, %s)", list(values.items()))
        elif new_only:
            raise Conflict(f"{where} exists already (created by another process meanwhile); choose another name")
        else:
            manifest = check_manifest(rows, where, model, dim)
            analysis.check(rows, where)
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        if applied and max(applied) > SCHEMA_VERSION:
            raise IndexMismatch(
                f"{where} has schema version {max(applied)}, newer than this qa's {SCHEMA_VERSION}; upgrade qa"
            )
        for version, name, ddl in MIGRATIONS:
            if version in applied:
                continue
            conn.execute(ddl.format(dim=manifest.dim, m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION))
            step = MIGRATION_STEPS.get(version)
            if step is not None:
                step(conn)
            conn.execute("INSERT INTO schema_migrations(version, name) VALUES (%s, %s)", (version, name))
    return manifest
