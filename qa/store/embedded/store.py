"""The embedded store: SQLite for documents, chunks and vectors; FAISS for search; tantivy for BM25.

On disk (``index/<name>/``, see index/README.md):

- ``qa.sqlite``: the source of truth (``schema.py``). Every write is one SQLite transaction (WAL,
  ``synchronous=FULL``), so a killed process leaves the previous or the new state.
  Each write bumps ``manifest.generation``.
- ``vectors.faiss`` + ``vectors.json``: the FAISS mirror of the vectors (``vectors.py``), derived
  data, rebuilt from SQLite when missing or unreadable and caught up when of an older generation.
- ``lexical/`` + ``lexical.json``: the tantivy BM25 index of chunk text and title/heading
  (``lexical.py``), written inside each SQLite write transaction and committed just before it;
  the generation it holds is recorded first, so a process killed between the two commits leaves
  a record ahead of SQLite, and the next writer or opener rebuilds it from SQLite.

This module is the facade that ties them together under one reader/writer lock (``locking.py``);
``repair.py`` checks and rebuilds the derived parts, ``salvage.py`` copies what is readable out of
a damaged ``qa.sqlite``. SQLite's own check (``PRAGMA quick_check``) runs in a background thread
after open (0.4 s at 300k chunks, seconds at 1M: see index/README.md); a read that meets a damaged
page is an ``IndexCorrupt`` (HTTP 503) and, like the check, records the damage (``problems``):
``health.py``. ``stats.py`` counts what the index holds; ``disk_full.py`` says what a full disk
means for a write and for the FAISS file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.errors import IndexGone, InvalidInput
from qa.store.base import DocumentInfo, FileRecord, Write, remove_stale_temp_files
from qa.store.embedded import disk_full, rows, schema
from qa.store.embedded import repair as repair_
from qa.store.embedded import stats as stats_
from qa.store.embedded.allowed import AllowedIds
from qa.store.embedded.faiss_index import IndexOptions
from qa.store.embedded.health import SqliteHealth
from qa.store.embedded.lexical import LexicalDamaged, LexicalIndex
from qa.store.embedded.locking import ReadConnections, ReadWriteLock
from qa.store.embedded.schema import DB_FILE, Transaction
from qa.store.embedded.vectors import Added, VectorIndex
from qa.store.filters import Filters, FilterSpec, parse_filters
from qa.types import Chunk, Hit, Passage

log = logging.getLogger(__name__)

# A read that finds another process's commit loads it and starts over, at most this many times.
SYNC_ATTEMPTS = 3


class EmbeddedStore:
    """FAISS + SQLite + tantivy in one directory. Thread-safe: reads run at the same time, each in
    a read transaction on a pooled connection of its own, while writes (and reloading the FAISS
    index after another process's commit) hold the store alone; see ``_reading``."""

    def __init__(
        self,
        path: Path,
        model: str,
        dim: int,
        extra: dict[str, Any] | None = None,
        lexical_stemmer: str = "auto",
        index_options: IndexOptions | None = None,
        check_sqlite: bool = True,
        language: str = "en",
        create: bool = True,
    ) -> None:
        """``create``: make the index if there is none; else it must exist (``IndexGone``), and
        nothing is made under ``path`` (a collection deleted by another process stays deleted)."""
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not (self.path / DB_FILE).is_file():
            raise schema.gone(self.path / DB_FILE)
        for tmp in remove_stale_temp_files(self.path):
            log.info("removed %s, left by a write that was killed or failed", tmp)
        self._lock = ReadWriteLock()
        # Read connections, one per read in progress (a write uses ``self.db``).
        self._reads = ReadConnections(self.path / DB_FILE)
        # Per thread: the connection of the read it is inside, and how deeply nested.
        self._local = threading.local()
        # One query at a time is searched here; FAISS's OpenMP threads only add overhead for a
        # single vector (measured 47 ms vs 16 ms p50 at 20k chunks on this 2-core machine). This
        # sets the opening thread's count; searches set it for each thread that searches.
        faiss.omp_set_num_threads(1)
        # Damage in qa.sqlite, found by the check after open (started below) or by a read.
        self.health = SqliteHealth(self.path)
        self.db = schema.connect(self.path / DB_FILE, create)
        # The file this store has open: another one at ``path`` (or none) means it was deleted.
        self.identity = schema.identity(self.path / DB_FILE)
        try:
            with self.health.damage_is_corrupt():
                self._open(model, dim, extra, lexical_stemmer, index_options, language, create)
        except BaseException:
            self.db.close()
            self._reads.close()
            raise
        self.health.start_check(check_sqlite)

    def _open(
        self,
        model: str,
        dim: int,
        extra: dict[str, Any] | None,
        lexical_stemmer: str,
        index_options: IndexOptions | None,
        language: str = "en",
        create: bool = True,
    ) -> None:
        self.manifest = schema.open_manifest(self.db, f"index {self.path}", model, dim, extra or {}, create)
        schema.ensure_doc_meta(self.db)
        schema.migrate_sources(self.db)
        schema.ensure_doc_access(self.db)
        self._chars = stats_.CharCount()
        self.allowed = AllowedIds()
        self.mirror = VectorIndex(self.path, self.db, self.manifest.dim, index_options or IndexOptions())
        self.mirror.load_or_rebuild()
        try:
            self.lexical = LexicalIndex(self.path, lexical_stemmer, language)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        self._ensure_lexical()

    # -- damage in qa.sqlite ----------------------------------------------------------------------

    @property
    def sqlite_problem(self) -> str | None:
        """What is wrong with qa.sqlite (damaged pages), found by the check after open or by a read."""
        return self.health.problem

    @property
    def sqlite_checked(self) -> threading.Event:
        """Set when the check after open has finished."""
        return self.health.checked

    def check_sqlite(self) -> list[str]:
        """SQLite's ``quick_check`` of qa.sqlite now, on a connection of its own: what is wrong,
        empty when sound. Damage found is recorded and logged like a read that met it."""
        return self.health.check()

    def problems(self) -> list[str]:
        """What is wrong with the index now that it serves around (for ``/healthz``): damage in
        qa.sqlite, and a lexical index waiting to be rebuilt. Empty when nothing is known wrong."""
        found = [self.health.problem] if self.health.problem else []
        if self.lexical.damaged:
            found.append(f"lexical index {self.lexical.dir} failed a read; it is rebuilt before the next one")
        return found

    @staticmethod
    def stored_dim(path: Path) -> int | None:
        """The vector dimension of an existing index at ``path``, or None if there is none yet."""
        return schema.stored_dim(Path(path) / DB_FILE)

    @staticmethod
    def stored_manifest(path: Path) -> dict[str, str] | None:
        """The manifest rows of an existing index at ``path``, or None if there is none yet."""
        return schema.stored_manifest(Path(path) / DB_FILE)

    # -- the FAISS mirror's state, for stats, tests and benchmarks --------------------------------

    @property
    def generation(self) -> int:
        """The SQLite generation the in-memory indexes reflect."""
        return self.mirror.generation

    @property
    def index(self) -> faiss.Index:
        return self.mirror.index

    @property
    def tombstones(self) -> set[int]:
        return self.mirror.tombstones

    @property
    def live_vectors(self) -> int:
        return self.mirror.live_vectors

    @property
    def faiss_problem(self) -> str | None:
        """What was wrong with the FAISS file when it was last found damaged and rebuilt."""
        return self.mirror.problem

    @property
    def options(self) -> IndexOptions:
        return self.mirror.options

    @options.setter
    def options(self, options: IndexOptions) -> None:
        self.mirror.options = options

    # -- deletion by another process --------------------------------------------------------------

    def deleted(self) -> bool:
        """Whether the index was deleted (or replaced) since this store opened it, by this process
        or another: ``qa.sqlite`` is no longer the file it has open. One stat."""
        return self.identity is None or schema.identity(self.path / DB_FILE) != self.identity

    def _still_here(self) -> None:
        """Before writing under ``path``: a deleted index is an ``IndexGone``, so a write (or a
        rebuild of the FAISS or lexical files) never makes files under the name again, nor in a
        new index made there since."""
        if self.deleted():
            raise IndexGone(
                f"index {self.path} was deleted (by this process or another) after it was opened; "
                "nothing of this request was written"
            )

    # -- concurrency ------------------------------------------------------------------------------

    def _sync(self) -> None:
        """Pick up writes made by another process (e.g. `qa index` while `qa serve` runs)."""
        if schema.generation(self.db) != self.mirror.generation or self.lexical.damaged:
            self._still_here()  # what follows may write the FAISS and lexical files
        if schema.generation(self.db) != self.mirror.generation:
            self.mirror.load_or_rebuild()
            # Another process committed: its lexical commit came first, so it is on disk.
            if not self.lexical.damaged:
                self.lexical.reload()
        if self.lexical.damaged:  # a read failed in tantivy's files: rebuild them from SQLite
            with Transaction(self.db):
                self.lexical.rebuild_from(self.db, schema.generation(self.db))

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Hold the index still: every read inside, in this thread, sees the same committed state
        as the FAISS index (this process's writes wait; another process's commits are picked up
        at the next snapshot). Other threads' reads run meanwhile."""
        with self._reading():
            yield

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The store alone: no read in progress; writes use ``self.db``. Re-entrant."""
        with self.health.damage_is_corrupt(), self._write_lock():
            yield

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0) and not self._lock.write_owned():
            # Waiting for every reader, this one included, would never end.
            raise RuntimeError("cannot write to the store inside a read or snapshot() of the same thread")
        self._lock.acquire_write()
        try:
            yield
        finally:
            self._lock.release_write()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """``_read_transaction``; a damaged page met inside is an ``IndexCorrupt`` (503)."""
        with self.health.damage_is_corrupt(), self._read_transaction() as conn:
            yield conn

    @contextmanager
    def _read_transaction(self) -> Iterator[sqlite3.Connection]:
        """A shared hold on the store and a connection in a read transaction whose committed state
        is the FAISS index's generation: other threads read at the same time; writes wait.

        Another process's commit found here is loaded under the write lock first (reloading the
        FAISS index must not race searches), then the read starts over. Nested reads in the same
        thread share the outer one's connection and state; a thread that writes reads ``self.db``."""
        local = self._local
        if self._lock.write_owned():
            yield self.db
            return
        if getattr(local, "depth", 0):
            local.depth += 1
            try:
                yield local.conn
            finally:
                local.depth -= 1
            return
        conn = self._reads.checkout()
        try:
            for attempt in range(SYNC_ATTEMPTS):
                self._lock.acquire_read()
                try:
                    conn.execute("BEGIN")
                    gen = schema.generation(conn)
                except BaseException:
                    self._end_read(conn)
                    raise
                # After the last attempt (another process commits faster than we load), read on: a
                # passage of a chunk deleted since is skipped, a chunk added since is not found.
                if (gen == self.mirror.generation and not self.lexical.damaged) or attempt == SYNC_ATTEMPTS - 1:
                    break
                self._end_read(conn)
                with self._writing():
                    self._sync()
            local.conn, local.depth = conn, 1
            try:
                yield conn
            finally:
                local.conn, local.depth = None, 0
                self._end_read(conn)
        finally:
            self._reads.checkin(conn)

    def _end_read(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
        finally:
            self._lock.release_read()

    # -- the lexical side in step with SQLite -----------------------------------------------------

    def _ensure_lexical(self) -> None:
        """Bring the lexical index to SQLite's state: rebuild it when it is missing, of another
        spec, or not of SQLite's generation (a process died between its commit and SQLite's).
        Indexes made before it existed also drop their SQLite FTS5 table here."""
        with self._writing():
            if self._lexical_ok():
                return
            self._still_here()
            with Transaction(self.db):  # SQLite's write lock: no other process's write is half done
                if not self._lexical_ok():
                    self.lexical.rebuild_from(self.db, schema.generation(self.db))
                schema.drop_fts(self.db)

    def _lexical_ok(self) -> bool:
        return not schema.has_fts(self.db) and self.lexical.in_step_with(self.db)

    # -- writes -----------------------------------------------------------------------------------

    def write(self, writes: list[Write], files: Sequence[FileRecord] = ()) -> None:
        if not writes and not files:
            return
        for w in writes:
            if w.vectors.shape != (len(w.chunks), self.manifest.dim):
                raise InvalidInput(f"vectors shape {w.vectors.shape} does not match {len(w.chunks)} chunks")
        with self._writing(), disk_full.nothing_written(self.path):
            self._still_here()
            self._sync()
            db = self.db
            if not writes and not rows.files_drop_documents(db, files):
                # Only what the files are now (touched, not changed): no document, chunk or
                # vector changes, so no new generation and nothing for FAISS or tantivy.
                with Transaction(db):
                    rows.record_files(db, files)
                return
            now = time.time()
            removed: list[int] = []
            added: Added = []
            lexical_rows: list[rows.LexicalRow] = []
            with Transaction(db):
                self.lexical.before_write(db)
                before = schema.bump_generation(db)
                for w in writes:
                    gone, ids, texts = rows.write_document(db, w, now)
                    removed += gone
                    lexical_rows += texts
                    if ids:
                        vecs = np.ascontiguousarray(w.vectors, dtype=np.float32)
                        added.append((np.asarray(ids, dtype=np.int64), vecs))
                removed += rows.record_files(db, files)
                # Last before SQLite's commit: see the module docstring.
                self.lexical.commit(before + 1, removed, lexical_rows)
            self.mirror.apply(before, removed, added)

    def delete(self, doc_id: str) -> bool:
        return bool(self._delete_where([doc_id], None, ()))

    def forget_files(self, source: str, paths: Sequence[str]) -> list[str]:
        return self._delete_where([], source, paths)

    def _delete_where(self, doc_ids: Sequence[str], source: str | None, paths: Sequence[str]) -> list[str]:
        """Delete documents ``doc_ids`` and those of ``source`` at ``paths`` (with the files'
        records) in one transaction; the ids deleted."""
        with self._writing(), disk_full.nothing_written(self.path):
            self._still_here()
            self._sync()
            with Transaction(self.db):
                before = self.lexical.before_write(self.db)
                deleted, ids = rows.delete_documents(self.db, doc_ids, source, paths)
                if not deleted and source is None:
                    # Nothing changed; the ROLLBACK-free commit below is empty.
                    return []
                if deleted:
                    schema.bump_generation(self.db)
                    self.lexical.commit(before + 1, ids, [])
            if deleted:
                self.mirror.apply(before, ids, [])
            return deleted

    def file_records(self, source: str) -> dict[str, FileRecord]:
        with self._reading() as db:
            return rows.file_records(db, source)

    def source_paths(self, source: str) -> set[str]:
        with self._reading() as db:
            found = db.execute("SELECT DISTINCT path FROM documents WHERE source = ? AND path IS NOT NULL", (source,))
            return {r[0] for r in found}

    def save(self) -> None:
        """Write the FAISS file if it changed. This is where the index changes type (the chunk
        count crossed ``QA_FAISS_HNSW_THRESHOLD``) or drops its tombstones: by a rebuild, once,
        here and not in the middle of a search. A full disk postpones it (logged), since the
        writes are committed already: their answer is a success."""
        with self._writing():
            self._still_here()
            disk_full.save_or_postpone(self.mirror, self.path)

    # -- reads ------------------------------------------------------------------------------------

    def get(self, doc_id: str) -> DocumentInfo | None:
        with self._reading() as db:
            return rows.get_info(db, doc_id)

    def get_text(self, doc_id: str) -> str | None:
        with self._reading() as db:
            row = db.execute("SELECT text FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def list_documents(
        self, offset: int = 0, limit: int = 50, access: tuple[str, ...] | None = None
    ) -> tuple[list[DocumentInfo], int]:
        with self._reading() as db:
            return rows.list_infos(db, offset, limit, access)

    def set_access(self, doc_id: str, access: list[str] | None) -> bool:
        """Replace a document's access list without re-embedding (None: public). A write of its
        own generation: the document's lexical rows are rewritten with the new entries (tantivy
        filters on them), committed just before SQLite like any write's, so a process killed
        between the two leaves a lexical record ahead of SQLite, and a rebuild follows."""
        with self._writing(), disk_full.nothing_written(self.path):
            self._still_here()
            self._sync()
            with Transaction(self.db):
                before = self.lexical.before_write(self.db)
                if not rows.set_access(self.db, doc_id, access):
                    return False
                schema.bump_generation(self.db)
                lexical_rows = list(schema.lexical_rows(self.db, doc_id))
                self.lexical.commit(before + 1, [r[0] for r in lexical_rows], lexical_rows)
            self.mirror.advance(before)
            return True

    def page_starts(self, chunk_ids: list[int]) -> dict[int, tuple[int, ...]]:
        """The page offsets of the documents of these chunks (those with pages), by chunk id."""
        if not chunk_ids:
            return {}
        with self._reading() as db:
            return rows.page_starts(db, chunk_ids)

    def search(self, vector: np.ndarray, k: int, filters: FilterSpec | None = None) -> list[Passage]:
        with self._reading() as db:
            return rows.passages(db, self.search_hits(vector, k, filters))

    def search_hits(self, vector: np.ndarray, k: int, filters: FilterSpec | None = None) -> list[Hit]:
        """``search``'s (chunk id, score) pairs, best first, without fetching the passages."""
        with self._reading() as db:
            if self.mirror.live_vectors == 0:
                return []
            allowed = None
            if filters:
                # Only live chunks match a filter, so tombstones are excluded too.
                allowed = self._allowed(db, parse_filters(filters))
                if allowed.size == 0:
                    return []
            return self.mirror.search(vector, k, allowed)

    def _allowed(self, db: sqlite3.Connection, filters: Filters) -> np.ndarray:
        """The chunk ids ``filters`` allow, cached per generation (``allowed.py``). Access alone:
        from the lexical index's ``access`` field, which holds the same state (the read lock keeps
        it at SQLite's generation); else, or if it fails a read, from SQLite."""
        if filters.access is None or filters.match or filters.doc_ids is not None:
            return self.allowed.get(db, filters)
        entries = (schema.PUBLIC_ENTRY, *filters.access)

        def visible() -> np.ndarray:
            try:
                return self.lexical.ids_with_access(entries)
            except LexicalDamaged:  # rebuilt before the next read; SQLite answers this one
                return schema.filter_chunk_ids(db, filters)

        return self.allowed.get(db, filters, visible)

    def lexical_search(
        self, terms: list[str], k: int, filters: FilterSpec | None = None, exact: Sequence[str] = ()
    ) -> list[Passage]:
        """BM25 over chunk text (and title/heading), any of ``terms``, ``exact`` tokens (case
        kept) scoring on top; higher scores are better."""
        with self._reading() as db:
            return rows.passages(db, self.lexical_hits(terms, k, filters, exact))

    def lexical_hits(
        self, terms: list[str], k: int, filters: FilterSpec | None = None, exact: Sequence[str] = ()
    ) -> list[Hit]:
        """``lexical_search``'s (chunk id, score) pairs, without fetching the passages. Terms are
        words, never query syntax: a question's quotes, colons or operators are just text."""
        if not terms and not exact:
            return []
        try:
            return self._lexical_hits(terms, k, filters, exact)
        except LexicalDamaged:
            if getattr(self._local, "depth", 0):
                raise  # inside a snapshot: a 503 now; the next read rebuilds first (``_sync``)
            return self._lexical_hits(terms, k, filters, exact)  # rebuilt on the way in

    def _lexical_hits(self, terms: list[str], k: int, filters: FilterSpec | None, exact: Sequence[str]) -> list[Hit]:
        with self._reading() as db:
            parsed = parse_filters(filters) if filters else None
            if parsed is not None and not parsed.match and parsed.doc_ids is None:
                # Access alone: tantivy filters on its ``access`` field (lexical.py), no ids needed.
                return self.lexical.search(terms, k, None, exact, (schema.PUBLIC_ENTRY, *(parsed.access or ())))
            allowed = None
            if parsed is not None:
                allowed = self.allowed.get(db, parsed)
                if allowed.size == 0:
                    return []
            return self.lexical.search(terms, k, allowed, exact)

    def passages(self, hits: list[Hit]) -> list[Passage]:
        """The passages of (chunk id, score) pairs, in their order, each with its score. Inside a
        ``snapshot()``, the same state as the hits it was given."""
        with self._reading() as db:
            return rows.passages(db, hits)

    def vectors(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """Stored vectors of the given chunks."""
        if not chunk_ids:
            return {}
        with self._reading() as db:
            return rows.vectors(db, chunk_ids)

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks whose embedding text has one of ``hashes`` (the embedding cache)."""
        with self._reading() as db:
            return rows.vectors_by_hash(db, hashes)

    def document_chunks(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks in order with their stored vectors (for `qa export`)."""
        with self._reading() as db:
            return rows.document_chunks(db, doc_id, self.manifest.dim)

    def counts(self) -> dict[str, Any]:
        with self._reading() as db:
            return stats_.counts(db, self.manifest.model)

    def stats(self) -> dict[str, Any]:
        with self._reading() as db:
            return stats_.stats(self.path, db, self.manifest, self.mirror, self.lexical, self._chars)

    # -- checking and repair ------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Problems found in the index: SQLite integrity, chunks without a document, half-written
        documents, and vector or lexical index entries that do not match the chunk rows. Empty when sound."""
        with self._writing():  # rare, and it reads everything: alone, on self.db
            self._sync()
            return repair_.verify(self.db, self.mirror, self.lexical)

    def repair(self) -> dict[str, Any]:
        """Rebuild the derived parts (FAISS file, lexical index) from SQLite, drop chunks whose
        document is gone, and report what was wrong before and what is still wrong after.

        Half-written documents cannot be repaired without the source (re-index them).

        Raises:
            IndexCorrupt: qa.sqlite itself is damaged: nothing can be rebuilt from it in place;
                close the store and recover it with ``salvage.salvage`` (`qa repair` does).
        """
        with self._writing():
            self.health.require_sound(self.db)
            known = [p for p in (self.mirror.problem, self.lexical.problem) if p]
            self._sync()
            return repair_.repair(self.path, self.db, self.mirror, self.lexical, known)

    def close(self) -> None:
        self.health.stop_check()
        with self._writing():
            if not self.deleted():  # a deleted index's file is not written again
                disk_full.save_or_postpone(self.mirror, self.path)
            self.db.close()
            self._reads.close()  # all idle: a read in progress would hold the lock
            self.mirror.close()
