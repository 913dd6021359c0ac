"""Progress of a sync in bytes, with an estimate of the time left: what `qa index` draws.

Files are counted by their size: a file is done when the sync is past it, and the file being
indexed moves with its chunks (``chunks(embedded, total)``), so a 300-page PDF moves the bar as
its 1,500 chunks are embedded instead of holding it for minutes. Bytes rather than chunks because
they are known up front (a file's chunks are known only once it is parsed).

The rate behind the estimate counts only files that were indexed (whose chunks were embedded):
files skipped unread or unchanged take no time, and counting them would promise a rate the
next changed file cannot keep. So the estimate assumes the files left need indexing; a re-sync
of mostly unchanged files ends sooner than it says.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class IndexProgress:
    """Bytes done of the bytes to sync, the file being indexed and its chunks, and the time left.

    Args:
        clock: seconds, monotonic (injected by tests).
    """

    clock: Callable[[], float] = time.monotonic
    total_bytes: int = 0
    files: int = 0
    files_done: int = 0
    current: str | None = None
    chunks_embedded: int = 0  # of the current file
    chunks_total: int = 0
    # Finished files' bytes; of them, those that were indexed, and the seconds they took.
    _done_bytes: int = 0
    _worked_bytes: int = 0
    _worked_seconds: float = 0.0
    _size: int = 0  # the current file's
    _started: float = 0.0
    _sizes: dict[str, int] = field(default_factory=dict)

    def start(self, sizes: Mapping[str, int]) -> None:
        """The files to sync, by name, with their sizes in bytes."""
        self._sizes = dict(sizes)
        self.total_bytes = sum(self._sizes.values())
        self.files = len(self._sizes)

    def begin(self, name: str) -> None:
        """The file ``name`` is being looked at."""
        self.current, self.chunks_embedded, self.chunks_total = name, 0, 0
        self._size = self._sizes.get(name, 0)
        self._started = self.clock()

    def chunks(self, embedded: int, total: int) -> None:
        """The current file's chunks: ``embedded`` of the ``total`` known so far."""
        self.chunks_embedded, self.chunks_total = embedded, total

    def end(self) -> None:
        """The current file is done (indexed, skipped or failed)."""
        if self.current is None:
            return
        if self.chunks_total:
            self._worked_bytes += self._size
            self._worked_seconds += self.clock() - self._started
        self._done_bytes += self._size
        self.files_done += 1
        self.current, self.chunks_embedded, self.chunks_total, self._size = None, 0, 0, 0

    def _partial(self) -> float:
        """The current file's bytes, counted as far as its chunks are embedded."""
        if not self.chunks_total:
            return 0.0
        return self._size * min(self.chunks_embedded / self.chunks_total, 1.0)

    @property
    def done_bytes(self) -> float:
        return min(self._done_bytes + self._partial(), float(self.total_bytes))

    def rate(self) -> float | None:
        """Bytes per second over the files indexed so far and the current one; None before any."""
        nbytes, seconds = float(self._worked_bytes), self._worked_seconds
        if self.chunks_total:
            nbytes += self._partial()
            seconds += self.clock() - self._started
        if nbytes <= 0 or seconds <= 0:
            return None
        return nbytes / seconds

    def eta(self) -> float | None:
        """Seconds left at the rate so far; None until a file has been indexed (no rate yet)."""
        left = self.total_bytes - self.done_bytes
        if left <= 0:
            return 0.0
        rate = self.rate()
        return None if rate is None else left / rate


def format_bytes(n: float) -> str:
    """``n`` bytes in the unit that keeps it short: ``512 B``, ``3.4 kB``, ``12.0 MB``, ``1.2 GB``."""
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def format_eta(seconds: float | None) -> str:
    """``eta 1:05`` (``eta 1:02:03`` past an hour), ``eta ?`` with no estimate yet."""
    if seconds is None:
        return "eta ?"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"eta {h}:{m:02d}:{s:02d}" if h else f"eta {m}:{s:02d}"
