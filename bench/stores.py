"""Store benchmark: write throughput, query latency and HNSW recall, embedded vs postgres.

Synthetic, clustered, L2-normalized vectors of the model's dimension (384) stand in for chunk
embeddings, so the numbers measure the stores and not the model. The embedded store's FAISS
flat index is exact: it is the reference for the postgres store's HNSW recall@k.

    python -m bench.stores --chunks 20000            # starts a throwaway Postgres (tests/pg.py)
    QA_TEST_PG_URL=postgresql://... python -m bench.stores

Writes bench/results/stores.json and bench/results/stores.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe
from qa.store import Store, Write
from qa.store.embedded import EmbeddedStore
from qa.store.postgres import PostgresStore
from qa.types import Chunk, Document

DIM = 384
CHUNKS_PER_DOC = 4
BATCH_DOCS = 32
OUT = Path(__file__).parent / "results"


def corpus(n_chunks: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors (like real embeddings, unlike uniform noise) and query vectors."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(8, n_chunks // 200), DIM)).astype(np.float32)
    assign = rng.integers(0, len(centers), n_chunks)
    vecs = centers[assign] + 0.6 * rng.normal(size=(n_chunks, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    q = centers[rng.integers(0, len(centers), 200)] + 0.8 * rng.normal(size=(200, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return vecs, q.astype(np.float32)


def writes(vecs: np.ndarray) -> list[list[Write]]:
    batches, batch = [], []
    word = "lorem "
    for d in range(len(vecs) // CHUNKS_PER_DOC):
        text = word * CHUNKS_PER_DOC * 20
        doc = Document(id=f"doc{d:07d}", text=text, title=f"Doc {d}", metadata={"shard": d % 10})
        step = len(word) * 20
        chunks = [Chunk(doc.id, i, i * step, (i + 1) * step, text[i * step : (i + 1) * step]) for i in range(4)]
        batch.append(Write(doc, chunks, vecs[d * CHUNKS_PER_DOC : (d + 1) * CHUNKS_PER_DOC], "bench"))
        if len(batch) == BATCH_DOCS:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


def measure(store: Store, batches: list[list[Write]], queries: np.ndarray, k: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    for b in batches:
        store.write(b)
    store.save()
    write_s = time.perf_counter() - t0
    n = sum(len(w.chunks) for b in batches for w in b)
    lat, results = [], []
    for q in queries:
        t = time.perf_counter()
        results.append([p.chunk_id for p in store.search(q, k)])
        lat.append(time.perf_counter() - t)
    flat = []
    for q in queries[:50]:
        t = time.perf_counter()
        store.search(q, k, {"shard": 3})
        flat.append(time.perf_counter() - t)
    ms = np.asarray(lat) * 1000
    fms = np.asarray(flat) * 1000
    return {
        "chunks": n,
        "write_chunks_per_s": round(n / write_s),
        "search_p50_ms": round(float(np.percentile(ms, 50)), 2),
        "search_p95_ms": round(float(np.percentile(ms, 95)), 2),
        "filtered_p50_ms": round(float(np.percentile(fms, 50)), 2),
        "qps_one_thread": round(1000 / float(ms.mean()), 1),
        "_results": results,
    }


def recall(got: list[list[int]], want: list[list[int]], ids_got: dict[int, str], ids_want: dict[int, str]) -> float:
    hits = total = 0
    for g, w in zip(got, want, strict=True):
        wanted = {ids_want[i] for i in w}
        hits += len({ids_got[i] for i in g} & wanted)
        total += len(wanted)
    return hits / total


def chunk_keys(store: Store) -> dict[int, str]:
    """chunk id -> "doc:ordinal", to compare results across stores whose ids differ."""
    if isinstance(store, EmbeddedStore):
        rows = store.db.execute("SELECT id, doc_id, ordinal FROM chunks").fetchall()
    else:
        assert isinstance(store, PostgresStore)
        with store.pool.connection() as conn:
            rows = conn.execute("SELECT id, doc_id, ordinal FROM chunks").fetchall()
    return {r[0]: f"{r[1]}:{r[2]}" for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=20000)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200])
    args = ap.parse_args()

    from tests.pg import server

    vecs, queries = corpus(args.chunks)
    batches = writes(vecs)
    report: dict[str, Any] = {
        "chunks": args.chunks,
        "dim": DIM,
        "k": args.k,
        "machine": describe(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        emb = EmbeddedStore(Path(tmp) / "idx", model="bench", dim=DIM)
        report["embedded"] = measure(emb, batches, queries, args.k)
        want, want_keys = report["embedded"].pop("_results"), chunk_keys(emb)
        emb.close()
        # FAISS parallelizes one query over OpenMP threads; on a busy small machine one thread is
        # much faster. Measured too, as what QA_* tuning could give the embedded store.
        import faiss

        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        emb1 = EmbeddedStore(Path(tmp) / "idx1", model="bench", dim=DIM)
        report["embedded_1_thread"] = measure(emb1, batches, queries, args.k)
        report["embedded_1_thread"].pop("_results")
        emb1.close()
        faiss.omp_set_num_threads(threads)
    url = server().new_database()
    pg = PostgresStore(url, model="bench", dim=DIM)
    report["postgres"] = measure(pg, batches, queries, args.k)
    got = report["postgres"].pop("_results")
    keys = chunk_keys(pg)
    report["postgres"]["ef_search"] = pg.ef_search
    report["postgres"]["recall_at_k"] = round(recall(got, want, keys, want_keys), 4)
    sweep = []
    for ef in args.ef_search:
        pg.ef_search = ef
        t = time.perf_counter()
        res = [[p.chunk_id for p in pg.search(q, args.k)] for q in queries]
        ms = (time.perf_counter() - t) * 1000 / len(queries)
        sweep.append(
            {"ef_search": ef, "recall_at_k": round(recall(res, want, keys, want_keys), 4), "mean_ms": round(ms, 2)}
        )
    report["postgres_ef_sweep"] = sweep
    report["postgres"]["bytes"] = pg.stats()["bytes_on_disk"]
    pg.close()

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stores.json").write_text(json.dumps(report, indent=2) + "\n")
    e, e1, p = report["embedded"], report["embedded_1_thread"], report["postgres"]
    md = [
        f"# Store benchmark: {args.chunks} chunks, dim {DIM}, k={args.k} ({report['machine']})",
        "",
        "| store | write chunks/s | search p50 ms | search p95 ms | filtered p50 ms | QPS (1 thread) | recall@k |",
        "|---|---|---|---|---|---|---|",
        f"| embedded (FAISS flat, exact) | {e['write_chunks_per_s']} | {e['search_p50_ms']} | {e['search_p95_ms']} "
        f"| {e['filtered_p50_ms']} | {e['qps_one_thread']} | 1.0 |",
        f"| embedded, FAISS on 1 OpenMP thread | {e1['write_chunks_per_s']} | {e1['search_p50_ms']} "
        f"| {e1['search_p95_ms']} | {e1['filtered_p50_ms']} | {e1['qps_one_thread']} | 1.0 |",
        f"| postgres (HNSW, ef_search {p['ef_search']}) | {p['write_chunks_per_s']} | {p['search_p50_ms']} "
        f"| {p['search_p95_ms']} | {p['filtered_p50_ms']} | {p['qps_one_thread']} | {p['recall_at_k']} |",
        "",
        "| ef_search | recall@k | mean ms |",
        "|---|---|---|",
        *(f"| {s['ef_search']} | {s['recall_at_k']} | {s['mean_ms']} |" for s in sweep),
        "",
    ]
    (OUT / "stores.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
