"""Concurrent reads of the embedded store, with real FAISS and SQLite: two reads run at the same
time, a write waits for the reads in progress, and a read sees the index before or after a write,
never half of it. A second store opened on the same directory stands in for another process (it
has its own connections and lock, as `qa index` running beside `qa serve` would).

Every wait is bounded (``WAIT``): a read that blocks another fails the test instead of hanging."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa.store import Write
from qa.store.embedded import EmbeddedStore
from qa.store.embedded.faiss_index import IndexOptions
from qa.types import Chunk, Document, Passage

DIM = 16
WAIT = 30.0
DOCS = ("a", "b")


def n_chunks(version: int) -> int:
    return 2 + version % 3  # versions differ in length: a half-applied write shows in the counts


def doc_text(doc_id: str, version: int) -> str:
    return " ".join(f"Note zq{doc_id}v{version} word{j}." for j in range(n_chunks(version)))


def version_writes(version: int) -> list[Write]:
    """Documents a and b at ``version``, one write (one transaction): one chunk per sentence,
    every chunk close to the first axis, so one query finds them all."""
    rng = np.random.default_rng(version)
    writes = []
    for doc_id in DOCS:
        text = doc_text(doc_id, version)
        chunks, pos = [], 0
        for j, sentence in enumerate(text.split(". ")):
            start = text.index(sentence, pos)
            pos = start + len(sentence)
            chunks.append(Chunk(doc_id, j, start, pos, sentence))
        vecs = np.zeros((len(chunks), DIM), dtype=np.float32)
        vecs[:, 0] = 1.0
        vecs[:, 1:] = 0.1 * rng.random((len(chunks), DIM - 1), dtype=np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        doc = Document(id=doc_id, text=text, title=doc_id.upper(), metadata={"version": version})
        writes.append(Write(doc, chunks, vecs, "test"))
    return writes


QUERY = np.eye(DIM, dtype=np.float32)[0]


def versions(passages: list[Passage]) -> set[int]:
    return {int(p.metadata["version"]) for p in passages}


def read_all(store: EmbeddedStore) -> dict[str, object]:
    """One consistent look at the index: dense, lexical and document info in one snapshot."""
    with store.snapshot():
        return {
            "dense": store.search(QUERY, 50),
            "lexical": store.lexical_search(["word0", "word1"], 50),
            "info": {d: store.get(d) for d in DOCS},
        }


def check_whole(seen: dict[str, object]) -> int:
    """The one version every part of a read shows, with every chunk of it; fails otherwise."""
    dense, lexical, info = seen["dense"], seen["lexical"], seen["info"]
    assert isinstance(dense, list) and isinstance(lexical, list) and isinstance(info, dict)
    found = versions(dense) | versions(lexical) | {i.metadata["version"] for i in info.values()}
    assert len(found) == 1, f"one read saw versions {found}"
    (version,) = found
    assert len(dense) == len(DOCS) * n_chunks(version)
    for p in dense + lexical:
        assert doc_text(p.doc_id, version)[p.start : p.end] == p.text
    assert all(i.n_chunks == n_chunks(version) for i in info.values())
    return int(version)


def wait_until(cond: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    s = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    s.write(version_writes(1))
    yield s
    s.close()


def test_two_reads_run_at_the_same_time(store: EmbeddedStore) -> None:
    inside, other_done = threading.Event(), threading.Event()
    result: dict[str, object] = {}

    def hold() -> None:
        with store.snapshot():
            result["first"] = store.search(QUERY, 5)
            inside.set()
            # True only if the other thread's reads completed while this snapshot was held.
            result["overlapped"] = other_done.wait(WAIT)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(WAIT)
    assert store._lock.readers == 1
    dense = store.search(QUERY, 5)
    lexical = store.lexical_search(["word0"], 5)
    counts = store.counts()
    other_done.set()
    holder.join(WAIT)
    assert result["overlapped"] is True
    assert len(dense) == 5 and versions(lexical) == {1} and counts["chunks"] == 2 * n_chunks(1)
    assert store._lock.readers == 0


def test_a_write_waits_for_reads_which_see_the_state_before_it(store: EmbeddedStore) -> None:
    inside, release, written = threading.Event(), threading.Event(), threading.Event()
    during: dict[str, object] = {}

    def hold() -> None:
        with store.snapshot():
            inside.set()
            release.wait(WAIT)
            # The writer now waits for this snapshot; reads inside it still go on, at version 1.
            during.update(read_all(store))

    def write() -> None:
        store.write(version_writes(2))
        written.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(WAIT)
    writer = threading.Thread(target=write)
    writer.start()
    wait_until(lambda: store._lock.writers_waiting == 1)
    assert not written.is_set()
    release.set()
    holder.join(WAIT)
    writer.join(WAIT)
    assert written.is_set()
    assert check_whole(during) == 1
    assert check_whole(read_all(store)) == 2


def test_writing_inside_a_snapshot_fails_instead_of_deadlocking(store: EmbeddedStore) -> None:
    with store.snapshot(), pytest.raises(RuntimeError, match="inside a read"):
        store.write(version_writes(2))
    assert check_whole(read_all(store)) == 1


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_reads_during_writes_see_whole_versions(tmp_path: Path, kind: str) -> None:
    """4 reader threads while a writer replaces both documents 30 times (HNSW: tombstones and
    their selector too): every read shows exactly one version, all of it."""
    store = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM, index_options=IndexOptions(kind=kind))  # type: ignore[arg-type]
    store.write(version_writes(1))
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            deadline = time.monotonic() + WAIT
            while not done.is_set() and time.monotonic() < deadline:
                seen.append(check_whole(read_all(store)))
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        for version in range(2, 32):
            store.write(version_writes(version))
    finally:
        done.set()
        for t in readers:
            t.join(WAIT)
    if errors:
        raise errors[0]
    assert seen and set(seen) <= set(range(1, 32))
    assert check_whole(read_all(store)) == 31
    store.close()


def test_another_process_commit_is_loaded_once_and_never_mixed_into_a_snapshot(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    other = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    inside, committed = threading.Event(), threading.Event()
    during: dict[str, object] = {}

    def hold() -> None:
        with store.snapshot():
            inside.set()
            committed.wait(WAIT)
            # The other store's commit is in SQLite now; this snapshot still reads version 1 in
            # every part (its SQL runs in one read transaction, of the FAISS index's generation).
            during.update(read_all(store))

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(WAIT)
    other.write(version_writes(2))  # does not wait for this process's lock: it is another store
    committed.set()
    holder.join(WAIT)
    assert check_whole(during) == 1

    # Many threads find the new generation at once: one reloads, all then read version 2.
    barrier = threading.Barrier(6)
    results: list[int] = []

    def read_new() -> None:
        barrier.wait(WAIT)
        results.append(check_whole(read_all(store)))

    threads = [threading.Thread(target=read_new) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert results == [2] * 6
    assert store.generation == other.generation
    other.close()


def test_close_closes_the_read_connections(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "idx", model="m", dim=DIM)
    store.write(version_writes(1))
    assert check_whole(read_all(store)) == 1
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.search(QUERY, 5)
