"""A full disk (or a file size limit, or a quota) met by the embedded store: a write it refused
stored nothing, and a FAISS file it refused is only postponed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.errors import StorageFull
from qa.store.base import is_disk_full
from qa.store.embedded.vectors import VectorIndex

# The store's logger: this message is the store's, as it was before it moved here.
log = logging.getLogger("qa.store.embedded.store")


@contextmanager
def nothing_written(path: Path) -> Iterator[None]:
    """A write the disk refused (SQLite's transaction rolled back, tantivy's writer too) is a
    ``StorageFull``: nothing of it is stored. A lexical commit that landed before SQLite's
    failed one is ahead of SQLite, and is rebuilt by the next write (``before_write``)."""
    try:
        yield
    except Exception as exc:
        if is_disk_full(exc):
            raise StorageFull(
                f"the disk holding index {path} is full (or over a file size limit): nothing "
                f"of this write was stored ({exc}); free space and send it again"
            ) from exc
        raise


def save_or_postpone(mirror: VectorIndex, path: Path) -> None:
    """Save the FAISS file; a full disk only postpones it (the data is committed in SQLite,
    and the next save or open catches the file up)."""
    try:
        mirror.save(force=False)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        log.warning("could not save %s (%s); SQLite holds every write, the next save catches it up", path, exc)
