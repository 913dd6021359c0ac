"""Kill writers with SIGKILL at random moments: acknowledged documents survive whole, nothing is half there.

Four kinds of writer, 31 kills in all by default:

- a service writer (17 kills): the property under test is the store's atomicity, so this child
  uses the deterministic hash embedder (fast start-up) with the real SQLite + FAISS store, and
  deletes as well as adds;
- `qa index` itself, with the bundled model (3 kills), re-indexing a directory in which some
  files changed (so it replaces documents as it is killed);
- `qa serve` killed mid-`POST /v1/documents` (3 kills): what got a 2xx must be there, whole;
- a server taking 50-200-document requests (JSON batches and `.jsonl` uploads) killed at random
  moments (``BATCH_KILLS``, 8 here, more while fewer were answered; QA_CRASH_BATCH_KILLS=50 for the
  acceptance run by hand): each answered request is stored exactly as answered, each cut-off one
  whole or not at all.

After each kill the index is reopened and checked: every acknowledged document is there with all
its chunks and searchable (by each chunk's own vector and by a word only it has), no chunk is
without its document, and the FAISS ids are exactly the chunk rows.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.store.embedded import EmbeddedStore

from ..fakes import HashEmbedder

WRITER_KILLS = 17

CHILD = r"""
import sys
from qa.config import Settings
from tests.fakes import HashEmbedder
from qa.service import QAService
from qa.types import Document

svc = QAService(Settings(index_dir=sys.argv[1], chunk_tokens=24, chunk_overlap=4), embedder=HashEmbedder())
i = int(sys.argv[2])
while True:
    text = " ".join(f"Sentence {j} of document {i} mentions token{i}x{j}." for j in range(40))
    svc.add_documents([Document(id=f"doc-{i}", title=f"Doc {i}", text=text)])
    print(f"added doc-{i}", flush=True)
    if i % 3 == 0 and svc.store.get(f"doc-{i - 1}"):
        # Announced first: a delete cut short by the kill may or may not have happened.
        print(f"deleting doc-{i - 1}", flush=True)
        svc.delete(f"doc-{i - 1}")
        print(f"deleted doc-{i - 1}", flush=True)
    i += 1
"""


def test_sigkill_never_loses_acknowledged_documents_or_leaves_half_ones(tmp_path: Path) -> None:
    rng = random.Random(1234)
    present: set[str] = set()
    next_id = 1
    for _round in range(WRITER_KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(next_id)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        assert proc.stdout is not None
        # Start the clock once the writer is writing, however slow its start-up on a busy machine.
        first = proc.stdout.readline()
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        out = first + out
        for line in out.splitlines():
            verb, doc_id = line.split()
            (present.add if verb == "added" else present.discard)(doc_id)  # "deleting" drops the claim too
            next_id = max(next_id, int(doc_id.split("-")[1]) + 1)
        next_id += 1  # the id being written when killed may or may not be there; move on

        store = EmbeddedStore(tmp_path / "default", model="hash-test-embedder", dim=HashEmbedder().dim)
        try:
            db_docs = {r[0]: r[1] for r in store.db.execute("SELECT id, n_chunks FROM documents")}
            assert present <= set(db_docs), f"acknowledged but lost: {present - set(db_docs)}"
            counts = dict(store.db.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
            for doc_id, n in db_docs.items():
                assert counts.get(doc_id, 0) == n, f"{doc_id} is half there"
            assert set(counts) <= set(db_docs), "chunks without a document"
            chunk_ids = {r[0] for r in store.db.execute("SELECT id FROM chunks")}
            assert store.index.ntotal == len(chunk_ids)
            faiss_ids = {int(store.index.id_map.at(i)) for i in range(store.index.ntotal)}  # type: ignore[attr-defined]
            assert faiss_ids == chunk_ids, "FAISS ids without rows"
            for doc_id in sorted(present)[-3:]:
                # Searchable: the document's own chunk vector finds that chunk first.
                chunk_id, blob = store.db.execute(
                    "SELECT id, vector FROM chunks WHERE doc_id = ? ORDER BY ordinal LIMIT 1", (doc_id,)
                ).fetchone()
                hits = store.search(np.frombuffer(blob, dtype=np.float32), 10)
                # The 64-dim hash embedder gives some documents identical vectors ("document 78" and
                # "document 85" hash alike): the chunk must be among the hits tied at the top.
                top = [h for h in hits if h.score > 0.999]
                assert top and hits[0].score > 0.999 and doc_id in {h.doc_id for h in top}
        finally:
            store.close()
    assert len(present) >= WRITER_KILLS, "the writer never got going; the test proved nothing"


# -- `qa index` and `qa serve`, with the bundled model ------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
INDEX_KILLS = 3
SERVER_KILLS = 3


def _text(tag: str, sentences: int = 36) -> str:
    """A document whose every sentence is unique, carrying the word ``zq<tag>`` found nowhere else."""
    words = ["kiln", "otter", "granite", "lantern", "meadow", "copper", "harbor", "violet", "cedar"]
    return " ".join(
        f"Sentence {j} of note zq{tag} says the {words[j % 9]} {words[(j * 7 + len(tag)) % 9]} number {j * 13 + 5}."
        for j in range(sentences)
    )


def _cli_env(index_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QA_INDEX_DIR": str(index_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def check_whole(path: Path, dim: int, versions: dict[str, list[str]], acked: dict[str, str]) -> EmbeddedStore:
    """Reopen the index at ``path`` and check it after a kill; returns the open store.

    ``versions``: every text each document id was ever sent with; ``acked``: the text each
    acknowledged document must have at least (a later, unacknowledged version may have landed)."""
    from qa.config import DEFAULT_MODEL

    store = EmbeddedStore(path, model=DEFAULT_MODEL, dim=dim)
    db_docs = {r[0]: r[1] for r in store.db.execute("SELECT id, n_chunks FROM documents")}
    assert set(acked) <= set(db_docs), f"acknowledged but lost: {set(acked) - set(db_docs)}"
    counts = dict(store.db.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
    assert set(counts) <= set(db_docs), "chunks without a document"
    for doc_id, n in db_docs.items():
        assert counts.get(doc_id, 0) == n, f"{doc_id} is half there"
        text = store.get_text(doc_id)
        sent = versions[doc_id]
        assert text in sent, f"{doc_id} holds text that was never sent"
        if doc_id in acked:  # the acknowledged version or a newer one, never an older one
            assert sent.index(text) >= sent.index(acked[doc_id]), f"{doc_id} went back to an older version"
    chunk_ids = {r[0] for r in store.db.execute("SELECT id FROM chunks")}
    faiss_ids = {int(store.index.id_map.at(i)) for i in range(store.index.ntotal)}  # type: ignore[attr-defined]
    assert faiss_ids == chunk_ids, "FAISS ids without rows, or rows without vectors"
    for doc_id in acked:
        # Fully searchable: each chunk by its own vector, the document by the word only it has.
        for chunk_id, blob in store.db.execute("SELECT id, vector FROM chunks WHERE doc_id = ?", (doc_id,)):
            hits = store.search(np.frombuffer(blob, dtype=np.float32), 1)
            assert hits and hits[0].chunk_id == chunk_id and hits[0].score > 0.999
        marker = store.get_text(doc_id).split()[4]  # type: ignore[union-attr]  # "zq<tag>"
        assert {h.doc_id for h in store.lexical_search([marker], 100)} == {doc_id}
    return store


def _write_corpus(directory: Path, n: int, version: dict[int, int]) -> None:
    for i in range(n):
        (directory / f"note-{i:03}.txt").write_text(_text(f"{i}v{version.get(i, 0)}"))


def _wait_for_rows(db_path: Path, proc: subprocess.Popen[str], at_least: int, timeout: float = 180) -> None:
    """Block until the writer has committed ``at_least`` more documents (it is writing now)."""
    import sqlite3
    from contextlib import closing

    deadline = time.monotonic() + timeout
    start = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)) as db:
                n = db.execute("SELECT value FROM manifest WHERE key = 'generation'").fetchone()
            gen = int(n[0]) if n else 0
        except sqlite3.Error:
            gen = 0
        start = gen if start is None else start
        if gen - start >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError(f"the writer did not start writing (exit code {proc.poll()})")


@pytest.mark.slow
def test_sigkill_qa_index_mid_run(tmp_path: Path, embedder: object) -> None:
    """`qa index` re-indexing a directory, killed at random points: the index stays whole each time,
    and a rerun finishes the job."""
    from qa.config import Settings
    from qa.service import QAService

    rng = random.Random(77)
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    n_files, version = 40, {}
    _write_corpus(corpus, n_files, version)
    sent: dict[str, list[str]] = {str(corpus / f"note-{i:03}.txt"): [_text(f"{i}v0")] for i in range(n_files)}
    # Acknowledged baseline: the first 10 files, indexed to completion in this process.
    svc = QAService(Settings(index_dir=index_dir), embedder=embedder)  # type: ignore[arg-type]
    summary = svc.index_paths(sorted(corpus.iterdir())[:10])
    svc.close()
    assert summary.added == 10
    acked = {d: sent[d][0] for d in sorted(sent)[:10]}
    dim = 384
    for rnd in range(1, INDEX_KILLS + 1):
        # Change a few acknowledged files: this run replaces them (old chunks out, new ones in) as it dies.
        for i in range(rnd - 1, 10, 4):
            version[i] = rnd
            sent[str(corpus / f"note-{i:03}.txt")].append(_text(f"{i}v{rnd}"))
        _write_corpus(corpus, n_files, version)
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", str(corpus), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_cli_env(index_dir),
        )
        try:
            # A random point of its progress (after 1 to 6 files committed), and then a random instant:
            # embedding the next file, inside its commit, or writing the FAISS file.
            _wait_for_rows(index_dir / "default" / "qa.sqlite", proc, at_least=rng.randint(1, 6))
            time.sleep(rng.uniform(0.0, 0.08))
        finally:
            proc.send_signal(signal.SIGKILL)
            out, errs = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"`qa index` ended before the kill: {out} {errs}"
        store = check_whole(index_dir / "default", dim, sent, acked)
        store.close()
    # A rerun completes what the killed runs left, and then every file is there in its last version.
    svc = QAService(Settings(index_dir=index_dir), embedder=embedder)  # type: ignore[arg-type]
    summary = svc.index_paths([corpus])
    svc.close()
    assert summary.failed == [] and summary.added + summary.updated + summary.unchanged == n_files
    store = check_whole(index_dir / "default", dim, sent, {d: v[-1] for d, v in sent.items()})
    store.close()


def _state(svc: Any) -> dict[str, Any]:
    """What a search reads: documents, their chunks and vectors, and the lexical side (which
    chunks each document's marker word finds)."""
    docs, _ = svc.list_documents(0, 1000)
    state: dict[str, Any] = {}
    for d in docs:
        chunks, vectors = svc.store.document_chunks(d.id)
        text = svc.get_text(d.id)
        state[d.id] = (d.title, d.source, d.path, d.content_hash, d.metadata, text, d.n_chunks)
        state[d.id] += ([(c.ordinal, c.start, c.end, c.heading) for c in chunks], vectors.round(5).tobytes())
        # Which chunks the marker's term finds (not their BM25 ranks: tantivy counts deleted
        # entries in its statistics until segments merge, so scores of an updated index drift a little).
        marker = text.split()[4]
        found = svc.store.passages(svc.store.lexical_hits([marker], 10_000))
        state[f"lexical {marker}"] = sorted((p.doc_id, p.ordinal) for p in found)
    return state


@pytest.mark.slow
def test_sigkill_qa_index_sync(tmp_path: Path, embedder: object) -> None:
    """`qa index DIR` syncing edits, renames, deletions and new files, killed at random points:
    the index stays whole and keeps every acknowledged document whose file is still there, and
    the next sync makes it what a fresh build of the folder gives."""
    from qa.config import Settings
    from qa.service import QAService

    rng = random.Random(1818)
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    names = {i: f"note-{i:03}.txt" for i in range(30)}
    sent: dict[str, list[str]] = {}  # every text each id was ever given

    def doc_id(name: str) -> str:
        return str(corpus / name)

    def write(i: int, rnd: int) -> None:
        text = _text(f"{i}v{rnd}")
        (corpus / names[i]).write_text(text)
        sent.setdefault(doc_id(names[i]), []).append(text)

    for i in names:
        write(i, 0)
    svc = QAService(Settings(index_dir=index_dir), embedder=embedder)  # type: ignore[arg-type]
    assert svc.index_paths([corpus]).added == 30
    svc.close()
    acked = {doc_id(n): sent[doc_id(n)][-1] for n in names.values()}  # acknowledged by that sync
    for rnd in range(1, INDEX_KILLS + 1):
        live = sorted(names)
        # Enough changes that the kill (after 1 to 4 commits) comes with work left to do.
        for i in rng.sample(live, 10):  # edits: the acknowledged version or a newer one must stay
            write(i, rnd)
        for i in rng.sample(live, 2):  # deletions: the document may go
            (corpus / names[i]).unlink()
            acked.pop(doc_id(names.pop(i)), None)
        for i in rng.sample(sorted(names), 2):  # renames: the old id may go, the new one may come
            old, new = names[i], f"renamed-{i:03}-{rnd}.txt"
            (corpus / old).rename(corpus / new)
            sent.setdefault(doc_id(new), []).append((corpus / new).read_text())
            acked.pop(doc_id(old), None)
            names[i] = new
        for i in range(100 * rnd, 100 * rnd + 4):  # new files
            names[i] = f"note-{i:03}.txt"
            write(i, rnd)
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", str(corpus), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_cli_env(index_dir),
        )
        try:
            _wait_for_rows(index_dir / "default" / "qa.sqlite", proc, at_least=rng.randint(1, 4))
            time.sleep(rng.uniform(0.0, 0.08))
        finally:
            proc.send_signal(signal.SIGKILL)
            out, errs = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"`qa index` ended before the kill: {out} {errs}"
        check_whole(index_dir / "default", 384, sent, acked).close()
    # The next sync finishes the job: the index is the one a fresh build of the folder makes.
    svc = QAService(Settings(index_dir=index_dir), embedder=embedder)  # type: ignore[arg-type]
    summary = svc.index_paths([corpus])
    assert summary.failed == [] and summary.added + summary.updated + summary.unchanged == len(names)
    fresh = QAService(Settings(index_dir=tmp_path / "fresh"), embedder=embedder)  # type: ignore[arg-type]
    fresh.index_paths([corpus])
    try:
        assert {d.id for d in fresh.list_documents(0, 1000)[0]} == {doc_id(n) for n in names.values()}
        assert _state(svc) == _state(fresh)
    finally:
        svc.close()
        fresh.close()
    check_whole(index_dir / "default", 384, sent, {doc_id(n): sent[doc_id(n)][-1] for n in names.values()}).close()


@pytest.mark.slow
def test_sigkill_server_mid_post(tmp_path: Path) -> None:
    """`qa serve` killed while clients POST documents: every 2xx document is there, whole."""
    import threading

    import httpx

    from tests.live_server import free_port

    rng = random.Random(99)
    index_dir = tmp_path / "index"
    sent: dict[str, list[str]] = {}
    acked: dict[str, str] = {}
    lock = threading.Lock()
    for rnd in range(SERVER_KILLS):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=_cli_env(index_dir),
        )
        stop = threading.Event()
        cut: list[str] = []  # requests the kill cut off mid-flight

        def client(
            tid: int, rnd: int = rnd, base: str = base, cut: list[str] = cut, stop: threading.Event = stop
        ) -> None:
            n = 0
            with httpx.Client(base_url=base, timeout=120) as c:
                while not stop.is_set() and n < 200:
                    docs = [{"id": f"r{rnd}t{tid}n{n + j}", "text": _text(f"r{rnd}t{tid}n{n + j}")} for j in range(3)]
                    n += 3
                    with lock:
                        for d in docs:
                            sent[d["id"]] = [d["text"]]
                    try:
                        r = c.post("/v1/documents", json={"documents": docs})
                    except httpx.ConnectError:
                        return  # the server was already gone
                    except httpx.TransportError as exc:
                        cut.append(type(exc).__name__)  # killed while this POST was in flight
                        return
                    assert r.status_code == 201, r.text
                    with lock:
                        for d, res in zip(docs, r.json()["results"], strict=True):
                            assert res["id"] == d["id"] and res["chunks"] > 1
                            acked[d["id"]] = d["text"]

        try:
            deadline = time.monotonic() + 180
            while True:
                assert proc.poll() is None, f"qa serve exited: {proc.stderr.read() if proc.stderr else ''}"
                assert time.monotonic() < deadline, "qa serve did not start"
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            before = len(acked)
            threads = [threading.Thread(target=client, args=(t,)) for t in range(2)]
            for t in threads:
                t.start()
            while len(acked) < before + 3 and time.monotonic() < deadline:  # at least one batch acknowledged
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            stop.set()
        for t in threads:
            t.join(timeout=60)
        assert cut, "no POST was in flight when the server was killed"
        store = check_whole(index_dir / "default", 384, sent, acked)
        store.close()
    assert len(acked) >= 3 * SERVER_KILLS


# -- whole requests: large batches and .jsonl uploads, all or nothing ---------------------------

# Kills of a server taking large batches; QA_CRASH_BATCH_KILLS=50 runs the acceptance count by hand.
BATCH_KILLS = int(os.environ.get("QA_CRASH_BATCH_KILLS", "8"))

SERVER_CHILD = r"""
import sys
import uvicorn
from qa.api import create_app
from qa.config import Settings
from qa.service import QAService
from tests.fakes import HashEmbedder

settings = Settings(index_dir=sys.argv[1], chunk_tokens=24, chunk_overlap=4)
svc = QAService(settings, embedder=HashEmbedder())
uvicorn.run(create_app(settings, service=svc), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _batch(tag: str, n: int) -> list[dict[str, str]]:
    return [
        {
            "id": f"{tag}-{j}",
            "title": f"T {tag}",
            "text": " ".join(f"Line {k} of {tag} item {j} word w{j}x{k}." for k in range(8)),
        }
        for j in range(n)
    ]


def test_sigkill_server_mid_batch_or_upload_leaves_whole_requests(tmp_path: Path) -> None:
    """A server killed while it takes 50-200-document batches (JSON, and .jsonl uploads): each
    request the client got a 201 for is stored exactly as answered (every id, its text, its chunk
    count), each request cut off by the kill is stored whole or not at all, and nothing else is."""
    import json
    import threading

    import httpx

    from tests.live_server import free_port

    rng = random.Random(2024)
    index_dir = tmp_path / "index"
    sent: dict[str, list[dict[str, str]]] = {}  # request tag -> its documents
    answered: dict[str, list[dict[str, object]]] = {}  # request tag -> the results the client was told
    cut_total = 0
    # At least BATCH_KILLS kills; on a loaded machine a request can outlast the random kill moment
    # of several rounds, so more rounds (at most 3x) run until enough requests were answered.
    for rnd in range(3 * BATCH_KILLS):
        if rnd >= BATCH_KILLS and len(answered) >= BATCH_KILLS and cut_total >= BATCH_KILLS // 2:
            break
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER_CHILD, str(index_dir), str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, f"server exited: {proc.stderr.read() if proc.stderr else ''}"
                assert time.monotonic() < deadline, "server did not start"
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            # The kill comes at a random moment of the stream of requests: mostly inside one.
            timer = threading.Timer(rng.uniform(0.05, 2.0), proc.kill)
            timer.start()
            with httpx.Client(base_url=base, timeout=120) as client:
                n = 0
                while True:
                    tag = f"r{rnd}q{n}"
                    n += 1
                    docs = _batch(tag, rng.randint(50, 200))
                    sent[tag] = docs
                    if n % 2:
                        kwargs: dict[str, object] = {"json": {"documents": docs}}
                    else:
                        body = "\n".join(json.dumps(d) for d in docs).encode()
                        kwargs = {"files": {"file": (f"{tag}.jsonl", body, "application/jsonl")}}
                    try:
                        r = client.post("/v1/documents", **kwargs)  # type: ignore[arg-type]
                    except httpx.ConnectError:
                        break  # already gone: this one was never received
                    except httpx.TransportError:
                        cut_total += 1  # in flight when the server died
                        break
                    assert r.status_code == 201, r.text
                    answered[tag] = r.json()["results"]
            timer.join()
        finally:
            proc.kill()
            proc.communicate(timeout=30)

        store = EmbeddedStore(index_dir / "default", model="hash-test-embedder", dim=HashEmbedder().dim)
        try:
            db_docs = {r[0]: (r[1], r[2]) for r in store.db.execute("SELECT id, text, n_chunks FROM documents")}
            counts = dict(store.db.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())
            texts = {d["id"]: d["text"] for docs in sent.values() for d in docs}
            assert set(db_docs) <= set(texts), "documents that were never sent"
            for tag, docs in sent.items():
                there = [d["id"] in db_docs for d in docs]
                if tag in answered:  # exactly what the client was told
                    assert all(there), f"{tag}: acknowledged but {there.count(False)} of {len(docs)} lost"
                    for res in answered[tag]:
                        doc_id = str(res["id"])
                        assert res["status"] == "added" and db_docs[doc_id][1] == res["chunks"]
                else:  # cut off by the kill: whole or nothing
                    assert all(there) or not any(there), f"{tag}: {there.count(True)} of {len(docs)} stored"
            for doc_id, (text, n_chunks) in db_docs.items():
                assert text == texts[doc_id] and counts.get(doc_id, 0) == n_chunks, f"{doc_id} is half there"
            assert store.verify() == []
        finally:
            store.close()
    assert len(answered) >= BATCH_KILLS and cut_total >= BATCH_KILLS // 2, (len(answered), cut_total)
