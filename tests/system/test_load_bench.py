"""bench/load.py: a short run against a real server writes a sound report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import load
from qa.service import QAService
from tests.live_server import live_server

DOCS = Path(__file__).resolve().parents[2] / "examples" / "docs"


def test_short_load_run_writes_json_and_markdown(make_service: Callable[..., QAService], tmp_path: Path) -> None:
    svc = make_service("load")
    svc.index_paths([DOCS])
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"question": "Who met in Paris?"}\n{"text": "What is BM25?"}\nWhat does FAISS do?\n')
    out = tmp_path / "report" / "load"
    with live_server(svc) as base:
        code = load.main(
            ["--url", base, "--duration", "3", "--clients", "4", "--questions", str(questions), "--out", str(out)]
        )
    assert code == 0
    rep = json.loads(out.with_suffix(".json").read_text())
    assert rep["errors"] == 0 and rep["error_rate"] == 0 and rep["ok"] == rep["requests"] > 0
    assert rep["clients"] == 4 and rep["questions"] == 3 and rep["index"]["documents"] == svc.stats()["documents"] > 0
    assert rep["throughput_rps"] > 0 and 2.5 < rep["elapsed_s"] < 60
    lat = rep["latency"]
    assert lat["search"]["requests"] + lat["ask"]["requests"] == rep["ok"]
    assert lat["search"]["requests"] > 0 and lat["ask"]["requests"] > 0  # the mix is mixed
    assert lat["all"]["p50_ms"] <= lat["all"]["p95_ms"] <= lat["all"]["p99_ms"] <= lat["all"]["max_ms"]
    assert rep["statuses"] == {"200": rep["ok"]} and len(rep["machine"]["load_average_before"]) == 3
    md = out.with_suffix(".md").read_text()
    assert "# Load test" in md and f"{rep['throughput_rps']} requests/s" in md and "| ask |" in md


def test_refuses_anything_but_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load.main(["--url", "http://example.com:8000", "--duration", "1"])
    assert "must be on this machine" in capsys.readouterr().err
