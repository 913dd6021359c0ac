"""Scale test: the embedded store with 1M chunks on one machine.

    python -m bench.scale --chunks 1000000

The text store is real: documents made of real sentences (SciFact abstracts), four chunks each,
written through ``EmbeddedStore.write`` in batches (SQLite rows, tantivy lexical index), then saved, which
builds the FAISS index the chunk count calls for (HNSW past ``QA_FAISS_HNSW_THRESHOLD``).

The vectors are synthetic but shaped like real ones: each is a real all-MiniLM-L6-v2 chunk vector
of SciFact (from ``--base-vectors``, an index built by ``qa eval``), moved by Gaussian noise that
follows the real vectors' own covariance (so it stays in the directions the model uses), then
L2-normalized. A generated chunk keeps a cosine of about 0.84 with its source, like a paraphrase;
queries are noisier (about 0.77). Without base vectors, a low-rank Gaussian mixture stands in.
Blocks are generated from a seed, so exact search can stream over them again without keeping 1M
vectors in memory.

Reported: build time (text store vs vector index), peak RSS, disk, and from a fresh process the
cold start (open the store, load the index, answer a first query) and query latency p50/p95
(``EmbeddedStore.search``: FAISS plus fetching passages from SQLite), Recall@10 against exact
search for a sweep of ``efSearch``, and exact flat search time by size (why the threshold).

Writes bench/results/scale.json and scale.md (``--out`` to change).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results"
CORPUS = ROOT.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
QUESTIONS = CORPUS.with_name("queries.jsonl")
DIM = 384
K = 10
CHUNKS_PER_DOC = 4
SENTENCES_PER_CHUNK = 2
BATCH_DOCS = 64
GEN_BLOCK = 8192
DOC_NOISE, QUERY_NOISE = 0.7, 0.9
SHARDS = 100
# The bundled model's name: the vectors are perturbed vectors of it, and `qa serve` opens the index.
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Vectors:
    """Deterministic synthetic chunk vectors, generated block by block."""

    def __init__(self, base: Path | None, seed: int = 0) -> None:
        self.seed = seed
        rng = np.random.default_rng(seed)
        if base is not None:
            import sqlite3

            db = sqlite3.connect(f"file:{base}?mode=ro", uri=True)
            rows = db.execute("SELECT vector FROM chunks").fetchall()
            db.close()
            self.sources = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            self.kind = f"perturbed real all-MiniLM-L6-v2 vectors ({len(rows)} SciFact chunks from {base})"
        else:
            # A mixture of 4,000 centres in a 48-dim subspace: low intrinsic dimension, like embeddings.
            basis = rng.normal(size=(48, DIM)).astype(np.float32)
            centres = rng.normal(size=(4000, 48)).astype(np.float32) @ basis
            self.sources = centres / np.linalg.norm(centres, axis=1, keepdims=True)
            self.kind = "Gaussian mixture, 4,000 centres in a 48-dim subspace"
        if self.sources.shape[1] != DIM:
            raise SystemExit(f"base vectors have dim {self.sources.shape[1]}, expected {DIM}")
        centred = self.sources - self.sources.mean(axis=0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        # Noise z @ diag(std) @ vt has the sources' covariance.
        self.noise_basis = (s[:, None] / np.sqrt(len(centred)) * vt).astype(np.float32)

    def _perturb(self, rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
        src = self.sources[rng.integers(0, len(self.sources), n)]
        z = rng.normal(size=(n, len(self.noise_basis))).astype(np.float32)
        x = src + scale * (z @ self.noise_basis)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def block(self, start: int, n: int) -> np.ndarray:
        """Chunk vectors ``start`` to ``start + n`` (``start`` a multiple of GEN_BLOCK)."""
        return self._perturb(np.random.default_rng([self.seed, start]), n, DOC_NOISE)

    def blocks(self, total: int) -> Any:
        for start in range(0, total, GEN_BLOCK):
            yield start, self.block(start, min(GEN_BLOCK, total - start))

    def queries(self, n: int) -> np.ndarray:
        return self._perturb(np.random.default_rng([self.seed, 1 << 40]), n, QUERY_NOISE)


def sentences(limit: int = 200_000) -> tuple[list[str], list[str]]:
    """Real sentences and titles from the SciFact corpus."""
    sents, titles = [], []
    with open(CORPUS, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            titles.append(row["title"])
            sents += [s for s in re.split(r"(?<=[.!?])\s+", row["text"]) if 20 <= len(s) <= 400]
            if len(sents) >= limit:
                break
    return sents, titles


def build(path: Path, n_chunks: int, vectors: Vectors, options: Any) -> dict[str, Any]:
    from qa.store import Write
    from qa.store.embedded import EmbeddedStore
    from qa.types import Chunk, Document

    sents, titles = sentences()
    rng = np.random.default_rng(1)
    store = EmbeddedStore(path, model=MODEL, dim=DIM, index_options=options)
    t0 = time.perf_counter()
    batch: list[Write] = []
    n_docs = 0
    text_bytes = 0
    for start, vecs in vectors.blocks(n_chunks):
        for off in range(0, len(vecs), CHUNKS_PER_DOC):
            doc_vecs = vecs[off : off + CHUNKS_PER_DOC]
            picks = rng.integers(0, len(sents), len(doc_vecs) * SENTENCES_PER_CHUNK)
            parts = [
                " ".join(sents[p] for p in picks[i : i + SENTENCES_PER_CHUNK])
                for i in range(0, len(picks), SENTENCES_PER_CHUNK)
            ]
            text = "\n\n".join(parts)
            doc_id = f"d{n_docs:07d}"
            # Each document is visible to one group of SHARDS (an access list, qa.access): a key
            # of one group sees 1% of the chunks.
            shard = n_docs % SHARDS
            metadata = {"shard": shard, "access": [f"group:g{shard}"]}
            doc = Document(id=doc_id, text=text, title=titles[n_docs % len(titles)], metadata=metadata)
            chunks, pos = [], 0
            for i, part in enumerate(parts):
                chunks.append(Chunk(doc_id, i, pos, pos + len(part), part))
                pos += len(part) + 2
            batch.append(Write(doc, chunks, doc_vecs, "bench-scale"))
            n_docs += 1
            text_bytes += len(text.encode())
            if len(batch) == BATCH_DOCS:
                store.write(batch)
                batch = []
        if (start // GEN_BLOCK) % 16 == 0:
            print(f"  {start + len(vecs):,} chunks written, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if batch:
        store.write(batch)
    text_s = time.perf_counter() - t0
    print(f"  text store done in {text_s:.0f} s; building the vector index", file=sys.stderr)
    t1 = time.perf_counter()
    store.save()  # the FAISS index of the type the count calls for, written to vectors.faiss
    index_s = time.perf_counter() - t1
    stats = store.stats()
    low, high, count = store.db.execute("SELECT MIN(id), MAX(id), COUNT(*) FROM chunks").fetchone()
    store.close()
    if (low, high, count) != (1, n_chunks, n_chunks):
        raise SystemExit(f"chunk ids are not 1..{n_chunks}: {low}..{high}, {count}")
    return {
        "documents": n_docs,
        "text_mb": round(text_bytes / 1e6, 1),
        "text_store_s": round(text_s, 1),
        "text_store_chunks_per_s": round(n_chunks / text_s),
        "vector_index_s": round(index_s, 1),
        "vector_index": stats["vector_index"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def exact_top_k(vectors: Vectors, n_chunks: int, queries: np.ndarray) -> np.ndarray:
    """Chunk ids (1-based, write order) of the exact top K per query, streamed over the blocks."""
    best_s = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), K), dtype=np.int64)
    for start, vecs in vectors.blocks(n_chunks):
        s = queries @ vecs.T
        ids = np.broadcast_to(np.arange(start + 1, start + 1 + len(vecs)), s.shape)
        all_s, all_i = np.hstack([best_s, s]), np.hstack([best_i, ids])
        top = np.argpartition(-all_s, K - 1, axis=1)[:, :K]
        best_s, best_i = np.take_along_axis(all_s, top, 1), np.take_along_axis(all_i, top, 1)
    return np.take_along_axis(best_i, np.argsort(-best_s, axis=1), 1)


def flat_latency(vectors: Vectors, n_chunks: int, queries: np.ndarray) -> list[dict[str, Any]]:
    """Exact (flat) FAISS search time by index size, one thread: where flat stops being fast."""
    import faiss

    faiss.omp_set_num_threads(1)
    sizes = [s for s in (25_000, 50_000, 100_000, 200_000) if s <= n_chunks]
    index = faiss.IndexFlatIP(DIM)
    rows = []
    for _start, block in vectors.blocks(max(sizes, default=0)):
        vecs = block
        while len(vecs):
            # Add up to the next size exactly, measure there, go on with the rest of the block.
            target = next(n for n in sizes if n > index.ntotal)
            take = min(len(vecs), target - index.ntotal)
            index.add(vecs[:take])
            vecs = vecs[take:]
            if index.ntotal < target:
                continue
            lat = []
            for q in queries[:50]:
                t = time.perf_counter()
                index.search(q.reshape(1, -1), K)
                lat.append((time.perf_counter() - t) * 1000)
            rows.append({"chunks": int(index.ntotal), "p50_ms": round(float(np.median(lat)), 2)})
    return rows


def serve(args: argparse.Namespace) -> None:
    """In a fresh process: cold start, then latency and recall of the saved index."""
    from qa.store.embedded import EmbeddedStore
    from qa.store.embedded.faiss_index import IndexOptions

    t_imported = time.time()
    queries, truth = np.load(args.serve_queries), np.load(args.serve_truth)
    options = IndexOptions(**json.loads(args.serve_options))
    t0 = time.perf_counter()
    store = EmbeddedStore(Path(args.serve), model=MODEL, dim=DIM, index_options=options)
    opened = time.perf_counter()
    first = store.search(queries[0], K)
    t_first = time.time()
    out: dict[str, Any] = {
        "open_and_load_s": round(opened - t0, 3),
        "first_query_ms": round((time.perf_counter() - opened) * 1000, 2),
        "first_query_at": t_first,
        "imported_at": t_imported,
        "first_query_hits": len(first),
        "vector_index": store.stats()["vector_index"],
        "mmap": store.stats()["mmap"],
    }
    sweep = []
    for ef in args.ef:
        store.options = replace(options, ef_search=ef)
        lat, faiss_lat, hits = [], [], 0
        for q, want in zip(queries, truth, strict=True):
            t = time.perf_counter()
            got = store.search(q, K)
            lat.append((time.perf_counter() - t) * 1000)
            hits += len({p.chunk_id for p in got} & set(want.tolist()))
            # FAISS alone, without the passage fetch from SQLite.
            t = time.perf_counter()
            from qa.store.embedded.faiss_index import search_params

            store.index.search(q.reshape(1, -1), K, params=search_params(store.index, K, ef, None))
            faiss_lat.append((time.perf_counter() - t) * 1000)
        sweep.append(
            {
                "ef_search": ef,
                "recall_at_10": round(hits / (K * len(queries)), 4),
                "p50_ms": round(float(np.percentile(lat, 50)), 2),
                "p95_ms": round(float(np.percentile(lat, 95)), 2),
                "faiss_p50_ms": round(float(np.percentile(faiss_lat, 50)), 2),
            }
        )
    store.options = options
    filtered = []
    for i, q in enumerate(queries[:50]):
        shard = i % SHARDS
        t = time.perf_counter()
        got = store.search(q, K, {"shard": shard})
        filtered.append((time.perf_counter() - t) * 1000)
        if len(got) != K or any(p.metadata.get("shard") != shard for p in got):
            raise SystemExit(f"filtered search for shard {shard} returned {len(got)} hits or wrong shards")
    out["filtered_p50_ms"] = round(float(np.percentile(filtered, 50)), 2)
    out["access"] = access_latency(store, queries)
    out["sweep"] = sweep
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    for key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
        out[key] = round(int(status[key].split()[0]) / 1024)
    store.close()
    print(json.dumps(out))


def access_latency(store: Any, queries: np.ndarray, n: int = 100) -> dict[str, Any]:
    """A key of one group (1% of the chunks visible through their access lists): the first stage
    as the service runs it for that key, p50/p95 over ``n`` queries, every hit checked visible.

    dense: FAISS restricted to the visible chunk ids (k hits), the key's first question since the
    index changed (no visible ids cached); with passages: the same key again; lexical: tantivy
    restricted alike (one word, k hits); hybrid: ``Retriever.first_stage`` in the default mode as
    ``QAService.search`` runs it before the second stage (both sides' ``candidates`` hits in one
    snapshot, fused, the passages of the first ``depth`` fetched), SciFact claims as questions
    with the given vectors, the key's first question (cold) and the same again (warm); the same
    without an access filter for comparison."""
    from qa.retrieve import Options, Retriever
    from qa.store.filters import Filters

    options = Options()
    # What Retriever.retrieve asks the first stage for with the second stage on.
    depth = max(2 * K, options.rerank_candidates)
    retriever = Retriever(store, None, None, options)  # type: ignore[arg-type]  # vectors are given
    claims = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    dense, lexical, fetched, hybrid, warm_hybrid, open_hybrid = [], [], [], [], [], []
    words = ["protein", "cells", "expression", "patients", "risk", "mice", "gene", "treatment"]

    def forget() -> None:
        # The store's cache of visible chunk ids (qa/store/embedded/allowed.py), where there is one:
        # "cold" numbers are a key's first question since the index last changed.
        if hasattr(store, "allowed"):
            store.allowed.clear()

    for i, q in enumerate(queries[:n]):
        shard = i % SHARDS
        scoped = Filters(access=("user:bench", f"group:g{shard}"))
        claim = claims[i % len(claims)]
        forget()
        t = time.perf_counter()
        fused = retriever.first_stage(claim, depth, scoped, "hybrid", q)
        hybrid.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        retriever.first_stage(claim, depth, scoped, "hybrid", q)
        warm_hybrid.append((time.perf_counter() - t) * 1000)
        forget()
        t = time.perf_counter()
        hits = store.search_hits(q, K, scoped)
        dense.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        got = store.search(q, K, scoped)
        fetched.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        store.lexical_hits([words[i % len(words)]], K, scoped)
        lexical.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        retriever.first_stage(claim, depth, None, "hybrid", q)
        open_hybrid.append((time.perf_counter() - t) * 1000)
        mine = [f"group:g{shard}"]
        if len(hits) != K or len(fused) != depth or any(p.metadata.get("access") != mine for p in got + fused):
            raise SystemExit(f"access-filtered search for group g{shard} returned {len(hits)} hits or others' chunks")

    def pct(xs: list[float]) -> dict[str, float]:
        return {"p50_ms": round(float(np.percentile(xs, 50)), 2), "p95_ms": round(float(np.percentile(xs, 95)), 2)}

    return {
        "visible": 1 / SHARDS,
        "queries": len(dense),
        "dense": pct(dense),
        "dense_with_passages": pct(fetched),
        "lexical": pct(lexical),
        "hybrid": pct(hybrid),
        "hybrid_warm": pct(warm_hybrid),
        "hybrid_unfiltered": pct(open_hybrid),
        "hybrid_depth": depth,
        "hybrid_candidates": max(depth, options.candidates),
    }


def http(index_dir: Path, n_questions: int = 60) -> dict[str, Any]:
    """`qa serve` on the built index, as a user runs it: server cold start (process start to
    /healthz answering, model included) and /v1/search latency over HTTP, real questions
    (SciFact claims, embedded by the model), query cache off."""
    import httpx

    from bench.run import start_server, stop_server

    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")][:n_questions]
    proc, url, cold = start_server(
        index_dir.parent, {}, index_dir.parent / "serve.log", index_name=index_dir.name, timeout=300
    )
    out: dict[str, Any] = {"server_cold_start_s": round(cold, 2)}
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            for mode in ("dense", "hybrid"):
                lat = []
                for q in questions:
                    t = time.perf_counter()
                    r = client.post("/v1/search", json={"question": q, "k": 5, "mode": mode})
                    lat.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                out[mode] = {
                    "p50_ms": round(float(np.percentile(lat, 50)), 1),
                    "p95_ms": round(float(np.percentile(lat, 95)), 1),
                }
    finally:
        stop_server(proc)
    out["questions"] = len(questions)
    return out


def access_rows(a: dict[str, Any]) -> list[str]:
    d, f, lex = a["dense"], a["dense_with_passages"], a["lexical"]
    return [
        f"| access-filtered first stage, dense p50 / p95 (1% of chunks visible to the key; its first question) | "
        f"{d['p50_ms']} / {d['p95_ms']} ms | p50 <= 30 ms |",
        f"| access-filtered dense + passage fetch p50 / p95 | {f['p50_ms']} / {f['p95_ms']} ms | |",
        f"| access-filtered first stage, lexical p50 / p95 | {lex['p50_ms']} / {lex['p95_ms']} ms | |",
        *(
            [
                f"| access-filtered first stage, hybrid (default mode: {a['hybrid_candidates']} dense + "
                f"{a['hybrid_candidates']} lexical, fused, {a['hybrid_depth']} passages), the key's first "
                f"question p50 / p95 | {h['p50_ms']} / {h['p95_ms']} ms | p50 <= 30 ms |",
                *(
                    [
                        f"| the same hybrid first stage, the key's next question (visible ids cached) | "
                        f"{w['p50_ms']} / {w['p95_ms']} ms | |"
                    ]
                    if (w := a.get("hybrid_warm"))
                    else []
                ),
                f"| the same hybrid first stage without an access filter | "
                f"{a['hybrid_unfiltered']['p50_ms']} / {a['hybrid_unfiltered']['p95_ms']} ms | |",
            ]
            if (h := a.get("hybrid"))
            else []
        ),
    ]


def before_rows(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The access-filtered first stage of an earlier report (``--before``) beside this one's."""
    b = before["serve"].get("access", {})
    rows = [
        f"Access-filtered first stage before and after ({before['note']}; before: {before['date']}, "
        f"load average {before['load_before']} before and {before['load_after']} after):",
        "",
        "| p50 / p95 ms | before | after |",
        "|---|---|---|",
    ]
    for side in ("dense", "dense_with_passages", "lexical", "hybrid", "hybrid_warm", "hybrid_unfiltered"):
        cells = [f"{x[side]['p50_ms']} / {x[side]['p95_ms']}" if side in x else "not measured" for x in (b, after)]
        rows.append(f"| {side.replace('_', ' ')} | {cells[0]} | {cells[1]} |")
    return [*rows, ""]


def report_md(r: dict[str, Any], command: str) -> str:
    b, s, c = r["build"], r["serve"], r["chosen"]
    gb = 1e9
    lines = [
        f"# Scale test: {r['chunks']:,} chunks, dim {DIM}, k = {K}",
        "",
        f"`{command}`, {r['date']}, {r['machine']}, load average {r['load_before']} before and "
        f"{r['load_after']} after (shared machine: other jobs ran alongside)."
        + (
            f" The build was measured in {b['date']} (load average {b['load_after']} at its end)."
            if r["reused"]
            else ""
        ),
        "",
        f"Vectors: {r['vectors']}. Text: {b['documents']:,} documents ({b['text_mb']} MB) of real SciFact "
        "sentences, 4 chunks each, written through `EmbeddedStore.write` in batches of "
        f"{BATCH_DOCS} documents (SQLite rows + tantivy lexical index). Index: `{b['vector_index']}` "
        f"(`QA_FAISS_INDEX={r['options']['kind']}`, threshold {r['options']['hnsw_threshold']:,}, "
        f"M {r['options']['hnsw_m']}, mmap {r['options']['mmap']}).",
        "",
        "| | value | target |",
        "|---|---|---|",
        f"| build: text store (SQLite + tantivy lexical index) | {b['text_store_s']} s "
        f"({b['text_store_chunks_per_s']:,} chunks/s) | |",
        f"| build: vector index ({b['vector_index']}, from SQLite, saved) | {b['vector_index_s']} s | |",
        f"| build: peak RSS | {b['peak_rss_mb']:,} MB | |",
        f"| disk: qa.sqlite / vectors.faiss / lexical/ | {r['disk']['sqlite'] / gb:.2f} GB / "
        f"{r['disk']['faiss'] / gb:.2f} GB / {r['disk'].get('lexical', 0) / gb:.2f} GB | |",
        f"| query p50 / p95 (`efSearch` {c['ef_search']}, FAISS + passage fetch) | "
        f"{c['p50_ms']} / {c['p95_ms']} ms | p50 <= 30 ms |",
        f"| Recall@10 vs exact, {r['queries']} queries | {c['recall_at_10']} | >= 0.95 |",
        f"| filtered query p50 (1% of chunks match) | {s['filtered_p50_ms']} ms | |",
        *(access_rows(s["access"]) if "access" in s else []),
        f"| serving process RSS: peak / anonymous / file-backed (mmap) | {s['VmHWM']:,} / {s['RssAnon']:,} / "
        f"{s['RssFile']:,} MB | <= 4 GB |",
        f"| cold start: process start to first answer (open {s['open_and_load_s']} s, first query "
        f"{s['first_query_ms']} ms) | {r['cold_start_s']} s | <= 5 s |",
        "",
        "`efSearch` sweep (same queries; latency through the store, and FAISS alone):",
        "",
        "| efSearch | Recall@10 | p50 ms | p95 ms | FAISS p50 ms |",
        "|---|---|---|---|---|",
        *(
            f"| {x['ef_search']} | {x['recall_at_10']} | {x['p50_ms']} | {x['p95_ms']} | {x['faiss_p50_ms']} |"
            for x in s["sweep"]
        ),
        "",
        "Exact flat search by size (FAISS alone, one thread): why `auto` switches to HNSW at "
        f"{r['options']['hnsw_threshold']:,} chunks.",
        "",
        "| chunks | flat p50 ms |",
        "|---|---|",
        *(f"| {x['chunks']:,} | {x['p50_ms']} |" for x in r["flat_latency"]),
        "",
        *(
            [
                f"Through `qa serve` (the default onnx-int8 model, query cache off, {h['questions']} SciFact "
                f"claims as questions, k = 5, over HTTP): server cold start, process start to /healthz "
                f"answering, {h['server_cold_start_s']} s (target <= 5 s); `/v1/search` p50 / p95 dense "
                f"{h['dense']['p50_ms']} / {h['dense']['p95_ms']} ms, default hybrid (BM25 over 1M chunks in the "
                f"tantivy index, fusion and second stage added) {h['hybrid']['p50_ms']} / {h['hybrid']['p95_ms']} ms.",
                "",
            ]
            if (h := r.get("http"))
            else []
        ),
        *(before_rows(r["before"], s.get("access", {})) if r.get("before") else []),
        "The query vectors are given: embedding a question (about 12 ms with torch, 2.3 ms with "
        "onnx-int8, see bench/results/embed.md) comes on top. The files were in the page cache at "
        "cold start (written just before).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512], help="efSearch values to sweep.")
    ap.add_argument(
        "--base-vectors",
        default="auto",
        help="qa.sqlite of real vectors to perturb; 'auto': "
        "index/eval-scifact-*/qa.sqlite if one exists; 'none': a Gaussian mixture.",
    )
    ap.add_argument("--work", type=Path, help="Where to build the index (default: a temporary directory).")
    ap.add_argument("--keep", action="store_true", help="Keep the built index.")
    ap.add_argument("--reuse", action="store_true", help="Measure an index kept by --keep in --work again.")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--name", default="scale", help="Report file names: NAME.json and NAME.md in --out.")
    ap.add_argument(
        "--before",
        type=Path,
        help="An earlier report's JSON: its access-filtered numbers are shown beside these (a table in the Markdown).",
    )
    ap.add_argument("--before-note", default="before this change", help="What the --before report measured.")
    ap.add_argument("--http", action="store_true", help="Also time `qa serve` on the index: cold start, /v1/search.")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--serve-queries", help=argparse.SUPPRESS)
    ap.add_argument("--serve-truth", help=argparse.SUPPRESS)
    ap.add_argument("--serve-options", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return

    from qa.config import Settings
    from qa.store.embedded.faiss_index import index_options

    options = index_options(Settings())
    if args.base_vectors == "auto":
        # The largest SciFact index qa eval has built (the whole corpus, not a subset).
        found = sorted(glob.glob(str(ROOT / "index" / "eval-scifact-*" / "qa.sqlite")), key=os.path.getsize)
        base = Path(found[-1]) if found else None
    else:
        base = None if args.base_vectors == "none" else Path(args.base_vectors)
    vectors = Vectors(base)
    load_before = load_avg()
    work = args.work or Path(tempfile.mkdtemp(prefix="qa-scale-"))
    path = work / "index"
    if path.exists() and not args.reuse:
        raise SystemExit(f"{path} exists; give another --work, or --reuse to measure it again")
    try:
        if args.reuse:
            built = json.loads((work / "build.json").read_text())
        else:
            print(f"building {args.chunks:,} chunks in {path}", file=sys.stderr)
            built = build(path, args.chunks, vectors, options)
            built["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            built["load_after"] = load_avg()
            (work / "build.json").write_text(json.dumps(built))
        queries = vectors.queries(args.queries)
        truth = exact_top_k(vectors, args.chunks, queries)
        np.save(work / "queries.npy", queries)
        np.save(work / "truth.npy", truth)
        flat = flat_latency(vectors, args.chunks, queries)
        opts = {f: getattr(options, f) for f in ("kind", "hnsw_threshold", "hnsw_m", "ef_search", "mmap")}
        spawned = time.time()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.scale",
                "--serve",
                str(path),
                "--serve-queries",
                str(work / "queries.npy"),
                "--serve-truth",
                str(work / "truth.npy"),
                "--serve-options",
                json.dumps(opts),
                "--ef",
                *map(str, sorted(set(args.ef) | {options.ef_search})),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"serving process failed:\n{proc.stderr[-3000:]}")
        served = json.loads(proc.stdout.strip().splitlines()[-1])
        disk = {
            "sqlite": sum(f.stat().st_size for f in path.glob("qa.sqlite*")),
            "faiss": (path / "vectors.faiss").stat().st_size,
            "lexical": sum(f.stat().st_size for f in (path / "lexical").rglob("*") if f.is_file()),
        }
        served_http = http(path) if args.http else None
    finally:
        if not (args.keep or args.reuse):
            shutil.rmtree(work if args.work is None else path, ignore_errors=True)
    chosen = next(x for x in served["sweep"] if x["ef_search"] == options.ef_search)
    report = {
        "chunks": args.chunks,
        "queries": args.queries,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": describe(),
        "load_before": load_before,
        "load_after": load_avg(),
        "vectors": vectors.kind,
        "options": opts,
        "build": built,
        "disk": disk,
        "serve": served,
        "cold_start_s": round(served["first_query_at"] - spawned, 2),
        "chosen": chosen,
        "flat_latency": flat,
        "reused": bool(args.reuse),
        "http": served_http,
        "before": None,
    }
    if args.before:
        earlier = json.loads(args.before.read_text())
        keep = ("date", "load_before", "load_after", "serve")
        report["before"] = {key: earlier[key] for key in keep} | {"note": args.before_note}
        report["before"]["serve"] = {"access": earlier["serve"].get("access", {})}
    command = "python -m bench.scale " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    md = report_md(report, command.strip())
    (args.out / f"{args.name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
