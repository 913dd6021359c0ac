"""The embedded store: SQLite for documents, chunks and vectors; FAISS for search.

On disk (``index/<name>/``, see index/README.md):

- ``qa.sqlite``: the source of truth. Every write is one SQLite transaction (WAL,
  ``synchronous=FULL``), so a killed process leaves the previous or the new state.
  Each write bumps ``manifest.generation``.
- ``vectors.faiss`` + ``vectors.json``: a FAISS ``IndexIDMap2`` (exact flat, or HNSW past
  ``QA_FAISS_HNSW_THRESHOLD`` chunks; see ``qa/store/faiss_index.py``) whose ids are chunk row
  ids, and the generation it reflects. It is derived data: when it is missing or unreadable, it is
  rebuilt from the vectors in SQLite; when it is of an older generation (the process died between
  the SQLite commit and the FAISS save, or another process wrote), it is caught up with the rows
  added and deleted since.
- ``lexical/`` + ``lexical.json``: the tantivy BM25 index of chunk text and title/heading (see
  ``qa/store/lexical.py``), written inside each SQLite write transaction and committed just
  before it; the generation it holds is recorded first, so a process killed between the two
  commits leaves a record ahead of SQLite, and the next writer or opener rebuilds it from SQLite.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.errors import IndexCorrupt, InvalidInput
from qa.store import (
    FORMAT_VERSION,
    INFO_COLUMNS,
    DocumentInfo,
    Manifest,
    Write,
    atomic_write,
    check_manifest,
    document_info,
)
from qa.store.faiss_index import (
    CHECKSUM,
    TOMBSTONE_REBUILD_FRACTION,
    IndexOptions,
    LoadedIndex,
    file_checksum,
    ids_of,
    kind_of,
    new_index,
    search_params,
    stored_vectors,
    write_index,
)
from qa.store.lexical import LEXICAL_DIR, LexicalIndex
from qa.types import Chunk, Hit, Metadata, Passage

log = logging.getLogger(__name__)

DB_FILE = "qa.sqlite"
FAISS_FILE = "vectors.faiss"
FAISS_META = "vectors.json"

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
    updated_at REAL NOT NULL
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
"""

# What doc_meta holds: every document's top-level scalar metadata values (one definition for
# filling it, per document or for all, and for checking it).
DOC_META_VALUES = (
    "SELECT d.id, j.key, j.value FROM documents d, json_each(d.metadata) j"
    " WHERE j.type IN ('text', 'integer', 'real', 'true', 'false')"
)
DOC_META_ALL = f"INSERT INTO doc_meta(doc_id, key, value) {DOC_META_VALUES}"
DOC_META_OF = f"{DOC_META_ALL} AND d.id = ?"

# Indexes made before the embedding cache have no ``chunks.text_hash``: added on open (their
# chunks have none, so they are re-embedded once when their document next changes).
MIGRATE_TEXT_HASH = "ALTER TABLE chunks ADD COLUMN text_hash TEXT"
TEXT_HASH_INDEX = "CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks(text_hash)"
# Hashes per SQL lookup: below SQLite's limit of bound parameters.
LOOKUP_BATCH = 500
# Vectors per FAISS add while rebuilding: large enough for HNSW to insert in parallel (about 100 MB).
REBUILD_BATCH = 65536
# A read that finds another process's commit loads it and starts over, at most this many times.
SYNC_ATTEMPTS = 3

# The lexical side's text of every chunk (id, title + heading, body), for (re)building it.
LEXICAL_ROWS = (
    "SELECT c.id, d.title || ' ' || COALESCE(c.heading, ''), substr(d.text, c.start + 1, c.\"end\" - c.start)"
    " FROM chunks c JOIN documents d ON d.id = c.doc_id"
)

_FIELD = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _corrupt(db_path: Path, exc: Exception) -> IndexCorrupt:
    return IndexCorrupt(
        f"index database {db_path} cannot be opened: {exc}; restore it from a backup "
        "(README, Operations) or re-index into a new QA_INDEX_NAME"
    )


class ReadWriteLock:
    """Many readers or one writer. The writer may re-enter; a waiting writer holds back new
    readers, so a stream of searches cannot starve a write. Readers do not re-enter here (the
    store counts a thread's nested reads itself): a nested acquire behind a waiting writer would
    deadlock."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # thread ident
        self._depth = 0
        self._waiting = 0

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer is not None or self._waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
                return
            self._waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._cond.wait()
            except BaseException:
                self._waiting -= 1
                self._cond.notify_all()  # readers held back by this writer may go on
                raise
            self._waiting -= 1
            self._writer, self._depth = me, 1

    def release_write(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._writer = None
                self._cond.notify_all()

    def write_owned(self) -> bool:
        """Whether the calling thread holds the write lock."""
        return self._writer == threading.get_ident()

    @property
    def readers(self) -> int:
        """Readers holding the lock now (for tests and diagnostics)."""
        return self._readers

    @property
    def writers_waiting(self) -> int:
        """Writers waiting for the lock now (for tests and diagnostics)."""
        return self._waiting


class EmbeddedStore:
    """FAISS + SQLite in one directory. Thread-safe: reads run at the same time, each in a read
    transaction on a pooled connection of its own, while writes (and reloading the FAISS index
    after another process's commit) hold the store alone; see ``_reading``."""

    def __init__(
        self,
        path: Path,
        model: str,
        dim: int,
        extra: dict[str, Any] | None = None,
        lexical_stemmer: str = "english",
        index_options: IndexOptions | None = None,
    ) -> None:
        self.path = Path(path)
        self.options = index_options or IndexOptions()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = ReadWriteLock()
        # Read connections, one per read in progress (reused; a write uses ``self.db``).
        self._pool: list[sqlite3.Connection] = []
        self._conns: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._closed = False
        # Per thread: the connection of the read it is inside, and how deeply nested.
        self._local = threading.local()
        # One query at a time is searched here; FAISS's OpenMP threads only add overhead for a
        # single vector (measured 47 ms vs 16 ms p50 at 20k chunks on this 2-core machine). This
        # sets the opening thread's count; `search` sets it for each thread that searches.
        faiss.omp_set_num_threads(1)
        try:
            self.db = sqlite3.connect(self.path / DB_FILE, check_same_thread=False, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(chunks)")}
            if "text_hash" not in columns:
                try:
                    self.db.execute(MIGRATE_TEXT_HASH)
                except sqlite3.OperationalError as exc:  # another process migrated it first
                    if "duplicate column" not in str(exc):
                        raise
            self.db.execute(TEXT_HASH_INDEX)
        except sqlite3.DatabaseError as exc:
            raise _corrupt(self.path / DB_FILE, exc) from exc
        self.manifest = self._check_manifest(model, dim, extra or {})
        self._ensure_doc_meta()
        self.generation = -1
        self._chars_cache: tuple[int, int] | None = None
        # What was wrong with the FAISS file when it was last found damaged and rebuilt (`qa repair` reports it).
        self.faiss_problem: str | None = None
        # HNSW cannot remove vectors: ids of deleted chunks still in the graph, skipped by searches.
        self.tombstones: set[int] = set()
        self._live_sel: faiss.IDSelector | None = None
        # Set while the index is the memory-mapped file itself; copied into memory before a write.
        self._mapped: LoadedIndex | None = None
        self._dirty = False
        self.index: faiss.Index = self._new_index("flat")
        self._load_or_rebuild()
        try:
            self.lexical = LexicalIndex(self.path, lexical_stemmer)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        self._ensure_lexical()

    @staticmethod
    def stored_dim(path: Path) -> int | None:
        """The vector dimension of an existing index at ``path``, or None if there is none yet."""
        db_path = Path(path) / DB_FILE
        if not db_path.exists():
            return None
        try:
            db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
            try:
                row = db.execute("SELECT value FROM manifest WHERE key = 'dim'").fetchone()
            finally:
                db.close()
        except sqlite3.OperationalError:
            return None  # e.g. locked: the store's own open reports what is wrong
        except sqlite3.DatabaseError as exc:
            # Not a database, or a damaged one: say so now, before anyone loads a model for it.
            raise _corrupt(db_path, exc) from exc
        return int(row[0]) if row else None

    # -- manifest -------------------------------------------------------------------------

    def _check_manifest(self, model: str, dim: int, extra: dict[str, Any]) -> Manifest:
        rows = dict(self.db.execute("SELECT key, value FROM manifest").fetchall())
        if not rows:
            manifest = Manifest(model=model, dim=dim, extra=extra)
            with self._txn():
                values = {
                    "format_version": str(FORMAT_VERSION),
                    "model": model,
                    "dim": str(dim),
                    "normalized": "true",
                    "metric": manifest.metric,
                    "generation": "0",
                    "created_at": str(time.time()),
                    "extra": json.dumps(extra, sort_keys=True),
                }
                self.db.executemany("INSERT INTO manifest(key, value) VALUES (?, ?)", values.items())
            return manifest
        return check_manifest(rows, f"index {self.path}", model, dim)

    def _ensure_doc_meta(self) -> None:
        """Indexes made before ``doc_meta`` existed get it filled from their documents, once
        (the manifest's ``doc_meta`` key records it, in the same transaction)."""
        if self.db.execute("SELECT 1 FROM manifest WHERE key = 'doc_meta'").fetchone():
            return
        with self._txn():
            if not self.db.execute("SELECT 1 FROM manifest WHERE key = 'doc_meta'").fetchone():
                self._refill_doc_meta()

    def _refill_doc_meta(self) -> None:
        """Inside a write transaction: ``doc_meta`` from every document's metadata."""
        self.db.execute("DELETE FROM doc_meta")
        self.db.execute(DOC_META_ALL)
        self.db.execute("INSERT OR REPLACE INTO manifest(key, value) VALUES ('doc_meta', '1')")

    # -- FAISS ------------------------------------------------------------------------------

    def _new_index(self, kind: str) -> faiss.Index:
        return new_index("hnsw" if kind == "hnsw" else "flat", self.manifest.dim, self.options.hnsw_m)

    def _set_index(self, index: faiss.Index, tombstones: set[int], mapped: LoadedIndex | None = None) -> None:
        if self._mapped is not None and self._mapped is not mapped:
            self._mapped.close()
        self.index, self.tombstones, self._mapped, self._live_sel = index, tombstones, mapped, None

    @property
    def live_vectors(self) -> int:
        """Vectors a search can return: the index's, less tombstones."""
        return int(self.index.ntotal) - len(self.tombstones)

    def _writable(self) -> None:
        """Before changing the index: copy a memory-mapped one into memory (FAISS cannot grow a
        mapped index; it would abort the process)."""
        if self._mapped is not None:
            self.index = self._mapped.owned()
            self._mapped = None

    def _db_generation(self) -> int:
        row = self.db.execute("SELECT value FROM manifest WHERE key = 'generation'").fetchone()
        return int(row[0])

    def _load_or_rebuild(self) -> None:
        """Bring the index to SQLite's generation: load the file if it is of that generation, else
        catch up from the newest index at hand (this process's or the file's), else rebuild."""
        gen = self._db_generation()
        meta, problem = self._read_meta()
        file_gen = meta.get("generation") if meta else None
        if self.generation >= 0:
            # This process holds an index of an earlier generation: updating it reads only the
            # changed rows, where loading the file would read (and checksum) all of it.
            if self._catch_up():
                # Not saved here: a reader catching up with a long `qa index` run would rewrite
                # the whole file at every batch. The writer saves; so does close(), if still needed.
                if file_gen == gen:
                    self._dirty = False  # another process saved this generation already
                return
        elif meta is not None:
            loaded, tombstones, problem = self._read_faiss(meta, gen)
            if loaded is not None:
                index = loaded.index
                n_live = index.ntotal - len(tombstones)
                if kind_of(index) == self.options.kind_for(n_live, kind_of(index)):
                    self._set_index(index, tombstones, loaded if loaded.mapped else None)
                    self.generation = int(meta["generation"])
                    if self.generation == gen:
                        return
                    # Stale (killed between commit and save, or another process wrote): add and
                    # drop what changed since, rather than rebuild a large HNSW graph.
                    if self._catch_up():
                        self.save()
                        return
                else:
                    # QA_FAISS_INDEX or the threshold changed: build the type asked for.
                    loaded.close()
                del index, loaded
        if problem:
            # Damaged, not merely stale: say so (the CLI prints warnings; the server logs them).
            self.faiss_problem = problem
            log.warning("%s; rebuilding it from the vectors in %s", problem, self.path / DB_FILE)
        self._rebuild()

    def _read_meta(self) -> tuple[dict[str, Any] | None, str | None]:
        meta_path = self.path / FAISS_META
        try:
            meta = json.loads(meta_path.read_text())
            if not isinstance(meta, dict) or not isinstance(meta.get("generation"), int):
                raise ValueError("not a JSON object with a generation")
            meta["tombstones"] = {int(i) for i in meta.get("tombstones", [])}
        except FileNotFoundError:
            return None, None
        except (ValueError, TypeError, OSError) as exc:
            return None, f"FAISS metadata {meta_path} is unreadable ({exc})"
        return meta, None

    def _read_faiss(self, meta: dict[str, Any], gen: int) -> tuple[LoadedIndex | None, set[int], str | None]:
        """The FAISS file described by ``meta`` and its tombstones, if it is whole; else None and
        what is wrong with it. A file of generation ``gen`` must also match the chunk count."""
        faiss_path = self.path / FAISS_FILE
        tombstones: set[int] = meta["tombstones"]
        try:
            before = os.stat(faiss_path)
            # Streamed: a large index is never read into one bytes object to be checked.
            algorithm = next((a for a in (CHECKSUM, "sha256") if a in meta), None)
            digest = file_checksum(faiss_path, algorithm) if algorithm else None
        except FileNotFoundError:
            return None, set(), f"FAISS file {faiss_path} is missing"
        except OSError as exc:
            return None, set(), f"FAISS file {faiss_path} is unreadable ({exc})"
        # Files written before checksums were recorded have none; their size and count still are checked.
        if algorithm and digest != meta[algorithm]:
            return None, set(), f"FAISS file {faiss_path} is corrupt (checksum mismatch, {before.st_size} bytes)"
        try:
            # Only a file whose checksum matched is mapped: FAISS trusts the sizes it reads.
            loaded = LoadedIndex(faiss_path, mmap=self.options.mmap and digest is not None)
        except (ValueError, RuntimeError, OSError) as exc:
            return None, set(), f"FAISS file {faiss_path} is corrupt or truncated ({before.st_size} bytes: {exc})"
        after = os.stat(faiss_path)
        if (after.st_ino, after.st_mtime_ns) != (before.st_ino, before.st_mtime_ns):
            loaded.close()
            return None, set(), None  # replaced by another process's save while we read it: rebuild
        index = loaded.index
        n_chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] if meta["generation"] == gen else None
        if index.d != self.manifest.dim or (n_chunks is not None and index.ntotal - len(tombstones) != n_chunks):
            loaded.close()
            problem = (
                f"FAISS file {faiss_path} does not match the database "
                f"({index.ntotal - len(tombstones)} live vectors of dim {index.d}, "
                f"expected {n_chunks} of dim {self.manifest.dim})"
            )
            return None, set(), problem
        return loaded, tombstones, None

    def _catch_up(self) -> bool:
        """Update the index from an older generation to SQLite's, without a rebuild: add the chunks
        made since (ids only grow) and drop the ones deleted since. False when the index does not
        match SQLite's history (then it must be rebuilt); nothing is changed in that case."""
        ids = ids_of(self.index)
        if ids.size > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            return False
        top = int(ids[-1]) if ids.size else 0
        self.db.execute("BEGIN")  # one read snapshot
        try:
            gen = self._db_generation()
            db_ids = np.fromiter((r[0] for r in self.db.execute("SELECT id FROM chunks")), dtype=np.int64)
            dead = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
            live = np.setdiff1d(ids, dead, assume_unique=True)
            old = db_ids[db_ids <= top]
            if np.setdiff1d(old, live, assume_unique=True).size:
                return False  # a chunk the index should hold but does not
            removed = np.setdiff1d(live, old, assume_unique=True)
            self._mirror(removed.tolist(), [])
            cur = self.db.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (top,))
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # many rows may have come: as in a rebuild
            try:
                while rows := cur.fetchmany(REBUILD_BATCH):
                    new_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                    self._mirror([], [(new_ids, vecs)])
            finally:
                faiss.omp_set_num_threads(threads)
            self.generation = gen
        finally:
            self.db.execute("COMMIT")
        self._dirty = True
        return True

    def _rebuild(self) -> None:
        """Build the index from the vectors in SQLite (of the type the chunk count calls for) and save it."""
        # One read transaction: the generation, the count and the vectors are of one committed state.
        self.db.execute("BEGIN")
        try:
            self._fill_from_db()
        finally:
            self.db.execute("COMMIT")
        self._dirty = True
        self._save(force=True)

    def _fill_from_db(self) -> None:
        gen = self._db_generation()
        n_chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        current = kind_of(self.index) if self.index.ntotal else None
        kind = self.options.kind_for(n_chunks, current)
        # Drop the old index first: two copies of a large index would double the peak memory.
        self._set_index(self._new_index(kind), set())
        index = self.index
        threads = faiss.omp_get_max_threads()
        # A build adds many vectors at once: it uses every core (searches use one, see __init__).
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            cur = self.db.execute("SELECT id, vector FROM chunks ORDER BY id")
            while rows := cur.fetchmany(REBUILD_BATCH):
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                if vecs.shape[1] != self.manifest.dim:
                    raise IndexCorrupt(
                        f"stored vectors in {self.path} have dim {vecs.shape[1]}, expected {self.manifest.dim}"
                    )
                index.add_with_ids(vecs, ids)
        finally:
            faiss.omp_set_num_threads(threads)
        self.generation = gen

    def _sync(self) -> None:
        """Pick up writes made by another process (e.g. `qa index` while `qa serve` runs)."""
        gen = self._db_generation()
        if gen != self.generation:
            self._load_or_rebuild()
            # Another process committed: its lexical commit came first, so it is on disk.
            self.lexical.reload()

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
        conn = self._checkout()
        try:
            for attempt in range(SYNC_ATTEMPTS):
                self._lock.acquire_read()
                try:
                    conn.execute("BEGIN")
                    gen = int(conn.execute("SELECT value FROM manifest WHERE key = 'generation'").fetchone()[0])
                except BaseException:
                    self._end_read(conn)
                    raise
                # After the last attempt (another process commits faster than we load), read on: a
                # passage of a chunk deleted since is skipped, a chunk added since is not found.
                if gen == self.generation or attempt == SYNC_ATTEMPTS - 1:
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
            self._checkin(conn)

    def _end_read(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
        finally:
            self._lock.release_read()

    def _checkout(self) -> sqlite3.Connection:
        """A read connection from the pool, or a new one (the pool grows to the most reads at once)."""
        with self._pool_lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if self._pool:
                return self._pool.pop()
        conn = sqlite3.connect(self.path / DB_FILE, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA query_only=ON")
        with self._pool_lock:
            self._conns.append(conn)
        return conn

    def _checkin(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if self._closed:
                conn.close()
            else:
                self._pool.append(conn)

    # -- checking and repair ----------------------------------------------------------------

    def verify(self) -> list[str]:
        """Problems found in the index: SQLite integrity, chunks without a document, half-written
        documents, and vector or lexical index entries that do not match the chunk rows. Empty when sound."""
        problems: list[str] = []
        with self._writing():  # rare, and it reads everything: alone, on self.db
            self._sync()
            result = [r[0] for r in self.db.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                problems.append(f"SQLite integrity check failed: {'; '.join(result[:5])}")
            orphans = self.db.execute(
                "SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)"
            ).fetchone()[0]
            if orphans:
                problems.append(f"{orphans} chunks have no document")
            half = self.db.execute(
                "SELECT d.id, d.n_chunks, COUNT(c.id) FROM documents d LEFT JOIN chunks c ON c.doc_id = d.id"
                " GROUP BY d.id HAVING COUNT(c.id) != d.n_chunks LIMIT 5"
            ).fetchall()
            problems += [f"document {i!r} has {n} of its {want} chunks; re-index it" for i, want, n in half]
            meta_rows, meta_want = self.db.execute(
                f"SELECT (SELECT COUNT(*) FROM doc_meta), (SELECT COUNT(*) FROM ({DOC_META_VALUES}))"
            ).fetchone()
            if meta_rows != meta_want:
                problems.append(f"metadata filter table has {meta_rows} rows for {meta_want} metadata values")
            chunk_ids = {r[0] for r in self.db.execute("SELECT id FROM chunks")}
            faiss_ids = set(ids_of(self.index).tolist()) - self.tombstones
            if faiss_ids != chunk_ids:
                problems.append(
                    f"vector index has {len(faiss_ids - chunk_ids)} ids without a chunk row and misses "
                    f"{len(chunk_ids - faiss_ids)} chunks"
                )
            self.lexical.reload()
            lexical_ids = self.lexical.ids()
            if lexical_ids != chunk_ids:
                problems.append(
                    f"lexical index has {len(lexical_ids - chunk_ids)} ids without a chunk row and misses "
                    f"{len(chunk_ids - lexical_ids)} chunks"
                )
            recorded = (self.lexical.recorded() or {}).get("generation")
            if recorded != self.generation:
                problems.append(f"lexical index records generation {recorded}, the database is at {self.generation}")
        return problems

    def repair(self) -> dict[str, Any]:
        """Rebuild the derived parts (FAISS file, lexical index) from SQLite, drop chunks whose
        document is gone, and report what was wrong before and what is still wrong after.

        Half-written documents cannot be repaired without the source (re-index them); a damaged
        SQLite file cannot be opened at all (restore it from a backup)."""
        with self._writing():
            found = ([self.faiss_problem] if self.faiss_problem else []) + self.verify()
            with self._txn():
                self.db.execute("DELETE FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)")
                self._refill_doc_meta()
                self._bump_generation()
                # One tantivy commit replaces the whole index: readers never find it missing.
                self._rebuild_lexical(self._db_generation())
            self._rebuild()
            self.faiss_problem = None
            remaining = self.verify()
            docs, chunks = self.db.execute(
                "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks)"
            ).fetchone()
        return {
            "path": str(self.path),
            "found": found,
            "rebuilt": [FAISS_FILE, f"lexical index ({LEXICAL_DIR}/)"],
            "remaining": remaining,
            "documents": docs,
            "chunks": chunks,
        }

    def save(self) -> None:
        """Write the FAISS file if it changed. This is where the index changes type (the chunk
        count crossed ``QA_FAISS_HNSW_THRESHOLD``) or drops its tombstones: by a rebuild, once,
        here and not in the middle of a search."""
        with self._writing():
            self._save(force=False)

    def _save(self, force: bool) -> None:
        """``force``: write even if the file claims this generation (it was found damaged)."""
        with self._writing():
            if not self._dirty:
                return
            on_disk, _ = self._read_meta()
            if not force and on_disk is not None and on_disk["generation"] >= self.generation:
                self._dirty = False  # another process saved this state, or a newer one
                return
            current = kind_of(self.index)
            if self.options.kind_for(self.live_vectors, current) != current or (
                len(self.tombstones) > TOMBSTONE_REBUILD_FRACTION * max(1, self.index.ntotal)
            ):
                self._rebuild()  # saves the new index
                return
            digest = ""

            def write(path: str) -> None:
                nonlocal digest
                digest = write_index(self.index, Path(path))

            atomic_write(self.path / FAISS_FILE, write)
            # The checksum catches a damaged file that still parses (a flipped bit in a vector).
            meta = json.dumps(
                {
                    "generation": self.generation,
                    "ntotal": int(self.index.ntotal),
                    CHECKSUM: digest,
                    "index": current,
                    "tombstones": sorted(self.tombstones),
                }
            )
            atomic_write(self.path / FAISS_META, lambda p: Path(p).write_text(meta))
            self._dirty = False

    # -- lexical side (tantivy, see qa/store/lexical.py) ------------------------------------

    def _ensure_lexical(self) -> None:
        """Bring the lexical index to SQLite's state: rebuild it when it is missing, of another
        spec, or not of SQLite's generation (a process died between its commit and SQLite's).
        Indexes made before it existed also drop their SQLite FTS5 table here."""
        with self._writing():
            if self._lexical_ok():
                return
            with self._txn():  # SQLite's write lock: no other process's write is half done
                if not self._lexical_ok():
                    self._rebuild_lexical(self._db_generation())
                self.db.execute("DROP TABLE IF EXISTS chunks_fts")
                self.db.execute("DELETE FROM manifest WHERE key = 'lexical_tokenizer'")

    def _lexical_ok(self) -> bool:
        legacy = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
        n_chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return not legacy and self.lexical.in_step(self._db_generation(), n_chunks)

    def _rebuild_lexical(self, generation: int) -> None:
        """Inside a write transaction: the lexical index from SQLite's chunks, as ``generation``."""
        t0 = time.perf_counter()
        n = self.lexical.rebuild(generation, self.db.execute(LEXICAL_ROWS))
        log.info("built the lexical index of %s: %d chunks in %.1f s", self.path, n, time.perf_counter() - t0)

    def _lexical_before_write(self) -> int:
        """Inside a write transaction, before changing anything: the generation SQLite is at, with
        the lexical index brought to it if a killed writer left it elsewhere."""
        gen = self._db_generation()
        if (self.lexical.recorded() or {}).get("generation") != gen:
            log.warning("lexical index of %s is not at generation %d; rebuilding it from SQLite", self.path, gen)
            self._rebuild_lexical(gen)
        return gen

    def lexical_search(self, terms: list[str], k: int, filters: Metadata | None = None) -> list[Passage]:
        """BM25 over chunk text (and title/heading), any of ``terms``; higher scores are better."""
        with self._reading() as db:
            return self._passages(db, self.lexical_hits(terms, k, filters))

    def lexical_hits(self, terms: list[str], k: int, filters: Metadata | None = None) -> list[Hit]:
        """``lexical_search``'s (chunk id, score) pairs, without fetching the passages. Terms are
        words, never query syntax: a question's quotes, colons or operators are just text."""
        if not terms:
            return []
        with self._reading() as db:
            allowed = None
            if filters:
                allowed = self._filter_ids(db, filters)
                if allowed.size == 0:
                    return []
            return self.lexical.search(terms, k, allowed)

    def vectors(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """Stored vectors of the given chunks."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._reading() as db:
            rows = db.execute(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", chunk_ids).fetchall()
        return {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in rows}

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks whose embedding text has one of ``hashes`` (the embedding cache)."""
        out: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._reading() as db:
            for i in range(0, len(unique), LOOKUP_BATCH):
                part = unique[i : i + LOOKUP_BATCH]
                marks = ",".join("?" * len(part))
                for h, vec in db.execute(f"SELECT text_hash, vector FROM chunks WHERE text_hash IN ({marks})", part):
                    out.setdefault(h, np.frombuffer(vec, dtype=np.float32))
        return out

    # -- writes -----------------------------------------------------------------------------

    def _txn(self) -> Any:
        store = self

        class _Txn:
            def __enter__(self) -> None:
                store.db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type: Any, *_: Any) -> None:
                store.db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Txn()

    def _bump_generation(self) -> int:
        """Inside a write transaction: advance the generation; return the one before."""
        before = self._db_generation()
        self.db.execute("UPDATE manifest SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        return before

    def write(self, writes: list[Write]) -> None:
        if not writes:
            return
        with self._writing():
            self._sync()
            now = time.time()
            removed: list[int] = []
            added: list[tuple[np.ndarray, np.ndarray]] = []
            lexical_rows: list[tuple[int, str, str]] = []
            with self._txn():
                self._lexical_before_write()
                before = self._bump_generation()
                for w in writes:
                    if w.vectors.shape != (len(w.chunks), self.manifest.dim):
                        raise InvalidInput(f"vectors shape {w.vectors.shape} does not match {len(w.chunks)} chunks")
                    removed += [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id = ?", (w.doc.id,))]
                    created = self.db.execute("SELECT created_at FROM documents WHERE id = ?", (w.doc.id,)).fetchone()
                    self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (w.doc.id,))
                    self.db.execute(
                        "INSERT OR REPLACE INTO documents(id, title, text, metadata, source, content_hash, chunker,"
                        " n_chunks, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        ),
                    )
                    self.db.execute("DELETE FROM doc_meta WHERE doc_id = ?", (w.doc.id,))
                    self.db.execute(DOC_META_OF, (w.doc.id,))
                    vecs = np.ascontiguousarray(w.vectors, dtype=np.float32)
                    hashes: list[str | None] = list(w.text_hashes) if w.text_hashes else [None] * len(w.chunks)
                    ids = []
                    for c, v, h in zip(w.chunks, vecs, hashes, strict=True):
                        cur = self.db.execute(
                            'INSERT INTO chunks(doc_id, ordinal, start, "end", heading, vector, text_hash)'
                            " VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (w.doc.id, c.ordinal, c.start, c.end, c.heading, v.tobytes(), h),
                        )
                        chunk_id = int(cur.lastrowid or 0)
                        ids.append(chunk_id)
                        lexical_rows.append((chunk_id, f"{w.doc.title} {c.heading or ''}", c.text))
                    if ids:
                        added.append((np.asarray(ids, dtype=np.int64), vecs))
                # Last before SQLite's commit: see the module docstring.
                self.lexical.commit(before + 1, removed, lexical_rows)
            self._apply(before, removed, added)

    def delete(self, doc_id: str) -> bool:
        with self._writing():
            self._sync()
            with self._txn():
                before = self._lexical_before_write()
                ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
                cur = self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
                if cur.rowcount == 0:
                    # Nothing changed; the ROLLBACK-free commit below is empty.
                    return False
                self._bump_generation()
                self.lexical.commit(before + 1, ids, [])
            self._apply(before, ids, [])
            return True

    def _apply(self, before: int, removed: list[int], added: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Mirror a committed write into the in-memory FAISS index."""
        if before != self.generation:
            # Another process wrote between our sync and our commit: catch up with both writes.
            if not self._catch_up():
                self._rebuild()
            return
        self._mirror(removed, added)
        self.generation = before + 1
        self._dirty = True

    def _mirror(self, removed: list[int], added: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if removed and kind_of(self.index) == "hnsw":
            # HNSW cannot remove: the ids become tombstones, skipped by every search until the
            # next rebuild (save() rebuilds once they pass TOMBSTONE_REBUILD_FRACTION).
            self.tombstones.update(removed)
            self._live_sel = None
        elif removed:
            self._writable()
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(removed, dtype=np.int64)))
        if added:
            self._writable()
        for ids, vecs in added:
            if vecs.shape[1] != self.manifest.dim:
                raise IndexCorrupt(
                    f"stored vectors in {self.path} have dim {vecs.shape[1]}, expected {self.manifest.dim}"
                )
            self.index.add_with_ids(vecs, ids)

    # -- reads ------------------------------------------------------------------------------

    def _info(self, row: tuple[Any, ...]) -> DocumentInfo:
        return document_info(row, json.loads(row[2]))

    _INFO_COLS = INFO_COLUMNS

    def get(self, doc_id: str) -> DocumentInfo | None:
        with self._reading() as db:
            row = db.execute(f"SELECT {self._INFO_COLS} FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return self._info(row) if row else None

    def get_text(self, doc_id: str) -> str | None:
        with self._reading() as db:
            row = db.execute("SELECT text FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def list_documents(self, offset: int = 0, limit: int = 50) -> tuple[list[DocumentInfo], int]:
        with self._reading() as db:
            total = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            rows = db.execute(
                f"SELECT {self._INFO_COLS} FROM documents ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [self._info(r) for r in rows], total

    def _filter_ids(self, db: sqlite3.Connection, filters: Metadata) -> np.ndarray:
        """The chunk ids of the documents matching every filter (metadata values, or doc ids)."""
        pairs: list[tuple[str, Any]] = []
        doc_ids: list[str] | None = None
        for key, value in filters.items():
            if key == "doc_id":
                doc_ids = [str(v) for v in (value if isinstance(value, list) else [value])]
                continue
            if not _FIELD.match(key):
                raise InvalidInput(f"filter field {key!r} is not a valid metadata field name (letters, digits, _.:-)")
            if not isinstance(value, (str, int, float, bool)) or value is None:
                raise InvalidInput(f"filter {key!r} must be a string, number or boolean, got {value!r}")
            pairs.append((key, int(value) if isinstance(value, bool) else value))
        params: list[Any] = []
        if pairs:
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
        else:
            sql, column = "SELECT c.id FROM chunks c WHERE 1", "c.doc_id"
        if doc_ids is not None:
            sql += f" AND {column} IN ({','.join('?' * len(doc_ids))})"
            params += doc_ids
        return np.asarray([r[0] for r in db.execute(sql, params)], dtype=np.int64)

    def search(self, vector: np.ndarray, k: int, filters: Metadata | None = None) -> list[Passage]:
        with self._reading() as db:
            return self._passages(db, self.search_hits(vector, k, filters))

    def search_hits(self, vector: np.ndarray, k: int, filters: Metadata | None = None) -> list[Hit]:
        """``search``'s (chunk id, score) pairs, best first, without fetching the passages."""
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        # OpenMP's thread count belongs to the calling thread, and a server's request threads start
        # at the core count: FAISS then wakes a team for one vector (24 ms instead of 1.8 ms per
        # search at SciFact scale, measured from a thread pool). One thread per query, every time.
        if faiss.omp_get_max_threads() != 1:
            faiss.omp_set_num_threads(1)
        with self._reading() as db:
            live = self.live_vectors
            if live == 0:
                return []
            selector: faiss.IDSelector | None = None  # must outlive the search call
            if filters:
                # Only live chunks match a filter, so tombstones are excluded too.
                allowed = self._filter_ids(db, filters)
                if allowed.size == 0:
                    return []
                if allowed.size <= self.options.exact_filter_max:
                    exact = self._exact_among(query[0], allowed, k)
                    if exact is not None:
                        return exact
                selector = faiss.IDSelectorBatch(allowed)
                k = min(k, int(allowed.size))
            elif self.tombstones:
                selector = self._live_selector()
            k = min(k, live)
            params = search_params(self.index, k, self.options.ef_search, selector)
            scores, ids = self.index.search(query, k, params=params)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _exact_among(self, query: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]] | None:
        """HNSW: the exact top ``k`` of the ``allowed`` chunks, scored over their stored vectors;
        None when the index cannot give them (flat: its selector search is exact already)."""
        xb = stored_vectors(self.index)
        if xb is None:
            return None
        ids = ids_of(self.index)
        # Ids are appended in increasing order (AUTOINCREMENT; rebuilds go in id order), so a
        # chunk's position is found by bisection.
        if ids.size > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            return None
        pos = np.searchsorted(ids, allowed)
        pos = pos[(pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == allowed)]
        if pos.size == 0:
            return []
        scores = xb[pos] @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[pos[i]]), float(scores[i])) for i in top]

    def _live_selector(self) -> faiss.IDSelector:
        """Every id but the tombstones; kept until the tombstones change. Two readers may both
        build it at first; each searches with the one it built."""
        sel = self._live_sel
        if sel is None:
            dead = faiss.IDSelectorBatch(np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones)))
            sel = faiss.IDSelectorNot(dead)
            sel.referenced = dead  # type: ignore[attr-defined]  # the Python object keeps the C++ one alive
            self._live_sel = sel
        return sel

    def passages(self, hits: list[Hit]) -> list[Passage]:
        """The passages of (chunk id, score) pairs, in their order, each with its score. Inside a
        ``snapshot()``, the same state as the hits it was given."""
        with self._reading() as db:
            return self._passages(db, hits)

    def _passages(self, db: sqlite3.Connection, hits: list[Hit]) -> list[Passage]:
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
            out.append(
                Passage(
                    chunk_id=r[0],
                    doc_id=r[1],
                    title=r[2],
                    text=r[3],
                    start=r[4],
                    end=r[5],
                    score=score,
                    ordinal=r[6],
                    heading=r[7],
                    metadata=json.loads(r[8]),
                )
            )
        return out

    def counts(self) -> dict[str, Any]:
        with self._reading() as db:
            docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            return {"documents": docs, "chunks": chunks, "model": self.manifest.model}

    def _chars(self, db: sqlite3.Connection) -> int:
        """Characters of all documents: reads every text (2.7 s at 1M chunks), so once per generation."""
        cached = self._chars_cache
        if cached is not None and cached[0] == self.generation:
            return cached[1]
        chars = int(db.execute("SELECT COALESCE(SUM(length(text)), 0) FROM documents").fetchone()[0])
        self._chars_cache = (self.generation, chars)
        return chars

    def stats(self) -> dict[str, Any]:
        with self._reading() as db:
            counts = self.counts()
            size = sum(f.stat().st_size for f in self.path.iterdir() if f.is_file()) + self.lexical.bytes_on_disk()
            return {
                "store": "embedded",
                "path": str(self.path),
                "documents": counts["documents"],
                "chars": self._chars(db),
                "chunks": counts["chunks"],
                "vectors": self.live_vectors,
                "vector_index": kind_of(self.index),
                "tombstones": len(self.tombstones),
                "mmap": self._mapped is not None,
                "model": self.manifest.model,
                "dim": self.manifest.dim,
                "format_version": self.manifest.format_version,
                "generation": self.generation,
                "bytes_on_disk": size,
            }

    def document_chunks(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks in order with their stored vectors (for `qa export`)."""
        with self._reading() as db:
            rows = db.execute(
                'SELECT c.ordinal, c.start, c."end", c.heading, c.vector,'
                ' substr(d.text, c.start + 1, c."end" - c.start)'
                " FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.doc_id = ? ORDER BY c.ordinal",
                (doc_id,),
            ).fetchall()
        chunks = [Chunk(doc_id, r[0], r[1], r[2], r[5], r[3]) for r in rows]
        vecs = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(len(rows), self.manifest.dim)
        return chunks, vecs

    def close(self) -> None:
        with self._writing():
            self.save()
            self.db.close()
            with self._pool_lock:
                self._closed = True
                for conn in self._conns:  # all idle: a read in progress would hold the lock
                    conn.close()
                self._pool.clear()
                self._conns.clear()
            if self._mapped is not None:
                self._mapped.close()
