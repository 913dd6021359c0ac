"""Concurrency inside one process: the store's reader/writer lock and its read connections.

Reads run at the same time, each in a read transaction on a pooled SQLite connection of its own;
a write (or reloading the FAISS index after another process's commit) holds the store alone.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from qa.store.embedded.schema import open_existing


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


class ReadConnections:
    """Read-only connections to one SQLite file, one per read in progress, reused: the pool grows
    to the most reads at once."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if self._idle:
                return self._idle.pop()
        # Never made by a read: an index deleted by another process is an ``IndexGone``.
        conn = open_existing(self.db_path, query_only=True)
        with self._lock:
            self._all.append(conn)
        return conn

    def checkin(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if self._closed:
                conn.close()
            else:
                self._idle.append(conn)

    def close(self) -> None:
        """Close every connection; call with no read in progress (the store's write lock held)."""
        with self._lock:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._idle.clear()
            self._all.clear()
