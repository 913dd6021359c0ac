"""Documents and chunks as SQLite rows: the SQL of the embedded store's reads and writes.

Every function runs on a connection the store hands it: a pooled read connection inside a read
transaction, or the write connection inside a ``Transaction``. A chunk's text is never stored:
it is read as ``substr(documents.text, start + 1, end - start)``, so it cannot drift from its source.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.access import ACCESS_FIELD
from qa.store.base import FILE_COLUMNS, INFO_COLUMNS, DocumentInfo, FileRecord, Write, document_info, passage_from_row
from qa.store.embedded.schema import access_entries, access_sql, write_doc_meta
from qa.types import Chunk, Hit, Passage, content_hash

# Hashes per SQL lookup: below SQLite's limit of bound parameters.
LOOKUP_BATCH = 500

# A chunk's row for the lexical index: id, title + heading, text, its document's access entries.
LexicalRow = tuple[int, str, str, list[str]]


def write_document(db: sqlite3.Connection, w: Write, now: float) -> tuple[list[int], list[int], list[LexicalRow]]:
    """Inside a write transaction: replace the document of ``w`` with its chunks and vectors.

    Returns the chunk ids removed, the chunk ids added (in chunk order) and the added chunks'
    lexical rows."""
    removed = [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (w.doc.id,))]
    created = db.execute("SELECT created_at FROM documents WHERE id = ?", (w.doc.id,)).fetchone()
    db.execute("DELETE FROM chunks WHERE doc_id = ?", (w.doc.id,))
    db.execute(
        "INSERT OR REPLACE INTO documents(id, title, text, metadata, source, content_hash, chunker,"
        " n_chunks, created_at, updated_at, page_starts, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            w.doc.id,
            w.doc.title,
            w.doc.text,
            json.dumps(w.doc.metadata, ensure_ascii=False, sort_keys=True),
            w.doc.source,
            w.doc.content_hash,
            w.chunker,
            len(w.chunks),
            created[0] if created else now,
            now,
            json.dumps(list(w.doc.page_starts)) if w.doc.page_starts else None,
            w.doc.path,
        ),
    )
    write_doc_meta(db, w.doc.id)
    access = access_entries(db, w.doc.id)
    vecs = np.ascontiguousarray(w.vectors, dtype=np.float32)
    hashes: list[str | None] = list(w.text_hashes) if w.text_hashes else [None] * len(w.chunks)
    ids: list[int] = []
    lexical_rows: list[LexicalRow] = []
    for c, v, h in zip(w.chunks, vecs, hashes, strict=True):
        cur = db.execute(
            'INSERT INTO chunks(doc_id, ordinal, start, "end", heading, vector, text_hash)'
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (w.doc.id, c.ordinal, c.start, c.end, c.heading, v.tobytes(), h),
        )
        chunk_id = int(cur.lastrowid or 0)
        ids.append(chunk_id)
        lexical_rows.append((chunk_id, f"{w.doc.title} {c.heading or ''}", c.text, access))
    return removed, ids, lexical_rows


def _stale_of(db: sqlite3.Connection, f: FileRecord) -> list[str]:
    """Documents of ``f``'s source and path that it no longer gives."""
    found = db.execute("SELECT id FROM documents WHERE source = ? AND path = ?", (f.source, f.path))
    keep = set(f.doc_ids)
    return [r[0] for r in found if r[0] not in keep]


def files_drop_documents(db: sqlite3.Connection, files: Sequence[FileRecord]) -> bool:
    """Whether recording ``files`` removes documents (a file that gives fewer than before)."""
    return any(_stale_of(db, f) for f in files)


def record_files(db: sqlite3.Connection, files: Sequence[FileRecord]) -> list[int]:
    """Inside a write transaction: record ``files`` and remove the documents of their source and
    path that they no longer give; the chunk ids removed."""
    stale = [doc_id for f in files for doc_id in _stale_of(db, f)]
    removed = delete_documents(db, stale, None, ())[1] if stale else []
    # A record vouches for its documents: one whose documents are not all there (deleted by
    # another process since the sync read the record) is not written, so the file is read again.
    files = [f for f in files if _all_there(db, f.doc_ids)]
    db.executemany(
        f"INSERT OR REPLACE INTO files({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (f.source, f.path, f.size, f.mtime_ns, f.ctime_ns, f.sha256, f.fingerprint, json.dumps(list(f.doc_ids)))
            for f in files
        ],
    )
    return removed


def _all_there(db: sqlite3.Connection, doc_ids: Sequence[str]) -> bool:
    return all(db.execute("SELECT 1 FROM documents WHERE id = ?", (i,)).fetchone() for i in doc_ids)


def delete_documents(
    db: sqlite3.Connection, doc_ids: Sequence[str], source: str | None, paths: Sequence[str]
) -> tuple[list[str], list[int]]:
    """Inside a write transaction: delete documents ``doc_ids`` and those of ``source`` at
    ``paths``, and the records of the files they came from (a sync reads those again). Returns
    the ids deleted and their chunk ids."""
    ids = list(dict.fromkeys(doc_ids))
    if source is not None:
        for path in paths:
            ids += [r[0] for r in db.execute("SELECT id FROM documents WHERE source = ? AND path = ?", (source, path))]
            db.execute("DELETE FROM files WHERE source = ? AND path = ?", (source, path))
    deleted: list[str] = []
    chunk_ids: list[int] = []
    for doc_id in dict.fromkeys(ids):
        row = db.execute("SELECT source, path FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            continue
        chunk_ids += [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        db.execute("DELETE FROM files WHERE source = ? AND path = ?", row)
        deleted.append(doc_id)
    return deleted, chunk_ids


def file_records(db: sqlite3.Connection, source: str) -> dict[str, FileRecord]:
    rows = db.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE source = ?", (source,))
    return {r[1]: FileRecord.of_row(r, json.loads(r[7])) for r in rows}


def _info(row: tuple[Any, ...]) -> DocumentInfo:
    return document_info(row, json.loads(row[2]), json.loads(row[10]) if row[10] else None)


def get_info(db: sqlite3.Connection, doc_id: str) -> DocumentInfo | None:
    row = db.execute(f"SELECT {INFO_COLUMNS} FROM documents WHERE id = ?", (doc_id,)).fetchone()
    return _info(row) if row else None


def list_infos(
    db: sqlite3.Connection, offset: int, limit: int, access: tuple[str, ...] | None = None
) -> tuple[list[DocumentInfo], int]:
    """A page of documents in id order and how many there are; with ``access`` (a caller's
    identities), only the documents visible to them, counted and listed."""
    where, params = ("", []) if access is None else access_sql(access, "id")
    where = f" WHERE {where}" if where else ""
    total = db.execute(f"SELECT COUNT(*) FROM documents{where}", params).fetchone()[0]
    rows = db.execute(
        f"SELECT {INFO_COLUMNS} FROM documents{where} ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset]
    ).fetchall()
    return [_info(r) for r in rows], total


def set_access(db: sqlite3.Connection, doc_id: str, access: list[str] | None) -> bool:
    """Inside a write transaction: replace a document's access list (None: remove it, public),
    in its metadata, content hash and ``doc_access``; its chunks and vectors are untouched.
    False when there is no such document."""
    row = db.execute("SELECT title, text, metadata, page_starts FROM documents WHERE id = ?", (doc_id,)).fetchone()
    if row is None:
        return False
    metadata = json.loads(row[2])
    metadata.pop(ACCESS_FIELD, None)
    if access is not None:
        metadata[ACCESS_FIELD] = access
    digest = content_hash(row[0], row[1], metadata, json.loads(row[3]) if row[3] else ())
    db.execute(
        "UPDATE documents SET metadata = ?, content_hash = ?, updated_at = ? WHERE id = ?",
        (json.dumps(metadata, ensure_ascii=False, sort_keys=True), digest, time.time(), doc_id),
    )
    write_doc_meta(db, doc_id)
    return True


def passages(db: sqlite3.Connection, hits: list[Hit]) -> list[Passage]:
    """The passages of (chunk id, score) pairs, in their order, each with its score."""
    if not hits:
        return []
    marks = ",".join("?" * len(hits))
    rows = db.execute(
        f'SELECT c.id, c.doc_id, d.title, substr(d.text, c.start + 1, c."end" - c.start), c.start, c."end",'
        f" c.ordinal, c.heading, d.metadata FROM chunks c JOIN documents d ON d.id = c.doc_id"
        f" WHERE c.id IN ({marks})",
        [h[0] for h in hits],
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    out = []
    for chunk_id, score in hits:
        r = by_id.get(chunk_id)
        if r is None:  # cannot happen while FAISS mirrors SQLite; never cite a ghost
            continue
        out.append(passage_from_row(r, score, json.loads(r[8])))
    return out


def page_starts(db: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, tuple[int, ...]]:
    """The page offsets of the documents of these chunks, for documents that have pages."""
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = db.execute(
        f"SELECT c.id, d.page_starts FROM chunks c JOIN documents d ON d.id = c.doc_id"
        f" WHERE c.id IN ({marks}) AND d.page_starts IS NOT NULL",
        chunk_ids,
    ).fetchall()
    decoded: dict[str, tuple[int, ...]] = {}  # one document's offsets decoded once
    return {r[0]: decoded.setdefault(r[1], tuple(json.loads(r[1]))) for r in rows}


def vectors(db: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, np.ndarray]:
    """Stored vectors of the given chunks."""
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = db.execute(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", chunk_ids).fetchall()
    return {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in rows}


def vectors_by_hash(db: sqlite3.Connection, hashes: list[str]) -> dict[str, np.ndarray]:
    """Stored vectors of chunks whose embedding text has one of ``hashes`` (the embedding cache)."""
    out: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(hashes))
    for i in range(0, len(unique), LOOKUP_BATCH):
        part = unique[i : i + LOOKUP_BATCH]
        marks = ",".join("?" * len(part))
        for h, vec in db.execute(f"SELECT text_hash, vector FROM chunks WHERE text_hash IN ({marks})", part):
            out.setdefault(h, np.frombuffer(vec, dtype=np.float32))
    return out


def document_chunks(db: sqlite3.Connection, doc_id: str, dim: int) -> tuple[list[Chunk], np.ndarray]:
    """A document's chunks in order with their stored vectors."""
    rows = db.execute(
        'SELECT c.ordinal, c.start, c."end", c.heading, c.vector,'
        ' substr(d.text, c.start + 1, c."end" - c.start)'
        " FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.doc_id = ? ORDER BY c.ordinal",
        (doc_id,),
    ).fetchall()
    chunks = [Chunk(doc_id, r[0], r[1], r[2], r[5], r[3]) for r in rows]
    vecs = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return chunks, vecs
