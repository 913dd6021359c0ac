"""bench/run.py end to end on a tiny slice of SciFact: every report field is there and sensible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run

from ..conftest import SHARED

pytestmark = pytest.mark.slow


def test_bench_run_writes_json_and_markdown(tmp_path: Path) -> None:
    dataset = SHARED / "datasets" / "scifact"
    report = run.main(
        ["--dataset", str(dataset), "--limit", "8", "--requests", "4", "--clients", "1", "2", "-k", "2"]
        + ["--out", str(tmp_path)]
    )
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved == json.loads(json.dumps(report))
    ing = saved["ingestion"]
    assert ing["documents"] == 8 and ing["chunks"] >= 8 and ing["vectors"] == ing["chunks"]
    assert ing["embedded_texts"] == ing["chunks"]
    assert ing["chunks_per_s"] > 0 and ing["mb_per_s"] > 0 and ing["peak_rss_mb"] > 100
    assert set(ing["split_seconds"]) == {"parse", "validate", "chunk", "embed", "index"}
    assert sum(ing["split_seconds"].values()) <= ing["seconds"] * 1.05
    assert ing["index_bytes"] > 0
    assert 0 < saved["server"]["cold_start_s"] < 180 and saved["server"]["peak_rss_mb"] > 100
    rows = {(r["route"], r["clients"]): r for r in saved["http"]}
    assert set(rows) == {("/v1/search", 1), ("/v1/search", 2), ("/v1/ask", 1), ("/v1/ask", 2)}
    for r in rows.values():
        assert r["errors"] == 0 and r["requests"] == 4, r
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] and r["qps"] > 0
    md = (tmp_path / "run.md").read_text()
    assert "chunks/s" in md and "/v1/ask" in md and "Cold start" in md
