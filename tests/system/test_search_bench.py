"""bench/search.py: the HTTP search matrix, run briefly against a real `qa serve` on a small index."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import search
from qa.service import QAService

DOCS = Path(__file__).resolve().parents[2] / "examples" / "docs"

pytestmark = pytest.mark.slow


def test_search_matrix_writes_runs_medians_and_markdown(make_service: Callable[..., QAService], tmp_path: Path) -> None:
    svc = make_service("small")
    svc.index_paths([DOCS])
    index = svc.settings.index_path
    svc.close()
    out = tmp_path / "results" / "search"
    assert (
        search.main(["--index", str(index), "--runs", "2", "--duration", "1", "--workers", "1", "--out", str(out)]) == 0
    )
    rep = json.loads(out.with_suffix(".json").read_text())
    # Two interleaved one-client runs per mode, then two interleaved 16-client runs per mode.
    assert [(r["clients"], r["mode"], r["run"]) for r in rep["runs"]] == [
        (1, "default", 1),
        (1, "dense", 1),
        (1, "default", 2),
        (1, "dense", 2),
        (16, "default", 1),
        (16, "dense", 1),
        (16, "default", 2),
        (16, "dense", 2),
    ]
    assert all(r["errors"] == 0 and r["rps"] > 0 and 0 < r["p50_ms"] <= r["p95_ms"] for r in rep["runs"])
    assert len(rep["summary"]) == 4
    for s in rep["summary"]:
        runs = [r for r in rep["runs"] if r["clients"] == s["clients"] and r["mode"] == s["mode"]]
        p50s = [r["p50_ms"] for r in runs]
        assert s["p50_ms_runs"] == p50s and s["p50_ms"] == sum(p50s) / 2  # the median of two
        assert s["rps"] == sum(r["rps"] for r in runs) / 2
    assert 0 < rep["cold_start_s"]["1"] < 120
    for r in rep["runs"]:  # every run kept its own bench.load report
        assert (out.parent / r["report"]).is_file()
    md = out.with_suffix(".md").read_text()
    assert "dense only, no second stage" in md and "cold start" in md


def test_refuses_a_directory_that_is_not_an_index(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        search.main(["--index", str(tmp_path), "--out", str(tmp_path / "x")])
