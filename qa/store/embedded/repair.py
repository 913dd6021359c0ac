"""Checking and repairing an embedded index: SQLite is the truth, the rest is rebuilt from it.

``verify`` names what is wrong: SQLite's own integrity check, chunks without a document,
half-written documents, a ``doc_meta`` table out of step, and FAISS or lexical entries that do not
match the chunk rows. ``repair`` rebuilds the derived parts (FAISS file, lexical index,
``doc_meta``) and drops orphan chunks; a half-written document needs its source (re-index it),
and a damaged SQLite file is copied row by row into a new one by ``salvage.py`` first (`qa repair`).

Both run under the store's write lock, on its write connection, with the FAISS index and the
lexical index already brought to SQLite's generation.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from qa.errors import IndexCorrupt
from qa.store.embedded.lexical import LEXICAL_DIR, LexicalIndex, damaged_files
from qa.store.embedded.schema import (
    Transaction,
    bump_generation,
    doc_meta_counts,
    generation,
    is_corrupt,
    refill_doc_meta,
)
from qa.store.embedded.vectors import FAISS_FILE, VectorIndex


def verify(db: sqlite3.Connection, vectors: VectorIndex, lexical: LexicalIndex) -> list[str]:
    """Problems found in the index; empty when sound."""
    problems: list[str] = []
    try:
        result = [r[0] for r in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise
        result = [str(exc)]
    if result != ["ok"]:
        problems.append(f"SQLite integrity check failed: {'; '.join(result[:5])}")
        # The other checks read every row: they would stop at the same damage.
        return problems
    orphans = db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)").fetchone()[0]
    if orphans:
        problems.append(f"{orphans} chunks have no document")
    half = db.execute(
        "SELECT d.id, d.n_chunks, COUNT(c.id) FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id"
        " GROUP BY d.id HAVING COUNT(c.id) != d.n_chunks LIMIT 5"
    ).fetchall()
    problems += [f"document {i!r} has {n} of its {want} chunks; re-index it" for i, want, n in half]
    meta_rows, meta_want = doc_meta_counts(db)
    if meta_rows != meta_want:
        problems.append(f"metadata filter table has {meta_rows} rows for {meta_want} metadata values")
    chunk_ids = {r[0] for r in db.execute("SELECT id FROM chunks")}
    faiss_ids = vectors.ids()
    if faiss_ids != chunk_ids:
        problems.append(
            f"vector index has {len(faiss_ids - chunk_ids)} ids without a chunk row and misses "
            f"{len(chunk_ids - faiss_ids)} chunks"
        )
    damaged = damaged_files(lexical.dir)
    if damaged:
        problems.append(f"lexical index files are damaged: {'; '.join(damaged[:3])}")
        lexical.damaged = True  # the store rebuilds it before its next read
        return problems  # reading them may crash: the rest of the lexical checks wait for the rebuild
    try:
        lexical.reload()
        lexical_ids = lexical.ids()
    except (IndexCorrupt, ValueError, OSError) as exc:
        problems.append(f"lexical index is unreadable: {exc}")
        return problems
    if lexical_ids != chunk_ids:
        problems.append(
            f"lexical index has {len(lexical_ids - chunk_ids)} ids without a chunk row and misses "
            f"{len(chunk_ids - lexical_ids)} chunks"
        )
    # Who sees what in the lexical index (its ``access`` field), entry by entry, against doc_access.
    want = db.execute(
        "SELECT a.entry, COUNT(*) FROM doc_access a JOIN chunks c ON c.doc_id = a.doc_id GROUP BY a.entry"
    ).fetchall()
    try:
        wrong = [(entry, n, lexical.access_count(entry)) for entry, n in want]
    except (IndexCorrupt, ValueError, OSError) as exc:
        problems.append(f"lexical index is unreadable: {exc}")
        return problems
    wrong = [w for w in wrong if w[1] != w[2]]
    if wrong:
        entry, n, found = wrong[0]
        problems.append(
            f"lexical index's access entries differ from doc_access for {len(wrong)} entries "
            f"(e.g. {entry!r}: {found} chunks, SQLite has {n})"
        )
    recorded = (lexical.recorded() or {}).get("generation")
    if recorded != vectors.generation:
        problems.append(f"lexical index records generation {recorded}, the database is at {vectors.generation}")
    return problems


def repair(
    path: Path, db: sqlite3.Connection, vectors: VectorIndex, lexical: LexicalIndex, known: list[str]
) -> dict[str, Any]:
    """Rebuild the derived parts from SQLite, drop chunks whose document is gone, and report what
    was wrong before (``known`` problems, e.g. a FAISS file found damaged at open, and what
    ``verify`` finds: ``found``) and what is still wrong after (``remaining``)."""
    found = known + verify(db, vectors, lexical)
    with Transaction(db):
        db.execute("DELETE FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)")
        refill_doc_meta(db)
        bump_generation(db)
        # One tantivy commit replaces the whole index: readers never find it missing.
        lexical.rebuild_from(db, generation(db))
    vectors.rebuild()
    vectors.problem = lexical.problem = None
    remaining = verify(db, vectors, lexical)
    docs, chunks = db.execute("SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks)").fetchone()
    return {
        "path": str(path),
        "found": found,
        "rebuilt": [FAISS_FILE, f"lexical index ({LEXICAL_DIR}/)"],
        "remaining": remaining,
        "documents": docs,
        "chunks": chunks,
    }
