"""`/v1/search` over HTTP at SciFact scale: the whole matrix of the performance targets in one run.

    qa eval --dataset ../shared/datasets/scifact --no-answers     # builds the index, once
    python -m bench.search                                          # ~12 minutes

The index is the SciFact corpus as the evaluation harness builds it for the `default`
configuration (all 5,183 abstracts, 11,002 chunks with the default settings), copied to a
temporary directory so the server never writes to the harness's cache. `qa serve` runs on it
with the query cache off (every question is embedded) and `bench.load` drives it with the 300
SciFact claims as questions, k = 5:

- one client, default mode (hybrid + second stage) and dense only without the second stage,
  ``--runs`` times each, interleaved; the medians are the numbers to quote;
- 16 clients, both modes, ``--runs`` times each, with one server process and with ``--workers 2``.

Writes one `bench.load` report per run (``<out>-<scenario>[-<run>].json/.md``) and a summary,
``<out>.json`` and ``<out>.md``, with every run's p50 and requests/s, their medians, and the
load average around each run (the clients share the server's 2 cores).
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
from typing import Any

from bench.machine import describe, load_avg
from bench.run import ROOT, SCIFACT, start_server, stop_server

OUT = Path(__file__).parent / "results" / "search-scifact"
MODES = {"default": [], "dense": ["--mode", "dense", "--no-rerank"]}


def eval_index(index_dir: Path) -> Path:
    """The harness's SciFact index for the `default` configuration under the current settings."""
    from evals import configs, data
    from evals.harness import open_service
    from qa.config import Settings

    ds = data.load(SCIFACT)
    svc, name = open_service(ds, configs.get("default"), Settings(), index_dir, None)
    svc.close()
    path = index_dir / name
    if not (index_dir / f"{name}.build.json").is_file():
        raise SystemExit(
            f"bench.search: no finished SciFact index at {path}; build it first with "
            "`qa eval --dataset ../shared/datasets/scifact --no-answers`"
        )
    return path


def load_run(url: str, clients: int, mode: str, duration: float, out: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.load",
        "--url",
        url,
        "--ask-ratio",
        "0",
        "--questions",
        str(SCIFACT / "queries.jsonl"),
        "--duration",
        str(duration),
        "--clients",
        str(clients),
        "--out",
        str(out),
        *MODES[mode],
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    rep: dict[str, Any] = json.loads(out.with_suffix(".json").read_text())
    return rep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index", help="where `qa eval` keeps its indexes")
    parser.add_argument("--index", type=Path, help="serve this built index instead of the harness's SciFact one")
    parser.add_argument("--runs", type=int, default=3, help="one-client runs per mode (default 3)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run (default 30)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server processes to try at 16 clients")
    parser.add_argument("--out", type=Path, default=OUT, help="report path prefix")
    args = parser.parse_args(argv)
    if not (1 <= args.runs <= 10 and 0 < args.duration <= 600):
        parser.error("--runs must be in 1..10 and --duration in (0, 600]")
    source = args.index if args.index else eval_index(args.index_dir)
    if not (source / "qa.sqlite").is_file():
        parser.error(f"{source} is not a built index (no qa.sqlite)")
    rows: list[dict[str, Any]] = []
    cold_starts: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="qa-bench-search-") as tmp:
        work = Path(tmp)
        shutil.copytree(source, work / "idx")
        for workers in sorted(set(args.workers)):
            env = {"QA_WORKERS": str(workers)}  # the ONNX export: QA_ONNX_CACHE_DIR or the user's cache
            proc, url, cold = start_server(work, env, work / f"server-{workers}.log", index_name="idx")
            try:
                # Interleaved runs of both modes; one client only with one server process.
                scenarios = [
                    (clients, mode, run)
                    for clients in ([1, 16] if workers == 1 else [16])
                    for run in range(1, args.runs + 1)
                    for mode in MODES
                ]
                for clients, mode, run in scenarios:
                    label = f"{clients}client{'s' if clients > 1 else ''}"
                    label += f"-{workers}workers" if workers > 1 else ""
                    label += "-dense-norerank" if mode == "dense" else ""
                    label += f"-run{run}" if run > 1 else ""
                    before = load_avg()
                    rep = load_run(url, clients, mode, args.duration, Path(f"{args.out}-{label}"))
                    lat = rep["latency"]["search"]
                    rows.append(
                        {
                            "clients": clients,
                            "workers": workers,
                            "mode": mode,
                            "run": max(run, 1),
                            "report": f"{args.out.name}-{label}.md",
                            "p50_ms": lat["p50_ms"],
                            "p95_ms": lat["p95_ms"],
                            "rps": rep["throughput_rps"],
                            "errors": rep["errors"],
                            "load_before": before,
                            "load_after": load_avg(),
                        }
                    )
                    print(f"{label}: p50 {lat['p50_ms']} ms, {rep['throughput_rps']} requests/s", flush=True)
            finally:
                stop_server(proc)
            cold_starts[workers] = round(cold, 2)
    summary = summarize(rows)
    result = {
        "benchmark": "search",
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": "python -m bench.search " + " ".join(argv if argv is not None else sys.argv[1:]),
        "index": str(source.name),
        "runs": rows,
        "cold_start_s": cold_starts,
        "summary": summary,
        "cpus": os.cpu_count(),
        "machine": describe(),
    }
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (clients, workers, mode): every run's p50 and requests/s, and their medians."""
    groups: dict[tuple[int, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["clients"], r["workers"], r["mode"]), []).append(r)
    return [
        {
            "clients": c,
            "workers": w,
            "mode": m,
            "p50_ms_runs": [r["p50_ms"] for r in runs],
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p95_ms": statistics.median(r["p95_ms"] for r in runs),
            "rps": statistics.median(r["rps"] for r in runs),
            "report": runs[0]["report"],
            "load": [runs[0]["load_before"][0], max(r["load_after"][0] for r in runs)],
        }
        for (c, w, m), runs in sorted(groups.items())
    ]


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# `/v1/search` over HTTP at SciFact scale",
        "",
        f"{result['date']}: `{result['command']}` on `{result['index']}` (copied), query cache off, the 300 "
        "SciFact claims as questions, k = 5. Medians over runs; every run's p50 is listed. The clients run on "
        f"the same {result['cpus']} CPUs as the server. Machine: {result.get('machine', '-')}.",
        "",
        "| clients | server processes | mode | p50 ms (runs) | p50 / p95 ms | requests/s | load avg (1 min) | report |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result["summary"]:
        mode = "default (hybrid + second stage)" if s["mode"] == "default" else "dense only, no second stage"
        runs = ", ".join(str(p) for p in s["p50_ms_runs"])
        lines.append(
            f"| {s['clients']} | {s['workers']} | {mode} | {runs} | {s['p50_ms']} / {s['p95_ms']} | {s['rps']} | "
            f"{s['load'][0]} to {s['load'][1]} | [{s['report']}]({s['report']}) |"
        )
    colds = ", ".join(f"{w} process(es) {s} s" for w, s in result["cold_start_s"].items())
    lines += ["", f"Server cold start (process start to `/healthz` answering): {colds}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
