"""Recovering a damaged ``qa.sqlite``: every readable document with all its chunks is copied into
a new file, the damaged one is kept beside it, and the derived files are removed so the next open
rebuilds them from the new one.

SQLite reads a table as a b-tree keyed by rowid; a damaged page fails every read that passes
through it, but a read that starts at a rowid past it descends another path. So each table is
read in rowid order, and where a read fails, the next readable rowid is found by probing further
and further ahead, then back by bisection (``_readable_rows``): the rows on the damaged pages are
lost, the others are recovered. A document is kept only with all its ``n_chunks`` chunks (chunk
rows carry the vectors; without them the document must be re-indexed from its source). The ids
of lost documents are taken from what else still names them: the documents' primary-key index,
the chunks' ``doc_id`` index and the metadata table.

Run it with the index closed everywhere: the file is replaced (`qa repair` does it first).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.errors import IndexCorrupt
from qa.store.embedded.lexical import LEXICAL_META
from qa.store.embedded.schema import DB_FILE, SCHEMA, is_corrupt, quick_check, refill_doc_meta
from qa.store.embedded.vectors import FAISS_FILE, FAISS_META

log = logging.getLogger(__name__)

DOC_COLUMNS = "id, title, text, metadata, source, content_hash, chunker, n_chunks, created_at, updated_at"
CHUNK_COLUMNS = 'id, doc_id, ordinal, start, "end", heading, vector, text_hash'
MAX_ROWID = 2**63 - 1
BATCH = 256  # rows per read


def check(db_path: Path) -> list[str]:
    """SQLite's quick check of the file at ``db_path``: what is wrong, empty when sound."""
    try:
        db = sqlite3.connect(db_path, timeout=30)
        try:
            return quick_check(db)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        return [str(exc)]


def _first_rowid(db: sqlite3.Connection, table: str, at_least: int) -> tuple[bool, int | None]:
    """(readable, the first rowid >= ``at_least`` or None past the last row); not readable when
    the read meets damage."""
    try:
        row = db.execute(f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (at_least,)).fetchone()
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        return False, None
    return True, None if row is None else int(row[0])


def _next_readable(db: sqlite3.Connection, table: str, after: int) -> int | None:
    """The first rowid past ``after`` that a read can reach, past the damage it met."""
    step, failed = 1, after
    while after + step <= MAX_ROWID:
        ok, best = _first_rowid(db, table, after + step)
        if not ok:
            failed, step = after + step, step * 2
            continue
        # Bisect between the last probe that failed and this one: rows just past the damage count.
        lo, hi = failed + 1, after + step
        while lo < hi:
            mid = (lo + hi) // 2
            ok, probe = _first_rowid(db, table, mid)
            if ok:
                hi, best = mid, probe
            else:
                lo = mid + 1
        return best
    return None


def _readable_rows(db: sqlite3.Connection, table: str, columns: str) -> Iterator[tuple[Any, ...]]:
    """Every row of ``table`` that can be read, in rowid order, skipping the damaged pages.

    Rows come in batches with a LIMIT (the cursor never steps past what it returns: sqlite3 reads
    one row ahead, and that row could be the damaged one); a batch that meets damage is read
    again one row at a time up to it, then reading goes on past it."""
    after = -MAX_ROWID - 1
    select = f"SELECT rowid, {columns} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
    while True:
        for limit in (BATCH, 1):
            try:
                rows = db.execute(select, (after, limit)).fetchall()
            except sqlite3.DatabaseError as exc:
                if not is_corrupt(exc):
                    raise
                continue
            if not rows:
                return
            for row in rows:
                yield row[1:]
            after = int(rows[-1][0])
            break
        else:  # the very next row is behind damage
            nxt = _next_readable(db, table, after)
            if nxt is None:
                return
            row = _row(db, table, columns, nxt)
            if row is not None:
                yield row
            after = nxt


def _row(db: sqlite3.Connection, table: str, columns: str, rowid: int) -> tuple[Any, ...] | None:
    """One row by rowid, or None when its own cells (e.g. its overflow pages) are damaged."""
    try:
        row = db.execute(f"SELECT {columns} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        return None
    return tuple(row) if row is not None else None


def _named_doc_ids(db: sqlite3.Connection) -> set[str]:
    """Document ids that the indexes and tables other than ``documents``' rows still name."""
    ids: set[str] = set()
    for sql in (
        "SELECT id FROM documents INDEXED BY sqlite_autoindex_documents_1",
        "SELECT DISTINCT doc_id FROM chunks INDEXED BY chunks_doc",
        "SELECT DISTINCT doc_id FROM doc_meta",
    ):
        try:
            for (doc_id,) in db.execute(sql):
                ids.add(doc_id)
        except sqlite3.DatabaseError as exc:  # damaged too: the ids it still gave are kept
            if not is_corrupt(exc) and not isinstance(exc, sqlite3.OperationalError):
                raise
    return ids


def _optional(db: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    try:
        return db.execute(sql).fetchall()
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        return []


def salvage(index_dir: Path) -> dict[str, Any]:
    """Copy every readable document with all its chunks out of the damaged ``qa.sqlite`` in
    ``index_dir`` into a new one; keep the damaged file as ``qa.sqlite.damaged-<time>``; remove the
    FAISS and lexical records so the next open rebuilds them from the new file.

    Returns:
        ``damaged`` (what the check found), ``backup`` (path of the kept file), ``documents`` and
        ``chunks`` recovered, ``lost`` (ids of documents not recovered, as far as anything still
        names them: re-index them from their sources).

    Raises:
        IndexCorrupt: nothing is readable (not even the manifest, or no document while the file
            names some); the file is left as it was.
    """
    db_path = index_dir / DB_FILE
    damaged = check(db_path)
    old = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    tmp = index_dir / f"{DB_FILE}.recovering.{os.getpid()}.tmp"
    try:
        manifest = _optional(old, "SELECT key, value FROM manifest")
        if not any(key == "dim" for key, _ in manifest):
            raise IndexCorrupt(
                f"index database {db_path} is damaged beyond recovery: its manifest is unreadable "
                f"({'; '.join(damaged[:2]) or 'no manifest'}); restore it from a backup or re-index"
            )
        named = _named_doc_ids(old)
        tmp.unlink(missing_ok=True)
        new = sqlite3.connect(tmp, isolation_level=None)
        try:
            new.executescript(SCHEMA)
            new.execute("BEGIN")
            values = dict(manifest)
            values["generation"] = str(int(values.get("generation", "0")) + 1)
            new.executemany("INSERT INTO manifest(key, value) VALUES (?, ?)", values.items())
            copied: set[str] = set()
            # An index from before page offsets has no page_starts column: NULL, as a migration gives.
            has_pages = any(r[1] == "page_starts" for r in _optional(old, "PRAGMA table_info(documents)"))
            read = f"{DOC_COLUMNS}, {'page_starts' if has_pages else 'NULL'}"
            for row in _readable_rows(old, "documents", read):
                new.execute(
                    f"INSERT OR IGNORE INTO documents({DOC_COLUMNS}, page_starts) VALUES ({','.join('?' * 11)})", row
                )
                copied.add(row[0])
            for row in _readable_rows(old, "chunks", CHUNK_COLUMNS):
                if row[1] in copied:
                    new.execute(f"INSERT OR IGNORE INTO chunks({CHUNK_COLUMNS}) VALUES ({','.join('?' * 8)})", row)
            # A document missing any chunk is not kept: re-embedding it needs its source anyway.
            new.execute(
                "DELETE FROM documents WHERE n_chunks != (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = documents.id)"
            )
            new.execute("DELETE FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)")
            refill_doc_meta(new)
            # Chunk ids are FAISS ids and are never reused: the sequence goes on from the old one.
            seq = _optional(old, "SELECT seq FROM sqlite_sequence WHERE name = 'chunks'")
            top = max(
                int(seq[0][0]) if seq else 0, int(new.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0])
            )
            new.execute("DELETE FROM sqlite_sequence WHERE name = 'chunks'")
            new.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('chunks', ?)", (top,))
            new.execute("COMMIT")
            kept = {r[0] for r in new.execute("SELECT id FROM documents")}
            chunks = int(new.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
            new.execute("PRAGMA journal_mode=WAL")
        finally:
            new.close()
    except BaseException:
        old.close()
        tmp.unlink(missing_ok=True)
        raise
    old.close()
    lost = sorted((named | copied) - kept)
    if not kept and lost:
        tmp.unlink(missing_ok=True)
        raise IndexCorrupt(
            f"index database {db_path} is damaged ({'; '.join(damaged[:2])}) and none of its {len(lost)} "
            "documents is readable whole; restore it from a backup or re-index"
        )
    backup = index_dir / f"{DB_FILE}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
    os.replace(db_path, backup)
    for suffix in ("-wal", "-shm"):  # never let the damaged file's log replay onto the new one
        side = index_dir / f"{DB_FILE}{suffix}"
        if side.exists():
            os.replace(side, Path(f"{backup}{suffix}"))
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, db_path)
    for derived in (FAISS_FILE, FAISS_META, LEXICAL_META):
        (index_dir / derived).unlink(missing_ok=True)
    log.warning(
        "recovered %d documents (%d chunks) from damaged %s into a new file; kept it as %s; %d documents lost",
        len(kept),
        chunks,
        db_path,
        backup.name,
        len(lost),
    )
    return {
        "damaged": damaged,
        "backup": str(backup),
        "documents": len(kept),
        "chunks": chunks,
        "lost": lost,
    }
