"""Ingestion against queries: `bench.load` with live ingestion, interleaved over server variants.

Each round starts a fresh `qa serve` per variant on one existing index and runs the same mixed load
(search, ask, ingest, delete) against it; variants take turns (A, B, C, A, B, C, ...), so a busy
moment of the machine falls on all of them alike. A variant is this checkout with some settings, or
another checkout of qa (``--before DIR``, e.g. a `git worktree` of an older commit).

    head -1000 ../shared/datasets/scifact/corpus.jsonl > /tmp/sci1000.jsonl
    QA_INDEX_DIR=/tmp/sweep-index qa --index sci1000 index /tmp/sci1000.jsonl
    python -m bench.ingest_sweep --index-dir /tmp/sweep-index --index-name sci1000 --before /tmp/qa-before

Writes bench/results/load-ingest-sweep.json and .md (medians per variant; every run's report beside).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import load
from bench.machine import describe, load_avg
from bench.run import free_port

ROOT = Path(__file__).resolve().parents[1]
MIX = "search=45,ask=45,ingest=8,delete=2"
# name -> settings; "before" (with --before) runs the other checkout with its own defaults.
VARIANTS: dict[str, dict[str, str]] = {
    "1 thread, queue 16": {"QA_INGEST_THREADS": "1", "QA_INGEST_QUEUE": "16"},
    "2 threads, queue 16": {"QA_INGEST_THREADS": "2", "QA_INGEST_QUEUE": "16"},
    "1 thread, queue 64": {"QA_INGEST_THREADS": "1", "QA_INGEST_QUEUE": "64"},
}


def serve(code: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve"],
        cwd=code,
        env={**env, "PYTHONPATH": str(code), "QA_PORT": str(port)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"qa serve from {code} did not start; see {log}")


def summary(report: dict[str, Any]) -> dict[str, float]:
    lat, ingest = report["latency"], report["route_statuses"].get("ingest", {})
    stored = sum(n for s, n in ingest.items() if s.startswith("2"))
    return {
        "requests_per_s": report["throughput_rps"],
        "search_p50_ms": lat["search"]["p50_ms"],
        "search_p99_ms": lat["search"]["p99_ms"],
        "ask_p50_ms": lat["ask"]["p50_ms"],
        "ask_p99_ms": lat["ask"]["p99_ms"],
        "ingest_p99_ms": lat["ingest"]["p99_ms"],
        "documents_stored_per_s": stored / report["elapsed_s"],
        "ingest_refused_pct": 100 * ingest.get("503", 0) / max(1, sum(ingest.values())),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index-dir", type=Path, required=True, help="QA_INDEX_DIR of an existing index")
    ap.add_argument("--index-name", default="default", help="QA_INDEX_NAME of that index")
    ap.add_argument("--before", type=Path, help="another qa checkout to run as the 'before' variant")
    ap.add_argument("--rounds", type=int, default=2, help="runs per variant (interleaved)")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--questions", type=Path, default=ROOT.parent / "shared/datasets/scifact/queries.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/load-ingest-sweep")
    args = ap.parse_args(argv)
    variants = {**({"before": {}} if args.before else {}), **VARIANTS}
    base = {
        **os.environ,
        "QA_INDEX_DIR": str(args.index_dir),
        "QA_INDEX_NAME": args.index_name,
        "QA_LOG_FORMAT": "text",
        "QA_QUERY_CACHE_SIZE": "0",  # every question embedded
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    runs_dir = args.out.parent / (args.out.name + "-runs")
    runs_dir.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="qa-ingest-sweep-"))  # server logs: not reports
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    loads = []
    for r in range(args.rounds):
        for i, (name, settings) in enumerate(variants.items()):
            code = args.before if name == "before" else ROOT
            assert code is not None
            tag = f"{r}-{i}"
            proc, url = serve(code, {**base, **settings}, logs / f"server-{tag}.log")
            loads.append(load_avg())
            try:
                load.main(
                    ["--url", url, "--duration", str(args.duration), "--clients", str(args.clients), "--mix", MIX]
                    + ["--questions", str(args.questions), "--out", str(runs_dir / f"run-{tag}")]
                )
            except SystemExit:
                pass  # bench.load exits 1 when any request failed (a 503 counts): the report is written
            finally:
                proc.terminate()
                proc.wait(30)
            runs[name].append(summary(json.loads((runs_dir / f"run-{tag}.json").read_text())))
    medians = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    report = {
        "benchmark": "ingest_sweep",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "mix": MIX,
        "clients": args.clients,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "index": f"{args.index_dir}/{args.index_name}",
        "machine": describe(),
        "load_avg_before_each_run": loads,
        "medians": medians,
        "runs": runs,
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Ingestion against queries",
        "",
        f"{report['date']}: `python -m bench.ingest_sweep`, {args.clients} clients, {args.duration:g} s per run, "
        f"mix {MIX}, {args.rounds} interleaved runs per variant, index {report['index']}. {report['machine']}. "
        f"Load average (1 min) before each run: {', '.join(f'{x[0]:.2f}' for x in loads)}.",
        "",
        "| variant | requests/s | search p50 / p99 ms | ask p50 / p99 ms | ingest p99 ms | documents stored/s "
        "| ingest refused % |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in medians.items():
        lines.append(
            f"| {name} | {m['requests_per_s']:.1f} | {m['search_p50_ms']:.0f} / {m['search_p99_ms']:.0f} "
            f"| {m['ask_p50_ms']:.0f} / {m['ask_p99_ms']:.0f} | {m['ingest_p99_ms']:.0f} "
            f"| {m['documents_stored_per_s']:.1f} | {m['ingest_refused_pct']:.0f} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
