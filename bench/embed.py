"""Embedding backends side by side: passages/s, query latency and agreement with torch fp32.

The same SciFact passages (title + abstract, as indexed) through each backend, several runs
each; the median is reported with the machine's load average, since these machines are shared.

    python -m bench.embed --passages 200 --runs 3

Writes bench/results/embed.json and bench/results/embed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe
from qa.config import Settings
from qa.embed import Embedder, load_embedder

OUT = Path(__file__).parent / "results"
SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "corpus.jsonl"
BACKENDS = ("torch", "onnx", "onnx-int8")
QUERIES = ["Who met in Paris?", "vitamin D deficiency and bone fractures", "What does BM25 rank?"] * 10


def scifact_passages(path: Path, n: int) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            out.append(f"{d['title']}\n{d['text']}")
            if len(out) == n:
                break
    return out


def measure(emb: Embedder, texts: list[str], runs: int) -> dict[str, Any]:
    emb.embed(texts[:8])  # warm-up: first calls allocate
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        emb.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - t))
    lat = []
    for q in QUERIES:
        t = time.perf_counter()
        emb.embed([q])
        lat.append((time.perf_counter() - t) * 1000)
    return {
        "passages_per_s_median": round(statistics.median(rates), 1),
        "passages_per_s_runs": [round(r, 1) for r in rates],
        "query_ms_p50": round(float(np.percentile(lat, 50)), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=SCIFACT)
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument("--onnx-cache-dir", default="", help="Exported models (default: a temporary directory).")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    texts = scifact_passages(args.corpus, args.passages)
    report: dict[str, Any] = {
        "passages": len(texts),
        "runs": args.runs,
        "machine": describe(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "backends": {},
    }
    reference: np.ndarray | None = None
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.onnx_cache_dir or tmp
        for backend in args.backends:
            t = time.perf_counter()
            emb = load_embedder(Settings(embed_backend=backend, onnx_cache_dir=cache))  # type: ignore[arg-type]
            load_s = time.perf_counter() - t
            row = measure(emb, texts, args.runs)
            vecs = emb.embed(texts)
            if backend == "torch":
                reference = vecs
            if reference is not None:
                cos = np.sum(reference * vecs, axis=1)
                row["cosine_vs_torch_mean"] = round(float(cos.mean()), 4)
                row["cosine_vs_torch_min"] = round(float(cos.min()), 4)
            row["load_s_first"] = round(load_s, 2)
            row["load_average"] = [round(x, 2) for x in os.getloadavg()]
            report["backends"][backend] = row
            print(backend, row, flush=True)
    base = report["backends"].get("torch", {}).get("passages_per_s_median")
    for row in report["backends"].values():
        row["speed_vs_torch"] = round(row["passages_per_s_median"] / base, 2) if base else None

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "embed.json").write_text(json.dumps(report, indent=2) + "\n")
    md = [
        f"# Embedding backends: {len(texts)} SciFact passages, median of {args.runs} runs ({report['machine']})",
        "",
        f"Load average before: {report['load_average_before']} (the machine is shared; compare ratios).",
        "",
        "| backend | passages/s (median) | runs | vs torch | query p50 ms | cosine vs torch mean / min "
        "| first load s | load average after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report["backends"].items():
        md.append(
            f"| {name} | {r['passages_per_s_median']} | {r['passages_per_s_runs']} | {r['speed_vs_torch']} "
            f"| {r['query_ms_p50']} | {r.get('cosine_vs_torch_mean', '-')} / {r.get('cosine_vs_torch_min', '-')} "
            f"| {r['load_s_first']} | {r['load_average']} |"
        )
    md += ["", "Command: `python -m bench.embed " + f"--passages {args.passages} --runs {args.runs}`", ""]
    (OUT / "embed.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
