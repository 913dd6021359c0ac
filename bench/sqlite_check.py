"""How long SQLite's own checks take on a large index: ``PRAGMA quick_check`` and
``integrity_check`` over a synthetic ``qa.sqlite`` of realistic row sizes (384-dim float32
vectors, about 1,000 characters of document text per chunk, 10 chunks per document).

    python -m bench.sqlite_check --chunks 100000 300000 --dir /tmp/sqlite-check

Writes ``bench/results/sqlite_check.json`` and ``.md``. Each check runs twice: cold-ish (right
after the build, partly cached) and warm; the numbers are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from qa.store.embedded.schema import DB_FILE, DOC_META_ALL, SCHEMA, TEXT_HASH_INDEX

DIM = 384
CHUNK_CHARS = 1000
CHUNKS_PER_DOC = 10


def build(path: Path, n_chunks: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.execute(TEXT_HASH_INDEX)
    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(5000)]
    n_docs = n_chunks // CHUNKS_PER_DOC
    db.execute("BEGIN")
    for d in range(n_docs):
        text = " ".join(rng.choice(words, CHUNK_CHARS * CHUNKS_PER_DOC // 8))[: CHUNK_CHARS * CHUNKS_PER_DOC]
        db.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, NULL, ?, 'c', ?, 0, 0, NULL)",
            (f"doc-{d:07d}", f"Title {d}", text, json.dumps({"n": d % 7}), f"{d:064x}", CHUNKS_PER_DOC),
        )
        vecs = rng.standard_normal((CHUNKS_PER_DOC, DIM), dtype=np.float32)
        db.executemany(
            'INSERT INTO chunks(doc_id, ordinal, start, "end", heading, vector, text_hash) VALUES (?,?,?,?,?,?,?)',
            [
                (f"doc-{d:07d}", o, o * CHUNK_CHARS, (o + 1) * CHUNK_CHARS, None, vecs[o].tobytes(), f"{d}-{o:028x}")
                for o in range(CHUNKS_PER_DOC)
            ],
        )
        if d % 5000 == 4999:
            db.execute("COMMIT")
            db.execute("BEGIN")
    db.execute(DOC_META_ALL)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def timed(path: Path, pragma: str) -> float:
    db = sqlite3.connect(path)
    t = time.perf_counter()
    result = db.execute(pragma).fetchall()
    took = time.perf_counter() - t
    db.close()
    assert result == [("ok",)], result
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/sqlite-check"))
    ap.add_argument("--out", type=Path, default=Path("bench/results/sqlite_check"))
    args = ap.parse_args()
    rows = []
    for n in args.chunks:
        path = args.dir / f"{n}" / DB_FILE
        t = time.perf_counter()
        build(path, n)
        built = time.perf_counter() - t
        row = {"chunks": n, "documents": n // CHUNKS_PER_DOC, "bytes": path.stat().st_size, "build_s": round(built, 1)}
        for name, pragma in (("quick_check", "PRAGMA quick_check"), ("integrity_check", "PRAGMA integrity_check")):
            row[f"{name}_s"] = [round(timed(path, pragma), 2) for _ in range(2)]
        row["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
        print(json.dumps(row), flush=True)
        rows.append(row)
        path.unlink()
        for extra in path.parent.glob(f"{DB_FILE}-*"):
            extra.unlink()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "| chunks | documents | file | quick_check s (1st, 2nd) | integrity_check s | load |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['chunks']:,} | {r['documents']:,} | {r['bytes'] / 1e9:.2f} GB | {r['quick_check_s']} "
            f"| {r['integrity_check_s']} | {' '.join(r['loadavg'])} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(os.linesep.join(lines))


if __name__ == "__main__":
    main()
