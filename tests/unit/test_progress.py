"""The indexing progress model (bytes, the current file's chunks, the time left) and the watcher's
debounce, as pure logic on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.progress import IndexProgress, format_bytes, format_eta
from qa.watch import Pending


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bytes_move_with_the_current_files_chunks() -> None:
    clock = Clock()
    p = IndexProgress(clock=clock)
    p.start({"a.txt": 1000, "big.pdf": 9000})
    assert (p.total_bytes, p.files, p.done_bytes) == (10_000, 2, 0)
    assert p.eta() is None  # no rate before anything was indexed

    p.begin("a.txt")
    p.chunks(0, 2)
    clock.now += 1
    p.chunks(2, 2)
    p.end()
    assert (p.done_bytes, p.files_done, p.current) == (1000, 1, None)
    assert p.eta() == pytest.approx(9.0)  # 1000 B/s, 9000 B left

    p.begin("big.pdf")
    assert p.current == "big.pdf" and p.done_bytes == 1000  # parsing: no chunks known yet
    clock.now += 2
    p.chunks(64, 256)
    assert p.done_bytes == pytest.approx(1000 + 9000 * 0.25)
    # 1000 B in 1 s, then 2250 B in 2 s: 3250 B in 3 s.
    assert p.rate() == pytest.approx(3250 / 3)
    assert p.eta() == pytest.approx((10_000 - 3250) / (3250 / 3))
    p.chunks(256, 256)
    p.end()
    assert p.done_bytes == p.total_bytes and p.eta() == 0.0


def test_files_skipped_unchanged_do_not_make_the_rate() -> None:
    """An unchanged file is done at once: counting it would promise a rate the next changed file
    cannot keep."""
    clock = Clock()
    p = IndexProgress(clock=clock)
    p.start({f"f{i}.txt": 1000 for i in range(10)})
    for i in range(8):
        p.begin(f"f{i}.txt")
        p.end()  # no chunks: skipped unread
    assert p.done_bytes == 8000 and p.rate() is None and p.eta() is None
    p.begin("f8.txt")
    p.chunks(0, 4)
    clock.now += 4
    p.chunks(4, 4)
    p.end()
    assert p.eta() == pytest.approx(4.0)  # 1000 B left at 250 B/s


def test_a_file_not_in_the_list_counts_nothing() -> None:
    p = IndexProgress(clock=Clock())
    p.start({"a.txt": 10})
    p.begin("other.txt")
    p.chunks(1, 1)
    p.end()
    assert p.done_bytes == 0 and p.files_done == 1
    p.end()  # no current file: nothing happens
    assert p.files_done == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "eta ?"), (0, "eta 0:00"), (65.4, "eta 1:05"), (3723, "eta 1:02:03")],
)
def test_format_eta(seconds: float | None, text: str) -> None:
    assert format_eta(seconds) == text


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (999, "999 B"), (3400, "3.4 kB"), (12_000_000, "12.0 MB"), (1.2e9, "1.2 GB")]
)
def test_format_bytes(n: float, text: str) -> None:
    assert format_bytes(n) == text


def test_changes_are_batched_until_the_folder_is_quiet() -> None:
    a, b = Path("/a"), Path("/b")
    pending = Pending(quiet=1.0, longest=10.0)
    assert pending.wait(0.0) is None and pending.due(0.0) == []
    pending.note(a, 0.0)
    pending.note(a, 0.5)
    pending.note(b, 0.9)
    assert pending.wait(0.5) == pytest.approx(1.0)  # a is due at 1.5
    assert pending.due(1.4) == []
    assert pending.due(1.5) == [a]
    assert pending.due(1.8) == [] and pending.due(1.9) == [b]
    assert pending.wait(2.0) is None


def test_a_folder_that_never_settles_is_synced_every_longest() -> None:
    a = Path("/a")
    pending = Pending(quiet=1.0, longest=10.0)
    t = 0.0
    while t < 10.0:
        pending.note(a, t)
        assert pending.due(t) == []
        t += 0.5
    assert pending.due(10.0) == [a]


def test_a_retry_at_a_later_time_waits_for_it() -> None:
    a = Path("/a")
    pending = Pending(quiet=1.0, longest=10.0)
    pending.note(a, 5.0)  # a failed sync at 0, to retry after 5 s
    assert pending.due(1.0) == [] and pending.wait(1.0) == pytest.approx(5.0)
    assert pending.due(6.0) == [a]
