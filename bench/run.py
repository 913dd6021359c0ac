"""The benchmark suite: ingestion, index size, server cold start and HTTP query latency, in one run.

    python -m bench.run                       # the whole SciFact corpus (5,183 abstracts)
    python -m bench.run --limit 500 --requests 200

1. Ingestion, in this process, through ``QAService.add_documents`` (the path `qa index` takes):
   chunks/s, MB of text/s, the time split between parse, validate, chunk, embed and index, and
   the peak RSS of the process (model included).
2. The index's size on disk.
3. Server cold start: ``qa serve`` on the built index, from process start to the first 200 from
   ``/healthz`` (the server loads the model and the index before it answers).
4. ``/v1/search`` and ``/v1/ask`` over HTTP (loopback), with 1 and with 16 concurrent clients:
   p50/p95/p99 latency and the QPS reached. Questions are SciFact's claims, different ones for
   each run (while there are enough); the server runs with the query cache off
   (``QA_QUERY_CACHE_SIZE=0``) so every request embeds its question.

Writes ``bench/results/run.json`` and ``bench/results/run.md``. Timings depend on the machine's
load: the report records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.machine import describe, load_avg

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results"
SCIFACT = ROOT.parent / "shared" / "datasets" / "scifact"


def corpus_bytes(path: Path, limit: int | None) -> bytes:
    """SciFact's corpus as qa's own JSONL format (``id``, ``title``, ``text``)."""
    lines = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            ident = d.get("doc_id", d.get("_id", d.get("id")))
            lines.append(json.dumps({"id": str(ident), "title": d.get("title", ""), "text": d["text"]}))
            if limit and len(lines) == limit:
                break
    return ("\n".join(lines) + "\n").encode()


def questions(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def ingest(index_dir: Path, data: bytes) -> dict[str, Any]:
    from qa.config import Settings
    from qa.parse import parse_bytes
    from qa.service import QAService

    # Other QA_* settings come from the environment, as for the server.
    settings = Settings(index_dir=index_dir, index_name="bench")
    svc = QAService(settings)
    t = time.perf_counter()
    svc.warm()
    warm_s = time.perf_counter() - t
    t0 = time.perf_counter()
    docs = parse_bytes(data, "scifact.jsonl")
    parse_s = time.perf_counter() - t0
    results = svc.add_documents(docs)
    total_s = time.perf_counter() - t0
    chunks = sum(r.chunks for r in results)
    split = {"parse": parse_s, **svc.ingest_seconds}
    stats = svc.stats()
    svc.close()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "documents": len(results),
        "chunks": chunks,
        "text_mb": round(len(data) / 1e6, 3),
        "seconds": round(total_s, 2),
        "chunks_per_s": round(chunks / total_s, 1),
        "mb_per_s": round(len(data) / 1e6 / total_s, 4),
        "split_seconds": {k: round(v, 3) for k, v in split.items()},
        "split_share": {k: round(v / total_s, 3) for k, v in split.items()},
        "model_load_s": round(warm_s, 2),
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "index_bytes": dir_bytes(index_dir / "bench"),
        "embedded_texts": svc.embedded_texts,
        "vectors": stats["vectors"],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    index_dir: Path, env: dict[str, str], log: Path, index_name: str = "bench", timeout: float = 180
) -> tuple[subprocess.Popen[bytes], str, float]:
    """`qa serve` on ``<index_dir>/<index_name>`` in a subprocess (query cache off unless ``env``
    says otherwise); returns it, its URL and its cold start (process start to /healthz answering)."""
    port = free_port()
    server_env = {
        **os.environ,
        **env,
        "QA_INDEX_DIR": str(index_dir),
        "QA_INDEX_NAME": index_name,
        "QA_PORT": str(port),
        "QA_LOG_FORMAT": "text",
        "QA_QUERY_CACHE_SIZE": env.get("QA_QUERY_CACHE_SIZE", "0"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "qa", "serve"], cwd=ROOT, env=server_env, stdout=fh, stderr=fh)
    deadline = t + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url, time.perf_counter() - t
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not answer /healthz in {timeout:.0f} s: {log.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def load(url: str, route: str, qs: list[str], clients: int, requests: int, k: int) -> dict[str, Any]:
    """``requests`` POSTs to ``route`` spread over ``clients`` threads, each with its own connection."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t = time.perf_counter()
                r = c.post(route, json={"question": qs[i % len(qs)], "k": k})
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    if r.status_code == 200:
                        latencies.append(ms)
                    else:
                        errors.append(f"{r.status_code}: {r.text[:200]}")

    # One warm-up request per route, not counted.
    httpx.post(f"{url}{route}", json={"question": "warm up", "k": k}, timeout=60)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    wall = time.perf_counter() - t0
    ms = np.asarray(latencies) if latencies else np.asarray([np.nan])
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "qps": round(len(latencies) / wall, 1),
    }


def markdown(r: dict[str, Any]) -> str:
    ing = r["ingestion"]
    lines = [
        f"# Benchmark: {ing['documents']} SciFact abstracts ({r['machine']})",
        "",
        f"Command: `{r['command']}`. Load average before {r['load_average_before']}, after "
        f"{r['load_average_after']} (shared machine: compare numbers from one run).",
        f"Settings: {r['settings'] or 'defaults'}.",
        "",
        "## Ingestion",
        "",
        "| chunks | MB of text | seconds | chunks/s | MB/s | peak RSS MB | index on disk MB |",
        "|---|---|---|---|---|---|---|",
        f"| {ing['chunks']} | {ing['text_mb']} | {ing['seconds']} | {ing['chunks_per_s']} | {ing['mb_per_s']} "
        f"| {ing['peak_rss_mb']} | {round(ing['index_bytes'] / 1e6, 2)} |",
        "",
        "| stage | seconds | share |",
        "|---|---|---|",
        *(f"| {k} | {v} | {ing['split_share'][k]:.1%} |" for k, v in ing["split_seconds"].items()),
        "",
        "## Server",
        "",
        f"Cold start (process start to first 200 from /healthz): {r['server']['cold_start_s']} s. "
        f"Peak RSS after the load test: {r['server']['peak_rss_mb']} MB.",
        "",
        "| route | clients | requests | p50 ms | p95 ms | p99 ms | QPS | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["http"]:
        lines.append(
            f"| {row['route']} | {row['clients']} | {row['requests']} | {row['p50_ms']} | {row['p95_ms']} "
            f"| {row['p99_ms']} | {row['qps']} | {row['errors']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=SCIFACT, help="Directory with corpus.jsonl and queries.jsonl.")
    ap.add_argument("--limit", type=int, default=None, help="Index only the first N documents.")
    ap.add_argument("--requests", type=int, default=300, help="Requests per route and client count.")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--routes", nargs="+", default=["/v1/search", "/v1/ask"])
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT, help="Where run.json and run.md go.")
    ap.add_argument("--keep-index", type=Path, default=None, help="Build the index here and keep it.")
    args = ap.parse_args(argv)
    # QA_* variables in the environment (QA_EMBED_BACKEND, QA_RETRIEVAL_MODE, ...) apply to both
    # the ingestion and the server.
    env = {k: v for k, v in os.environ.items() if k.startswith("QA_")}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    report: dict[str, Any] = {
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": describe(),
        "settings": {k: v for k, v in env.items() if k != "QA_API_KEYS"},
        "load_average_before": load_avg(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    index_dir = args.keep_index or tmp / "index"
    try:
        data = corpus_bytes(args.dataset / "corpus.jsonl", args.limit)
        report["ingestion"] = ingest(index_dir, data)
        print("ingestion", report["ingestion"], flush=True)
        qs = questions(args.dataset / "queries.jsonl")
        proc, url, cold = start_server(index_dir, env, tmp / "server.log")
        try:
            report["server"] = {"cold_start_s": round(cold, 2)}
            rows = []
            for route in args.routes:
                for clients in args.clients:
                    # Fresh questions for every run: the answerer caches sentence vectors, so a
                    # repeated question would be cheaper the second time.
                    start = len(rows) * args.requests
                    fresh = (qs[start % len(qs) :] + qs[: start % len(qs)]) if qs else qs
                    row = {"route": route, **load(url, route, fresh, clients, args.requests, args.k)}
                    print(row, flush=True)
                    rows.append(row)
            report["http"] = rows
            report["server"]["peak_rss_mb"] = peak_rss_mb(proc.pid)
        finally:
            stop_server(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["load_average_after"] = load_avg()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "run.json").write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(report)
    (args.out / "run.md").write_text(md)
    print(md)
    return report


if __name__ == "__main__":
    main()
