"""The job records (``qa.jobs.JobStore``) on a real SQLite file: a job left running by a process
that is gone is queued again, and failed with a reason after too many interruptions; finished
jobs are pruned; two claimants never take the same job."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from qa.jobs import MAX_ATTEMPTS, JobStore


def test_interrupted_jobs_are_resumed_then_failed_with_a_reason(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create("upload", {"source": "upload"}, [("a.md", b"alpha"), ("b.md", b"beta")])
    assert store.claim("me:1") is not None and store.claim("other:2") is None  # one claimant only
    store.item_done(job.id, 0)
    # The owner died: queued again, and only the item not done is pending.
    assert store.recover("me:2", alive=lambda owner: False) == 1
    assert store.get(job.id).status == "queued"  # type: ignore[union-attr]
    assert [name for _, name, _ in store.pending(job.id)] == ["b.md"]
    # An owner alive with a fresh heartbeat is left alone.
    store.claim("other:3")
    assert store.recover("me:2", alive=lambda owner: True) == 0
    for attempt in range(MAX_ATTEMPTS):
        store.recover("me:2", alive=lambda owner: False)
        store.claim(f"x:{attempt}")
    store.recover("me:2", alive=lambda owner: False)
    failed = store.get(job.id)
    assert failed is not None and failed.status == "failed" and "interrupted" in (failed.error or "")
    assert failed.items_done == 1 and failed.attempts >= MAX_ATTEMPTS
    # Payloads are dropped once a job is over.
    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    assert db.execute("SELECT COUNT(*) FROM job_items WHERE data IS NOT NULL").fetchone()[0] == 0
    store.close()


def test_finished_jobs_are_pruned(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    ids = [store.create("documents", {}, [(f"d{i}", b"{}")]).id for i in range(5)]
    for job_id in ids[:4]:
        store.finish(job_id, "succeeded")
    assert store.prune(keep=2, max_age=3600) == 2
    jobs, total = store.page()
    assert total == 3 and ids[4] in {j.id for j in jobs}  # the queued one is never pruned
    assert store.prune(keep=100, max_age=-1) == 2
    store.close()


def test_a_running_item_reports_its_chunks_embedded(tmp_path: Path) -> None:
    """While an item is embedded, the job shows its chunks embedded of its chunks to embed; between
    items and once done, nothing (the items' results count the chunks written)."""
    import time

    from qa.jobs import JobRunner
    from qa.types import Document, IngestResult

    store = JobStore(tmp_path / "jobs.sqlite")
    seen: list[tuple[int | None, int | None]] = []

    def documents_of(kind: str, options: dict[str, object], name: str, data: bytes) -> list[Document]:
        return [Document(name, data.decode(), name)]

    def ingest(docs: list[Document], on_chunks: Callable[[int, int], None]) -> list[IngestResult]:
        for embedded in (0, 2, 4):
            on_chunks(embedded, 4)
            running = store.get(job.id, items=False)
            assert running is not None
            seen.append((running.item_chunks_embedded, running.item_chunks_total))
        return [IngestResult(d.id, "added", 4) for d in docs]

    job = store.create("upload", {"source": "upload"}, [("a.md", b"alpha"), ("b.md", b"beta")])
    runner = JobRunner(store, documents_of, ingest)  # type: ignore[arg-type]
    runner.start()
    deadline = time.monotonic() + 30
    while (done := store.get(job.id)) is not None and done.status != "succeeded":
        assert time.monotonic() < deadline, done
        time.sleep(0.05)
    runner.stop()
    assert seen[0] == (0, 4) and seen[-1] == (4, 4) and len(seen) == 6
    assert done is not None and (done.item_chunks_embedded, done.item_chunks_total) == (None, None)
    assert done.chunks == 8


def test_processes_opening_the_job_file_together_all_start(tmp_path: Path) -> None:
    """`qa serve --workers N` and replicas on one volume open jobs.sqlite at the same moment."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        assert pool.map(open_job_store, [tmp_path / "jobs.sqlite"] * 12) == [True] * 12


def open_job_store(path: Path) -> bool:
    JobStore(path).close()
    return True
