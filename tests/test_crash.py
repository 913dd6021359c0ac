"""Kill a writer with SIGKILL at random moments: acknowledged documents survive whole, nothing is half there.

The property under test is the store's atomicity, so the child uses the deterministic hash
embedder (fast start-up) with the real SQLite + FAISS store.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from qa.embed import HashEmbedder
from qa.store.embedded import EmbeddedStore

CHILD = r"""
import sys
from qa.config import Settings
from qa.embed import HashEmbedder
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
    for _round in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(next_id)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        assert proc.stdout is not None
        # Start the clock once the writer is writing, however slow its start-up on a busy machine.
        first = proc.stdout.readline()
        time.sleep(rng.uniform(0.2, 2.0))
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
                hits = store.search(np.frombuffer(blob, dtype=np.float32), 1)
                assert hits and hits[0].doc_id == doc_id and hits[0].score > 0.999
        finally:
            store.close()
    assert len(present) >= 6, "the writer never got going; the test proved nothing"
