"""bench/scale.py end to end, small: real SQLite text store, HNSW past a low threshold, a report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scale_bench_writes_a_sound_report(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = {**os.environ, "QA_FAISS_HNSW_THRESHOLD": "2000", "QA_FAISS_EF_SEARCH": "64"}
    r = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--chunks", "8000", "--ef", "16", "64", "--base-vectors", "none",
         "--work", str(tmp_path / "work"), "--out", str(out), "--http"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((out / "scale.json").read_text())
    assert rep["chunks"] == 8000 and rep["queries"] == 200 and "Gaussian mixture" in rep["vectors"]
    build = rep["build"]
    assert build["documents"] == 2000 and build["vector_index"] == "hnsw"  # auto switched at 2,000 chunks
    assert build["text_store_s"] > 0 and build["vector_index_s"] > 0 and build["peak_rss_mb"] > 0
    assert rep["disk"]["sqlite"] > 0 and rep["disk"]["faiss"] > 8000 * 384 * 4
    serve = rep["serve"]
    assert serve["vector_index"] == "hnsw" and serve["mmap"] is True and serve["first_query_hits"] == 10
    assert 0 < rep["cold_start_s"] < 60 and serve["VmHWM"] > 0 and serve["filtered_p50_ms"] > 0
    sweep = {x["ef_search"]: x for x in serve["sweep"]}
    assert set(sweep) == {16, 64} and rep["chosen"] == sweep[64]
    for x in sweep.values():
        assert 0 < x["p50_ms"] <= x["p95_ms"] and 0 <= x["recall_at_10"] <= 1
    # More candidates never find less; 64 on 8,000 clustered vectors is near exact.
    assert sweep[64]["recall_at_10"] >= max(sweep[16]["recall_at_10"], 0.9)
    assert [x["chunks"] for x in rep["flat_latency"]] == []  # smallest size measured is 25,000
    md = (out / "scale.md").read_text()
    assert "# Scale test: 8,000 chunks" in md and f"| {sweep[64]['recall_at_10']} | >= 0.95 |" in md
    assert not (tmp_path / "work" / "index").exists()  # not kept without --keep
    # `qa serve` on the built index (the real model embeds real questions) answered over HTTP.
    http = rep["http"]
    assert 0 < http["server_cold_start_s"] < 120 and http["questions"] > 0
    for mode in ("dense", "hybrid"):
        assert 0 < http[mode]["p50_ms"] <= http[mode]["p95_ms"]
    assert "Through `qa serve`" in md
