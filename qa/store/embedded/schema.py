"""The embedded store's SQLite database: schema, migrations on open, manifest, generation, doc_meta.

``qa.sqlite`` is the source of truth (see index/README.md). Every write is one transaction
(``Transaction``: WAL, ``synchronous=FULL``), so a killed process leaves the previous or the new
state, and each write bumps ``manifest.generation``, which the derived indexes (FAISS, tantivy)
record to tell whether they are in step.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorrupt, IndexGone
from qa.store.base import Manifest, check_manifest, manifest_rows, readdress
from qa.store.filters import Filters
from qa.types import content_hash

log = logging.getLogger(__name__)

DB_FILE = "qa.sqlite"
# doc_access's entry for a document without an access list (``qa.access.PUBLIC``).
PUBLIC_ENTRY = "*"

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    source TEXT,
    content_hash TEXT NOT NULL,
    chunker TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    page_starts TEXT,
    path TEXT
);
-- AUTOINCREMENT: row ids are FAISS ids and must never be reused after a delete.
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    heading TEXT,
    vector BLOB NOT NULL,
    text_hash TEXT,
    UNIQUE (doc_id, ordinal)
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
-- Each document's scalar metadata values, one row per top-level key, for filters: an index
-- lookup instead of parsing every document's JSON. ``value`` has no type affinity, so it compares
-- as ``json_extract`` would (1 = 1.0, 1 != '1'; true and false are 1 and 0).
CREATE TABLE IF NOT EXISTS doc_meta (
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value,
    PRIMARY KEY (doc_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_meta_kv ON doc_meta(key, value);
-- Each document's access list (``qa.access``), one row per entry ('group:hr', 'user:alice'),
-- or one '*' row for a document without one (public): who may see a document is an index lookup.
CREATE TABLE IF NOT EXISTS doc_access (
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    entry TEXT NOT NULL,
    PRIMARY KEY (doc_id, entry)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_access_entry ON doc_access(entry, doc_id);
-- What the last sync of each source saw of each file (``qa.store.FileRecord``): a file whose size
-- and times are these is skipped unread. Written in the transaction of the file's documents.
CREATE TABLE IF NOT EXISTS files (
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    doc_ids TEXT NOT NULL,  -- JSON list
    PRIMARY KEY (source, path)
) WITHOUT ROWID;
"""

# The schema version of this qa (the manifest's ``schema_version``; absent means 1). 2: documents
# have a source and a path, ids are ``source/path`` (``qa.sources``), content hashes leave out
# ``VOLATILE_METADATA``, and ``files`` records what each source's files were when last synced.
SCHEMA_VERSION = 2

# What doc_meta holds: every document's top-level scalar metadata values (one definition for
# filling it, per document or for all, and for checking it).
DOC_META_VALUES = (
    "SELECT d.id, j.key, j.value FROM documents d, json_each(d.metadata) j"
    " WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')"
)
DOC_META_ALL = f"INSERT INTO doc_meta(doc_id, key, value) {DOC_META_VALUES}"
DOC_META_OF = f"{DOC_META_ALL} AND d.id = ?"

# What doc_access holds: each entry of a document's ``access`` list, or '*' without a list.
DOC_ACCESS_VALUES = (
    "SELECT d.id, '*' FROM documents d WHERE json_type(d.metadata, '$.access') IS NOT 'array' {and_id}"
    " UNION ALL SELECT d.id, j.value FROM documents d, json_each(d.metadata, '$.access') j"
    " WHERE json_type(d.metadata, '$.access') = 'array' AND j.type = 'text' {and_id}"
)
DOC_ACCESS_ALL = "INSERT OR IGNORE INTO doc_access(doc_id, entry) " + DOC_ACCESS_VALUES.format(and_id="")
DOC_ACCESS_OF = "INSERT OR IGNORE INTO doc_access(doc_id, entry) " + DOC_ACCESS_VALUES.format(and_id="AND d.id = ?")

# Indexes made before the embedding cache have no ``chunks.text_hash``: added on open (their
# chunks have none, so they are re-embedded once when their document next changes).
MIGRATE_TEXT_HASH = "ALTER TABLE chunks ADD COLUMN text_hash TEXT"
TEXT_HASH_INDEX = "CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks(text_hash)"
# Indexes made before page offsets have no ``documents.page_starts``: added on open (NULL: the
# document's citations carry no page until it is indexed again).
MIGRATE_PAGE_STARTS = "ALTER TABLE documents ADD COLUMN page_starts TEXT"
MIGRATE_PATH = "ALTER TABLE documents ADD COLUMN path TEXT"
SOURCE_INDEX = "CREATE INDEX IF NOT EXISTS documents_source ON documents(source, path)"


def corrupt(db_path: Path, exc: Exception) -> IndexCorrupt:
    return IndexCorrupt(
        f"index database {db_path} cannot be opened: {exc}; restore it from a backup "
        "(README, Operations) or re-index into a new QA_INDEX_NAME"
    )


# SQLite's primary result codes for a damaged file: SQLITE_CORRUPT ("database disk image is
# malformed") and SQLITE_NOTADB ("file is not a database").
CORRUPT_CODES = (11, 26)


def is_corrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite finding a damaged page (not a lock, a full disk or bad SQL)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in CORRUPT_CODES
    return "malformed" in str(exc) or "not a database" in str(exc)


def quick_check(db: sqlite3.Connection) -> list[str]:
    """SQLite's ``PRAGMA quick_check`` (every page of every b-tree read and its structure checked;
    indexes not compared with their tables): what is wrong, empty when sound. A check that stops
    at a page it cannot parse is reported the same way."""
    try:
        result = [str(r[0]) for r in db.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        return [str(exc)]
    return [] if result == ["ok"] else result


def gone(db_path: Path) -> IndexGone:
    return IndexGone(f"index {db_path.parent} does not exist: it was deleted; nothing was read or written")


def open_existing(db_path: Path, query_only: bool = False) -> sqlite3.Connection:
    """A connection to the database at ``db_path``, which must exist: SQLite is not let create
    it (``mode=rw``), so an index deleted meanwhile is never made again, empty, by opening it.

    Raises:
        IndexGone: there is no such file (or directory).
    """
    try:
        uri = f"{db_path.absolute().as_uri()}?mode=rw"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=30)
        if query_only:
            db.execute("PRAGMA query_only=ON")
        return db
    except sqlite3.OperationalError as exc:
        if not db_path.exists():
            raise gone(db_path) from exc
        raise


def identity(db_path: Path) -> tuple[int, int] | None:
    """Which file ``db_path`` is (device and inode), or None if there is none. While a store holds
    the file open its inode cannot be reused, so another identity means another file."""
    try:
        st = os.stat(db_path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def connect(db_path: Path, create: bool = True) -> sqlite3.Connection:
    """The write connection to ``db_path``, with the schema created or migrated. ``create``:
    make the file if there is none (else ``IndexGone``).

    Raises:
        IndexCorrupt: the file is not a database, or a damaged one. IndexGone: see ``create``.
    """
    try:
        if create:
            db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=30)
        else:
            db = open_existing(db_path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        _add_column(db, "chunks", "text_hash", MIGRATE_TEXT_HASH)
        _add_column(db, "documents", "page_starts", MIGRATE_PAGE_STARTS)
        _add_column(db, "documents", "path", MIGRATE_PATH)
        db.execute(TEXT_HASH_INDEX)
        db.execute(SOURCE_INDEX)
    except sqlite3.DatabaseError as exc:
        raise corrupt(db_path, exc) from exc
    return db


def _add_column(db: sqlite3.Connection, table: str, column: str, ddl: str) -> None:
    """Run ``ddl`` (an ALTER TABLE ... ADD COLUMN) unless ``table`` has ``column`` already."""
    if column in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
        return
    try:
        db.execute(ddl)
    except sqlite3.OperationalError as exc:  # another process migrated it first
        if "duplicate column" not in str(exc):
            raise


def stored_dim(db_path: Path) -> int | None:
    """The vector dimension of the database at ``db_path``, or None if there is none yet."""
    rows = stored_manifest(db_path)
    return int(rows["dim"]) if rows and "dim" in rows else None


def stored_manifest(db_path: Path) -> dict[str, str] | None:
    """The manifest rows of the database at ``db_path`` (read-only), or None if there is none yet."""
    if not db_path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
        try:
            rows = dict(db.execute("SELECT key, value FROM manifest").fetchall())
        finally:
            db.close()
    except sqlite3.OperationalError:
        return None  # e.g. locked: the store's own open reports what is wrong
    except sqlite3.DatabaseError as exc:
        # Not a database, or a damaged one: say so now, before anyone loads a model for it.
        raise corrupt(db_path, exc) from exc
    return rows or None


class Transaction:
    """``with Transaction(db):`` one write transaction, committed on success, rolled back on an
    error. ``BEGIN IMMEDIATE`` takes SQLite's write lock at once: no other process's write is
    half done inside."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except BaseException:
                # A COMMIT refused (e.g. SQLITE_FULL) leaves the transaction open: end it.
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        # SQLite may have rolled back already (it does on some errors, e.g. a full disk); a
        # failing ROLLBACK must not hide the error that caused it.
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("rollback failed: %s", exc)


def open_manifest(
    db: sqlite3.Connection, where: str, model: str, dim: int, extra: dict[str, Any], create: bool = True
) -> Manifest:
    """The stored manifest, checked against ``model`` and ``dim``; written first in a new database
    (``create``; else a database without one is ``IndexGone``).

    Raises:
        IndexMismatch: another format version, model or dimension. IndexGone: see ``create``.
    """
    rows = dict(db.execute("SELECT key, value FROM manifest").fetchall())
    if not rows and not create:
        raise IndexGone(f"{where} has no manifest: it was deleted, or never finished being made")
    if not rows:
        manifest = Manifest(model=model, dim=dim, extra=extra)
        with Transaction(db):
            values = manifest_rows(manifest, generation="0", schema_version=str(SCHEMA_VERSION))
            db.executemany("INSERT INTO manifest(key, value) VALUES (?, ?)", values.items())
        return manifest
    return check_manifest(rows, where, model, dim)


def generation(db: sqlite3.Connection) -> int:
    """The generation of the committed state ``db`` reads."""
    row = db.execute("SELECT value FROM manifest WHERE key = 'generation'").fetchone()
    return int(row[0])


def bump_generation(db: sqlite3.Connection) -> int:
    """Inside a write transaction: advance the generation; return the one before."""
    before = generation(db)
    db.execute("UPDATE manifest SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    return before


def chunk_count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])


# -- schema version 2: sources ---------------------------------------------------------------------


def migrate_sources(db: sqlite3.Connection) -> int:
    """Indexes of schema version 1 (before sources) are rewritten once, in one transaction: each
    document gets the id, source and path ``readdress`` gives it (its chunks, vectors and lexical
    entries keep their chunk ids, so FAISS and tantivy are untouched) and its content hash
    recomputed without ``VOLATILE_METADATA``. Returns how many ids changed."""
    if _schema_version(db) >= SCHEMA_VERSION:
        return 0
    with Transaction(db):
        if _schema_version(db) >= SCHEMA_VERSION:
            return 0  # another process migrated it first
        rows = db.execute("SELECT id, source, title, text, metadata, page_starts FROM documents").fetchall()
        taken = {r[0] for r in rows}
        moved = 0
        for doc_id, source, title, text, metadata, page_starts in rows:
            new_id, new_source, path = readdress(doc_id, source)
            starts = json.loads(page_starts) if page_starts else ()
            digest = content_hash(title, text, json.loads(metadata), starts)
            db.execute(
                "UPDATE documents SET source = ?, path = ?, content_hash = ? WHERE id = ?",
                (new_source, path, digest, doc_id),
            )
            if new_id == doc_id or new_id in taken:
                continue
            copy = f"INSERT INTO documents(id, {DOCUMENT_COLUMNS}) SELECT ?, {DOCUMENT_COLUMNS} FROM documents"
            db.execute(f"{copy} WHERE id = ?", (new_id, doc_id))
            db.execute("UPDATE chunks SET doc_id = ? WHERE doc_id = ?", (new_id, doc_id))
            db.execute("UPDATE doc_meta SET doc_id = ? WHERE doc_id = ?", (new_id, doc_id))
            db.execute("UPDATE doc_access SET doc_id = ? WHERE doc_id = ?", (new_id, doc_id))
            db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            taken.add(new_id)
            moved += 1
        db.execute("INSERT OR REPLACE INTO manifest(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    if moved:
        log.warning("index migrated to sources: %d document ids rewritten (see index/README.md)", moved)
    return moved


def _schema_version(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM manifest WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1


# Every documents column but id, in table order (copying a row under a new id).
DOCUMENT_COLUMNS = (
    "title, text, metadata, source, content_hash, chunker, n_chunks, created_at, updated_at, page_starts, path"
)


# -- doc_meta: metadata filters -------------------------------------------------------------------


def ensure_doc_meta(db: sqlite3.Connection) -> None:
    """Indexes made before ``doc_meta`` existed get it filled from their documents, once (the
    manifest's ``doc_meta`` key records it, in the same transaction)."""
    if db.execute("SELECT 1 FROM manifest WHERE key = 'doc_meta'").fetchone():
        return
    with Transaction(db):
        if not db.execute("SELECT 1 FROM manifest WHERE key = 'doc_meta'").fetchone():
            refill_doc_meta(db)


def refill_doc_meta(db: sqlite3.Connection) -> None:
    """Inside a write transaction: ``doc_meta`` from every document's metadata."""
    db.execute("DELETE FROM doc_meta")
    db.execute(DOC_META_ALL)
    db.execute("INSERT OR REPLACE INTO manifest(key, value) VALUES ('doc_meta', '1')")
    db.execute("DELETE FROM doc_access")
    db.execute(DOC_ACCESS_ALL)


def write_doc_meta(db: sqlite3.Connection, doc_id: str) -> None:
    """Inside a write transaction, after the document's row: its ``doc_meta`` and ``doc_access`` rows."""
    db.execute("DELETE FROM doc_meta WHERE doc_id = ?", (doc_id,))
    db.execute(DOC_META_OF, (doc_id,))
    db.execute("DELETE FROM doc_access WHERE doc_id = ?", (doc_id,))
    db.execute(DOC_ACCESS_OF, (doc_id, doc_id))


def ensure_doc_access(db: sqlite3.Connection) -> None:
    """Indexes made before access lists get ``doc_access`` filled from their documents' metadata,
    once (the manifest's ``doc_access`` key records it, in the same transaction): they open
    without a rebuild, every document public unless its metadata already had an ``access`` list."""
    if db.execute("SELECT 1 FROM manifest WHERE key = 'doc_access'").fetchone():
        return
    with Transaction(db):
        if not db.execute("SELECT 1 FROM manifest WHERE key = 'doc_access'").fetchone():
            db.execute("DELETE FROM doc_access")
            db.execute(DOC_ACCESS_ALL)
            db.execute("INSERT OR REPLACE INTO manifest(key, value) VALUES ('doc_access', '1')")


def access_sql(identities: tuple[str, ...], column: str) -> tuple[str, list[Any]]:
    """A condition that ``column`` (a document id) is visible to ``identities``: a public document
    ('*'), or one whose access list names one of them."""
    entries = [PUBLIC_ENTRY, *identities]
    marks = ",".join("?" * len(entries))
    return f"{column} IN (SELECT doc_id FROM doc_access WHERE entry IN ({marks}))", entries


def doc_meta_counts(db: sqlite3.Connection) -> tuple[int, int]:
    """Rows in ``doc_meta``, and how many there should be."""
    rows, want = db.execute(
        f"SELECT (SELECT COUNT(*) FROM doc_meta), (SELECT COUNT(*) FROM ({DOC_META_VALUES}))"
    ).fetchone()
    return int(rows), int(want)


def filter_chunk_ids(db: sqlite3.Connection, filters: Filters) -> np.ndarray:
    """The chunk ids of the documents matching every filter (metadata values, or doc ids)."""
    pairs = [(key, int(value) if isinstance(value, bool) else value) for key, value in filters.match]
    params: list[Any] = []
    if filters.access is not None and not pairs:
        # The visible documents by index (doc_access_entry), then their chunks by index: 1% of
        # 1M chunks visible is a few milliseconds, as for a metadata value.
        entries = [PUBLIC_ENTRY, *filters.access]
        sql = (
            "SELECT c.id FROM (SELECT DISTINCT doc_id FROM doc_access"
            f" WHERE entry IN ({','.join('?' * len(entries))})) m CROSS JOIN chunks c ON c.doc_id = m.doc_id WHERE 1"
        )
        params += entries
        column = "m.doc_id"
    elif pairs:
        # The first value's documents by index (doc_meta_kv), narrowed by the others, then
        # their chunks by index (CROSS JOIN fixes that order): 1% of 1M chunks in milliseconds,
        # where json_extract over every document took 250 ms.
        (key, value), rest = pairs[0], pairs[1:]
        sql = "SELECT c.id FROM doc_meta m CROSS JOIN chunks c ON c.doc_id = m.doc_id"
        sql += " WHERE m.key = ? AND m.value = ?"
        params += [key, value]
        for key, value in rest:
            sql += " AND m.doc_id IN (SELECT doc_id FROM doc_meta WHERE key = ? AND value = ?)"
            params += [key, value]
        column = "m.doc_id"
        if filters.access is not None:
            cond, more = access_sql(filters.access, "m.doc_id")
            sql += f" AND {cond}"
            params += more
    else:
        sql, column = "SELECT c.id FROM chunks c WHERE 1", "c.doc_id"
    if filters.doc_ids is not None:
        sql += f" AND {column} IN ({','.join('?' * len(filters.doc_ids))})"
        params += filters.doc_ids
    return np.asarray([r[0] for r in db.execute(sql, params)], dtype=np.int64)


# -- the lexical side's tables --------------------------------------------------------------------

# The lexical side's row of every chunk (id, title + heading, body, its document's access entries
# as a JSON array), for (re)building it; ``LEXICAL_ROWS_OF``: one document's.
LEXICAL_ROWS = (
    "SELECT c.id, d.title || ' ' || COALESCE(c.heading, ''), substr(d.text, c.start + 1, c.\"end\" - c.start),"
    " (SELECT json_group_array(a.entry) FROM doc_access a WHERE a.doc_id = c.doc_id)"
    " FROM chunks c JOIN documents d ON d.id = c.doc_id"
)
LEXICAL_ROWS_OF = LEXICAL_ROWS + " WHERE c.doc_id = ?"


def lexical_rows(db: sqlite3.Connection, doc_id: str | None = None) -> Iterator[tuple[int, str, str, list[str]]]:
    """The lexical side's rows (``LEXICAL_ROWS``) of every chunk, or of one document's."""
    cursor = db.execute(LEXICAL_ROWS_OF, (doc_id,)) if doc_id is not None else db.execute(LEXICAL_ROWS)
    for chunk_id, title, body, access in cursor:
        yield chunk_id, title, body, json.loads(access)


def access_entries(db: sqlite3.Connection, doc_id: str) -> list[str]:
    """A document's ``doc_access`` entries ('*' when public)."""
    return [r[0] for r in db.execute("SELECT entry FROM doc_access WHERE doc_id = ?", (doc_id,))]


def has_fts(db: sqlite3.Connection) -> bool:
    """Whether the database still has the SQLite FTS5 table of the lexical side before tantivy."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchone() is not None


def drop_fts(db: sqlite3.Connection) -> None:
    """Inside a write transaction: drop the FTS5 table and its manifest key (tantivy replaced them)."""
    db.execute("DROP TABLE IF EXISTS chunks_fts")
    db.execute("DELETE FROM manifest WHERE key = 'lexical_tokenizer'")
