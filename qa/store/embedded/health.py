"""Damage in ``qa.sqlite``: found by SQLite's own check after open or by a read that met it.

SQLite's ``PRAGMA quick_check`` runs in a background thread after open (0.4 s at 300k chunks,
seconds at 1M: see index/README.md), since a store serves meanwhile. A read that meets a damaged
page is an ``IndexCorrupt`` (HTTP 503) and, like the check, records the damage (``problem``) that
``/healthz`` reports; the reads that miss the damaged pages are still served.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.errors import IndexCorrupt, IndexGone
from qa.store.embedded import schema
from qa.store.embedded.schema import DB_FILE

# The store's logger: these messages are the store's, as they were before they moved here.
log = logging.getLogger("qa.store.embedded.store")


class SqliteHealth:
    """What is known wrong with the ``qa.sqlite`` of the index directory ``path``, and the check
    after open that looks for it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # What is wrong with qa.sqlite (damaged pages), found by the check after open or by a read.
        self.problem: str | None = None
        self.checked = threading.Event()  # set when the check after open has finished
        self._checker: threading.Thread | None = None
        self._checker_db: sqlite3.Connection | None = None

    def found_damage(self, detail: str) -> IndexCorrupt:
        """Record damage found in qa.sqlite (logged once) and the error a read that met it raises."""
        db_path = self.path / DB_FILE
        if self.problem is None:
            self.problem = f"index database {db_path} is damaged: {detail}"
            log.warning(
                "%s; reads that touch the damaged pages answer 503, the rest are served; stop the "
                "service and run `qa repair` to recover every readable document",
                self.problem,
            )
        return IndexCorrupt(
            f"index database {db_path} is damaged ({detail}) where this request read; other requests "
            "may still be answered; `qa repair` (service stopped) recovers every readable document"
        )

    @contextmanager
    def damage_is_corrupt(self) -> Iterator[None]:
        """SQLite meeting a damaged page (``database disk image is malformed``) is an ``IndexCorrupt``."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not schema.is_corrupt(exc):
                raise
            raise self.found_damage(str(exc)) from exc

    def check(self) -> list[str]:
        """SQLite's ``quick_check`` of qa.sqlite now, on a connection of its own: what is wrong,
        empty when sound. Damage found is recorded and logged like a read that met it."""
        db = schema.open_existing(self.path / DB_FILE, query_only=True)  # never made by a check
        self._checker_db = db
        try:
            problems = schema.quick_check(db)
        finally:
            self._checker_db = None
            db.close()
        if problems:
            self.found_damage("; ".join(problems[:3]))
        return problems

    def require_sound(self, db: sqlite3.Connection) -> None:
        """SQLite's ``quick_check`` of ``db`` (qa.sqlite, on the caller's connection) before a repair.

        Raises:
            IndexCorrupt: qa.sqlite is damaged (recorded like a read that met it): nothing can be
                rebuilt from it in place.
        """
        damage = schema.quick_check(db)
        if damage:
            self.found_damage("; ".join(damage[:3]))
            raise IndexCorrupt(
                f"index database {self.path / DB_FILE} is damaged ({'; '.join(damage[:3])}); stop the "
                "service and run `qa repair`, which copies every readable document into a new file"
            )

    def start_check(self, check: bool) -> None:
        """Run ``check`` in a background thread (``checked`` is set when it ends), or mark it done."""
        if check:
            self._checker = threading.Thread(target=self._check_after_open, name="qa-sqlite-check", daemon=True)
            self._checker.start()
        else:
            self.checked.set()

    def _check_after_open(self) -> None:
        try:
            self.check()
        except (sqlite3.Error, IndexGone) as exc:  # interrupted by stop_check(), or the file is locked or gone
            log.debug("SQLite check of %s stopped: %s", self.path, exc)
        finally:
            self.checked.set()

    def stop_check(self) -> None:
        """Interrupt the check after open if it still runs, and wait for its thread to end."""
        checker, db = self._checker, self._checker_db
        if checker is not None and checker.is_alive():
            if db is not None:
                try:
                    db.interrupt()  # the check after open is not worth waiting for
                except sqlite3.ProgrammingError:
                    pass  # it finished meanwhile
            checker.join()
