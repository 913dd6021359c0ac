"""`qa watch` as a real subprocess on real files: the index follows creates, edits, renames and
deletes within seconds; a bad file is reported and the rest still sync; SIGTERM exits 0; a folder
that disappears is an error. And the chunk progress `qa index`'s bar is drawn from."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.service import QAService

# Bounds: the first sync loads the model (and may export it, about 30 s, on a cold cache).
FIRST_SYNC_S = 240.0
FOLLOW_S = 20.0


def env(index_dir: Path) -> dict[str, str]:
    return {**os.environ, "QA_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}


def qa(index_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env(index_dir), timeout=120
    )


class Watch:
    """A running `qa watch --json`, its JSON lines read on a thread."""

    def __init__(self, index_dir: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "watch", *args, "--json", "--debounce", "0.5"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(index_dir),
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def next_sync(self, timeout: float) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no sync within {timeout} s; stderr: {''.join(self.stderr)}") from None

    def stop(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def watching() -> Iterator[Callable[..., Watch]]:
    started: list[Watch] = []

    def start(index_dir: Path, *args: str) -> Watch:
        w = Watch(index_dir, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


def listed(index_dir: Path) -> dict[str, dict[str, Any]]:
    r = qa(index_dir, "list", "--json", "--limit", "1000")
    assert r.returncode == 0, r.stderr
    return {d["id"]: d for d in json.loads(r.stdout)["documents"]}


def found(index_dir: Path, words: str) -> list[str]:
    r = qa(index_dir, "search", words, "--mode", "lexical", "-k", "5", "--json")
    assert r.returncode == 0, r.stderr
    return [p["doc_id"] for p in json.loads(r.stdout)["passages"]]


def eventually(w: Watch, check: Callable[[], bool], what: str, timeout: float = FOLLOW_S) -> float:
    """Seconds until ``check()`` holds; fails after ``timeout`` with what ``w`` printed."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.3)
    syncs = []
    while not w.lines.empty():
        syncs.append(w.lines.get())
    raise AssertionError(f"{what}: not within {timeout} s; syncs {syncs}; stderr {''.join(w.stderr)}")


def test_the_index_follows_the_folder(tmp_path: Path, watching: Callable[..., Watch]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kiln.txt").write_text("The kiln room is open on Mondays.")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF at all")
    # The index lives inside the watched folder (as `index/` does in a project watched with
    # `qa watch .`): its own writes must neither be indexed nor start syncs without end.
    index_dir = docs / "index"
    w = watching(index_dir, str(docs))
    first = w.next_sync(FIRST_SYNC_S)
    # The bad file is reported (in the sync's line and on stderr); the rest is synced.
    assert first["added"] == 1 and [f["path"] for f in first["failed"]] == [str(docs / "broken.pdf")]
    assert str(docs / "kiln.txt") in listed(index_dir)

    (docs / "glaze.md").write_text("# Glazes\nGlazes are mixed in the back room on Tuesdays.")
    eventually(w, lambda: str(docs / "glaze.md") in listed(index_dir), "a new file is added")

    (docs / "kiln.txt").write_text("The kiln room is open on Saturdays only.")
    eventually(w, lambda: found(index_dir, "Saturdays") == [str(docs / "kiln.txt")], "an edit is re-indexed")
    assert found(index_dir, "Mondays") == []

    (docs / "glaze.md").rename(docs / "glazes.md")
    eventually(
        w,
        lambda: {str(docs / "glazes.md")} <= set(listed(index_dir)) and str(docs / "glaze.md") not in listed(index_dir),
        "a rename moves the document",
    )
    (docs / "kiln.txt").unlink()
    eventually(w, lambda: set(listed(index_dir)) == {str(docs / "glazes.md")}, "a deleted file's document goes")

    # Settled: no more syncs come by themselves (the index's own writes are not changes).
    time.sleep(1.5)
    while not w.lines.empty():
        w.lines.get()
    time.sleep(3)
    assert w.lines.empty(), w.lines.get()
    assert "broken.pdf" in "".join(w.stderr)

    assert w.stop() == 0
    assert "stopped" in "".join(w.stderr)


def test_source_meta_and_no_delete(tmp_path: Path, watching: Callable[..., Watch]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Otters hold hands while they sleep.")
    index_dir = tmp_path / "index"
    w = watching(index_dir, str(docs), "--source", "notes", "--meta", "team=zoo", "--no-delete")
    assert w.next_sync(FIRST_SYNC_S)["added"] == 1
    assert listed(index_dir)["notes/a.txt"]["metadata"]["team"] == "zoo"
    (docs / "a.txt").unlink()
    (docs / "b.txt").write_text("Beavers build dams from branches and mud.")
    eventually(w, lambda: "notes/b.txt" in listed(index_dir), "a new file is added")
    assert "notes/a.txt" in listed(index_dir)  # --no-delete
    assert w.stop() == 0


def test_a_folder_that_disappears_is_an_error(tmp_path: Path, watching: Callable[..., Watch]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Otters hold hands while they sleep.")
    index_dir = tmp_path / "index"
    w = watching(index_dir, str(docs))
    w.next_sync(FIRST_SYNC_S)
    docs.rename(tmp_path / "elsewhere")
    assert w.proc.wait(timeout=FOLLOW_S) == 1
    err = "".join(w.stderr)
    assert f"the watched folder '{docs}' is gone" in err and "Traceback" not in err
    assert str(docs / "a.txt") in listed(index_dir)  # its documents stay


def test_watch_refuses_what_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Otters.")
    for path, message in ((tmp_path / "a.txt", "is not a folder"), (tmp_path / "nope", "does not exist")):
        r = qa(tmp_path / "index", "watch", str(path))
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_chunk_progress_moves_within_a_document(tmp_path: Path, make_service: Callable[..., QAService]) -> None:
    """What the progress bar draws: a file's chunks embedded of its total, several steps for one
    long document (not one jump at its end), ending at the chunks written."""
    docs = tmp_path / "docs"
    docs.mkdir()
    paragraphs = [f"Paragraph {i} is about the otter number {i} and the river it swims in." for i in range(400)]
    (docs / "long.txt").write_text("\n\n".join(paragraphs))
    (docs / "short.txt").write_text("Beavers build dams.")
    svc = make_service(chunk_tokens=32, chunk_overlap=0)
    seen: list[tuple[str, int, int]] = []
    current: list[str] = []
    started: list[list[Path]] = []
    summary = svc.index_paths(
        [docs],
        on_start=started.append,
        on_begin=lambda p: current.append(p.name),
        on_chunks=lambda done, total: seen.append((current[-1], done, total)),
    )
    assert sorted(p.name for p in started[0]) == ["long.txt", "short.txt"]
    long = [(d, t) for name, d, t in seen if name == "long.txt"]
    assert len(long) >= 3 and long[-1][0] == long[-1][1] == svc.get(str(docs / "long.txt")).n_chunks
    assert all(a <= b for (a, _), (b, _) in zip(long, long[1:], strict=False))
    assert [(d, t) for name, d, t in seen if name == "short.txt"][-1] == (1, 1)
    assert summary.chunks_written == sum(svc.get(str(docs / n)).n_chunks for n in ("long.txt", "short.txt"))
    # Unchanged files embed nothing and report no chunks.
    seen.clear()
    svc.index_paths([docs], on_begin=lambda p: current.append(p.name), on_chunks=lambda d, t: seen.append(("", d, t)))
    assert seen == []
