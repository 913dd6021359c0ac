"""Ingestion as jobs: a request acknowledged once its body is on disk, ingested in the background.

``POST /v1/documents`` and ``/v1/documents/upload`` answer 202 with a job id for a large body (or
when asked): the files (or documents) are first written to ``jobs.sqlite`` beside the index, in one
SQLite transaction with ``synchronous=FULL``, so what was acknowledged survives a killed server.
``JobRunner`` (one thread per server process) then takes the oldest queued job and ingests it item
by item (a file, or a document of a JSON batch) through the server's ingestion worker; each item's
outcome is committed as it finishes, so a restarted server resumes a job where it stopped
(re-ingesting the item it was on is harmless: unchanged documents are skipped). One file that fails
(unreadable, over ``QA_PARSE_TIMEOUT``) fails only itself; the job still ingests the rest.

Why SQLite of its own, not the index's database: a job's payload (up to ``QA_MAX_REQUEST_BYTES``)
is not index data; it must not grow the index's file, be copied by its backups, or be taken
under the index's write lock. The same file serves the Postgres store (in ``<index_dir>/<index_name>/``
on the server's disk): a job is the queue of the server that took it.

Ownership across processes (``qa serve --workers N`` share the file): a job is claimed with one
``UPDATE ... WHERE status = 'queued'``; its owner (pid and a per-process token) beats a heartbeat
every ``HEARTBEAT`` seconds. A running job whose owner's process is gone, or whose pid is now
another process (a container's pid 1 after a restart), or whose heartbeat is older than ``LEASE``
seconds, is queued again; after ``MAX_ATTEMPTS`` interruptions it is failed with that reason
rather than retried forever (a file that kills the server each time).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qa.errors import Busy, QAError, StorageFull
from qa.store.base import is_disk_full
from qa.types import Document, IngestResult

log = logging.getLogger(__name__)

JOBS_FILE = "jobs.sqlite"
HEARTBEAT = 2.0  # seconds between a running job's heartbeats
LEASE = 15.0  # a running job whose heartbeat is older than this is taken over
MAX_ATTEMPTS = 3  # interruptions (server killed mid-job) before a job is failed instead of resumed

JobStatus = Literal["queued", "running", "succeeded", "failed"]
JobKind = Literal["upload", "documents"]
ItemStatus = Literal["queued", "succeeded", "failed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    owner TEXT,
    heartbeat_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    item_chunks_embedded INTEGER,
    item_chunks_total INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created_at);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    name TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    data BLOB,
    status TEXT NOT NULL DEFAULT 'queued',
    results TEXT,
    error TEXT,
    PRIMARY KEY (job_id, n)
);
"""


@dataclass(frozen=True)
class JobItem:
    """One file of an upload job, or one document of a JSON job, and what ingesting it did."""

    n: int
    name: str
    bytes: int
    status: ItemStatus
    results: tuple[IngestResult, ...] = ()
    error: tuple[str, str] | None = None  # (a qa.errors class name, its message)


@dataclass(frozen=True)
class Job:
    """A job's record: ``items`` are empty when listed (``JobStore.page``)."""

    id: str
    kind: JobKind
    status: JobStatus
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    error: str | None
    items_total: int
    items_done: int
    items_failed: int
    bytes_total: int
    bytes_done: int
    documents: int
    chunks: int
    # The item being ingested (a running job): chunks embedded of its chunks so far, None before it is chunked.
    item_chunks_embedded: int | None = None
    item_chunks_total: int | None = None
    items: tuple[JobItem, ...] = field(default=())


def error_type(exc: BaseException) -> str:
    """The name of the ``qa.errors`` class ``exc`` is (the API turns it into a status and a
    kind, as for any error), or ``InternalError`` for a bug."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "qa.errors":
            return cls.__name__
    return "InternalError"


class JobStore:
    """Jobs and their pending payloads in one SQLite file (WAL, ``synchronous=FULL``)."""

    def __init__(self, path: Path, make_dir: bool = True) -> None:
        """``make_dir``: make ``path``'s directory if missing (else it must exist: an embedded
        collection's is its index's)."""
        self.path = path
        if make_dir:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        # Server processes starting together (`--workers`, replicas on one volume) open the file at
        # once: switching it to WAL does not wait on SQLite's busy handler, so it is retried here.
        deadline = time.monotonic() + 30
        while True:
            try:
                self._setup()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05 + random.random() * 0.1)

    def _setup(self) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed job survives power loss, not only a kill
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        have = {row[1] for row in self.db.execute("PRAGMA table_info(jobs)")}
        for column in ("item_chunks_embedded", "item_chunks_total"):  # a jobs.sqlite made before them
            if column not in have:
                self.db.execute(f"ALTER TABLE jobs ADD COLUMN {column} INTEGER")

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self.db.execute(sql, args).rowcount

    def create(self, kind: JobKind, options: dict[str, Any], items: Sequence[tuple[str, bytes]]) -> Job:
        """Store a job and its items, durably, before anything is acknowledged.

        Raises:
            StorageFull: the disk refused it (nothing stored).
        """
        job_id = uuid.uuid4().hex
        try:
            with self._lock:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    self.db.execute(
                        "INSERT INTO jobs (id, kind, status, options, created_at) VALUES (?, ?, 'queued', ?, ?)",
                        (job_id, kind, json.dumps(options), time.time()),
                    )
                    self.db.executemany(
                        "INSERT INTO job_items (job_id, n, name, bytes, data) VALUES (?, ?, ?, ?, ?)",
                        [(job_id, n, name, len(data), data) for n, (name, data) in enumerate(items)],
                    )
                    self.db.execute("COMMIT")
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            if is_disk_full(exc):
                raise StorageFull(
                    f"the disk holding {self.path} is full: the job was not stored ({exc}); "
                    "free space and send it again"
                ) from exc
            raise
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str, items: bool = True) -> Job | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM jobs j WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        job = _job(row)
        if not items:
            return job
        rows = self.db.execute(
            "SELECT n, name, bytes, status, results, error FROM job_items WHERE job_id = ? ORDER BY n", (job_id,)
        ).fetchall()
        return _with_items(job, [_item(r) for r in rows])

    def page(self, offset: int = 0, limit: int = 50, owner: str | None = None) -> tuple[list[Job], int]:
        """Jobs newest first, without their items, and how many there are; with ``owner``, only
        the jobs submitted with that owner in their options."""
        where, params = ("", []) if owner is None else (" WHERE json_extract(j.options, '$.owner') = ?", [owner])
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM jobs j{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        total = self.db.execute(f"SELECT COUNT(*) FROM jobs j{where}", params).fetchone()[0]
        return [_job(r) for r in rows], int(total)

    def owner(self, job_id: str) -> str | None:
        """The owner recorded in a job's options (None: a job from before owners, an admin's only)."""
        row = self.db.execute("SELECT json_extract(options, '$.owner') FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def claim(self, owner: str) -> tuple[str, JobKind, dict[str, Any], int] | None:
        """Take the oldest queued job: its id, kind, options and attempt number; None if none."""
        with self._lock:
            while True:
                row = self.db.execute(
                    "SELECT id, kind, options, attempts FROM jobs WHERE status = 'queued' ORDER BY created_at LIMIT 1"
                ).fetchone()
                if row is None:
                    return None
                now = time.time()
                taken = self.db.execute(
                    "UPDATE jobs SET status = 'running', owner = ?, heartbeat_at = ?, attempts = attempts + 1, "
                    "started_at = COALESCE(started_at, ?) WHERE id = ? AND status = 'queued'",
                    (owner, now, now, row[0]),
                ).rowcount
                if taken:  # else another process took it first: look again
                    return row[0], row[1], json.loads(row[2]), int(row[3]) + 1

    def pending(self, job_id: str) -> list[tuple[int, str, bytes]]:
        """The items of ``job_id`` not yet done, in order, with their payloads."""
        rows = self.db.execute(
            "SELECT n, name, data FROM job_items WHERE job_id = ? AND status = 'queued' ORDER BY n", (job_id,)
        ).fetchall()
        return [(int(n), name, bytes(data or b"")) for n, name, data in rows]

    def item_chunks(self, job_id: str, embedded: int | None, total: int | None) -> None:
        """The item being ingested: ``embedded`` of its ``total`` chunks so far (None, None: between items)."""
        self._write(
            "UPDATE jobs SET item_chunks_embedded = ?, item_chunks_total = ? WHERE id = ?", (embedded, total, job_id)
        )

    def item_done(
        self, job_id: str, n: int, results: Sequence[IngestResult] = (), error: BaseException | None = None
    ) -> None:
        """Record an item's outcome and drop its payload (it is in the index now, or failed for good)."""
        err = None if error is None else json.dumps([error_type(error), str(error)])
        res = json.dumps([{"id": r.id, "status": r.status, "chunks": r.chunks} for r in results])
        self._write(
            "UPDATE job_items SET status = ?, results = ?, error = ?, data = NULL WHERE job_id = ? AND n = ?",
            ("failed" if error is not None else "succeeded", res, err, job_id, n),
        )

    def finish(self, job_id: str, status: JobStatus, error: str | None = None) -> None:
        self._write(
            "UPDATE jobs SET status = ?, error = ?, finished_at = ?, owner = NULL WHERE id = ?",
            (status, error, time.time(), job_id),
        )
        # A failed job keeps no payloads either: they are not retried.
        self._write("UPDATE job_items SET data = NULL WHERE job_id = ?", (job_id,))

    def release(self, owner: str) -> None:
        """Queue again the jobs ``owner`` runs (a server stopping between items), not counting this attempt."""
        self._write(
            "UPDATE jobs SET status = 'queued', owner = NULL, attempts = MAX(attempts - 1, 0) "
            "WHERE status = 'running' AND owner = ?",
            (owner,),
        )

    def heartbeat(self, owner: str) -> None:
        self._write("UPDATE jobs SET heartbeat_at = ? WHERE status = 'running' AND owner = ?", (time.time(), owner))

    def recover(self, me: str, alive: Callable[[str], bool]) -> int:
        """Queue again the running jobs whose owner is gone (``alive(owner)`` false, or a heartbeat
        older than ``LEASE``); fail those interrupted ``MAX_ATTEMPTS`` times. Returns how many."""
        stale = time.time() - LEASE
        rows = self.db.execute("SELECT id, owner, heartbeat_at, attempts FROM jobs WHERE status = 'running'").fetchall()
        changed = 0
        for job_id, owner, beat, attempts in rows:
            if owner == me or (owner and alive(owner) and (beat or 0) >= stale):
                continue
            if attempts >= MAX_ATTEMPTS:
                reason = (
                    f"interrupted {attempts} times (the server stopped while ingesting it); the files done so far "
                    "are indexed, the rest were not: send them again"
                )
                changed += self._write(
                    "UPDATE jobs SET status = 'failed', error = ?, finished_at = ?, owner = NULL "
                    "WHERE id = ? AND status = 'running' AND owner IS ?",
                    (reason, time.time(), job_id, owner),
                )
                self._write("UPDATE job_items SET data = NULL WHERE job_id = ?", (job_id,))
                log.warning("job %s failed: %s", job_id, reason)
            else:
                changed += self._write(
                    "UPDATE jobs SET status = 'queued', owner = NULL "
                    "WHERE id = ? AND status = 'running' AND owner IS ?",
                    (job_id, owner),
                )
                log.warning("job %s was interrupted (owner %s gone); resuming it", job_id, owner)
        return changed

    def prune(self, keep: int, max_age: float) -> int:
        """Delete finished jobs beyond the newest ``keep`` or older than ``max_age`` seconds."""
        done = "status IN ('succeeded', 'failed')"
        n = self._write(f"DELETE FROM jobs WHERE {done} AND finished_at < ?", (time.time() - max_age,))
        n += self._write(
            f"DELETE FROM jobs WHERE {done} AND id NOT IN "
            f"(SELECT id FROM jobs WHERE {done} ORDER BY finished_at DESC LIMIT ?)",
            (keep,),
        )
        return n

    def close(self) -> None:
        with self._lock:
            self.db.close()


# Counts come from the items, so a job's progress is always what its items say.
_COLUMNS = (
    "id, kind, status, created_at, started_at, finished_at, attempts, error, "
    "(SELECT COUNT(*) FROM job_items i WHERE i.job_id = j.id), "
    "(SELECT COUNT(*) FROM job_items i WHERE i.job_id = j.id AND i.status != 'queued'), "
    "(SELECT COUNT(*) FROM job_items i WHERE i.job_id = j.id AND i.status = 'failed'), "
    "(SELECT COALESCE(SUM(bytes), 0) FROM job_items i WHERE i.job_id = j.id), "
    "(SELECT COALESCE(SUM(bytes), 0) FROM job_items i WHERE i.job_id = j.id AND i.status != 'queued'), "
    "(SELECT COALESCE(SUM(json_array_length(results)), 0) FROM job_items i WHERE i.job_id = j.id), "
    "(SELECT COALESCE(SUM((SELECT COALESCE(SUM(json_extract(value, '$.chunks')), 0) FROM json_each(i.results))), 0) "
    " FROM job_items i WHERE i.job_id = j.id AND i.results IS NOT NULL), "
    "item_chunks_embedded, item_chunks_total"
)


def _job(row: Sequence[Any]) -> Job:
    return Job(*row[:8], *(int(v) for v in row[8:15]), *row[15:17])


def _item(row: Sequence[Any]) -> JobItem:
    n, name, size, status, results, error = row
    parsed = tuple(IngestResult(r["id"], r["status"], r["chunks"]) for r in json.loads(results or "[]"))
    return JobItem(n, name, size, status, parsed, tuple(json.loads(error)) if error else None)


def _with_items(job: Job, items: list[JobItem]) -> Job:
    from dataclasses import replace

    return replace(job, items=tuple(items))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class JobRunner:
    """Runs queued jobs one at a time on a thread of its own.

    Args:
        store: the jobs' records.
        documents_of: the documents of one item (``kind``, the job's options, the item's name and
            bytes); raises for an item that cannot be read (that item fails, the rest go on).
        ingest: indexes documents and returns their results (the server's ingestion worker),
            telling its second argument the chunks embedded of the chunks to embed as it goes.
        keep, max_age: finished jobs kept (``JobStore.prune``).
    """

    def __init__(
        self,
        store: JobStore,
        documents_of: Callable[[JobKind, dict[str, Any], str, bytes], list[Document]],
        ingest: Callable[[list[Document], Callable[[int, int], None]], list[IngestResult]],
        keep: int = 1000,
        max_age: float = 7 * 86400,
    ) -> None:
        self.store = store
        self.documents_of = documents_of
        self.ingest = ingest
        self.keep, self.max_age = keep, max_age
        self.token = uuid.uuid4().hex[:12]
        self.owner = f"{os.getpid()}:{self.token}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the thread (once); jobs left running by a dead process are resumed first."""
        with self._start_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name="qa-jobs", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        """Stop after the item in progress; the job it was on is queued again for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.store.release(self.owner)
        except sqlite3.Error:
            log.warning("could not queue the running job again; the next start resumes it", exc_info=True)

    def _alive(self, owner: str) -> bool:
        pid, _, token = owner.partition(":")
        if not pid.isdigit():
            return False
        if int(pid) == os.getpid():
            return token == self.token  # this pid with another token: a previous process (pid reused)
        return _pid_alive(int(pid))

    def _loop(self) -> None:
        last_check = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now - last_check >= LEASE / 3:
                    self.store.recover(self.owner, self._alive)
                    self.store.prune(self.keep, self.max_age)
                    last_check = now
                claimed = self.store.claim(self.owner)
                if claimed is None:
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
                self._run(*claimed)
            except Exception:  # never let the thread die: log and look again
                log.exception("job runner error")
                self._stop.wait(1.0)

    def _run(self, job_id: str, kind: JobKind, options: dict[str, Any], attempt: int) -> None:
        log.info("job %s: started (attempt %d)", job_id, attempt)
        done = threading.Event()
        beat = threading.Thread(target=self._beat, args=(done,), daemon=True)
        beat.start()
        try:
            for n, name, data in self.store.pending(job_id):
                if self._stop.is_set():
                    return  # released by stop(): resumed at the next start
                try:
                    docs = self.documents_of(kind, options, name, data)
                    results = self._ingest(docs, self._chunk_progress(job_id))
                except Exception as exc:
                    if isinstance(exc, _Stopping):
                        return
                    if not isinstance(exc, QAError):
                        log.exception("job %s: item %d (%s) failed", job_id, n, name)
                    self.store.item_done(job_id, n, error=exc)
                else:
                    self.store.item_done(job_id, n, results)
                finally:
                    self.store.item_chunks(job_id, None, None)
            job = self.store.get(job_id, items=False)
            failed = job is not None and job.items_total > 0 and job.items_failed == job.items_total
            self.store.finish(
                job_id,
                "failed" if failed else "succeeded",
                "every item failed; see each item's error" if failed else None,
            )
            log.info("job %s: %s", job_id, "failed" if failed else "succeeded")
        finally:
            done.set()

    def _chunk_progress(self, job_id: str) -> Callable[[int, int], None]:
        """Records an item's chunk progress in the job, at most twice a second (and when it is done)."""
        last = [0.0]

        def record(embedded: int, total: int) -> None:
            now = time.monotonic()
            if embedded >= total or now - last[0] >= 0.5:
                last[0] = now
                try:
                    self.store.item_chunks(job_id, embedded, total)
                except sqlite3.Error:
                    log.warning("job progress not recorded", exc_info=True)

        return record

    def _ingest(self, docs: list[Document], on_chunks: Callable[[int, int], None]) -> list[IngestResult]:
        """``ingest`` waiting its turn: a full ingestion queue is waited out, not a failure."""
        while True:
            try:
                return self.ingest(docs, on_chunks)
            except Busy as exc:
                if self._stop.wait(min(exc.retry_after, 5)):
                    raise _Stopping() from exc

    def _beat(self, done: threading.Event) -> None:
        while not done.wait(HEARTBEAT):
            try:
                self.store.heartbeat(self.owner)
            except sqlite3.Error:
                log.warning("job heartbeat failed", exc_info=True)


class _Stopping(Exception):
    """The server is stopping while a job waits for the ingestion worker."""
