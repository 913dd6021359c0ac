"""The chunk ids a filter allows, cached per (filters, store generation).

A filtered dense search needs the ids of every chunk the filter allows (FAISS is restricted to
them). For a key that sees 1% of 1M chunks that is 10,000 ids, read from SQLite in about 10 ms,
the same for every question the key asks until the index changes. Every change to documents,
their metadata or their access lists bumps the store's generation, so (filters, generation) names
one answer: a hit is as exact as the query it saves, and a write makes every entry stale at once.

The cache is bounded by the ids it holds (``MAX_IDS``): a key that sees most of a big index costs
its ids' memory once, and the least recently used entries go first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from qa.store.embedded.schema import filter_chunk_ids, generation
from qa.store.filters import Filters

# Most chunk ids held in all entries together (8 bytes each: 32 MB). An answer larger than this
# is not cached.
MAX_IDS = 4_000_000


class AllowedIds:
    """``filter_chunk_ids`` with a cache keyed by the filters and SQLite's generation. Thread-safe."""

    def __init__(self, max_ids: int = MAX_IDS) -> None:
        self.max_ids = max_ids
        self._entries: OrderedDict[tuple[Filters, int], np.ndarray] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(
        self, db: sqlite3.Connection, filters: Filters, compute: Callable[[], np.ndarray] | None = None
    ) -> np.ndarray:
        """The ids of the chunks matching ``filters`` in the state ``db`` reads (inside a read
        transaction, so the generation and the ids come from one state), by ``compute`` (default:
        SQLite's ``filter_chunk_ids``) when not cached. Read-only: callers share it."""
        key = (filters, generation(db))
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        ids = compute() if compute is not None else filter_chunk_ids(db, filters)
        ids.setflags(write=False)
        if ids.size > self.max_ids:
            return ids
        with self._lock:
            # The generation only moves forward: entries of others are of a past state.
            for old_key in [k for k in self._entries if k[1] != key[1]]:
                self._held -= self._entries.pop(old_key).size
            if key not in self._entries:
                self._entries[key] = ids
                self._held += ids.size
            while self._held > self.max_ids:
                _, old = self._entries.popitem(last=False)
                self._held -= old.size
        return ids

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0
