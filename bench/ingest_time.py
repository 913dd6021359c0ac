"""`python -m bench.ingest_time DATASET [--runs 3] [--before OLD_CHECKOUT]`: ingestion of a dataset's
corpus into a fresh embedded index, and the lexical index alone rebuilt from SQLite, interleaved
with another checkout when given. Prints one JSON line per run and the medians.

Each run is a fresh process (this file run with ``--one``, the checkout first on PYTHONPATH). The
model is loaded before the clock starts, so the time is chunking, embedding and writing. For a
change to the lexical index, the rebuild times isolate its cost from embedding's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(dataset: Path, rebuilds: int) -> dict[str, object]:
    from evals.data import load
    from qa.config import Settings
    from qa.service import QAService
    from qa.store.embedded import EmbeddedStore
    from qa.store.embedded.schema import Transaction, generation

    corpus = load(dataset).corpus
    tmp = Path(tempfile.mkdtemp(prefix="ingest-time-"))
    svc = QAService(Settings(index_dir=tmp, index_name="t"))
    try:
        _ = svc.embedder, svc.store  # the model and the index opened before the clock starts
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        svc.add_documents(corpus)
        seconds = time.perf_counter() - t0
        store = svc.store
        assert isinstance(store, EmbeddedStore)
        chunks = int(store.stats()["chunks"])
        lexical = []
        for _ in range(rebuilds):
            with store._writing(), Transaction(store.db):
                t = time.perf_counter()
                store.lexical.rebuild_from(store.db, generation(store.db))
                lexical.append(round(time.perf_counter() - t, 3))
        return {
            "chunks": chunks,
            "ingest_s": round(seconds, 2),
            "chunks_per_s": round(chunks / seconds, 1),
            "lexical_rebuild_s": lexical,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "lexical_spec": store.lexical.spec,
        }
    finally:
        svc.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "dataset", type=Path, help="dataset directory (corpus.jsonl), e.g. ../shared/datasets/squad_v1.1_dev"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuilds", type=int, default=3, help="lexical rebuilds per run")
    parser.add_argument("--before", type=Path, help="another checkout, run interleaved as 'before'")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.dataset, args.rebuilds)))
        return
    variants = [("before", args.before.resolve())] if args.before else []
    variants.append(("this", ROOT))
    results: dict[str, list[dict[str, object]]] = {name: [] for name, _ in variants}
    for _ in range(args.runs):
        for name, code in variants:
            env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"}
            # By path: the other checkout's own ``bench`` package would hide this module.
            cmd = [sys.executable, __file__, str(args.dataset), "--one", "--rebuilds", str(args.rebuilds)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=code)
            row = {"variant": name, "code": str(code), **json.loads(out.stdout.strip().splitlines()[-1])}
            results[name].append(row)
            print(json.dumps(row), flush=True)
    for name, rows in results.items():
        rebuilds = [float(x) for r in rows for x in r["lexical_rebuild_s"]]  # type: ignore[attr-defined]
        print(
            f"{name}: ingest median {statistics.median(float(r['ingest_s']) for r in rows):.2f} s "  # type: ignore[arg-type]
            f"({statistics.median(float(r['chunks_per_s']) for r in rows):.1f} chunks/s), "  # type: ignore[arg-type]
            f"lexical rebuild median {statistics.median(rebuilds):.3f} s"
        )


if __name__ == "__main__":
    main()
