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


def test_mix_with_live_ingestion_reports_every_route_and_cleans_up(
    make_service: Callable[..., QAService], tmp_path: Path
) -> None:
    svc = make_service("load-mix")
    svc.index_paths([DOCS])
    before = svc.stats()["documents"]
    out = tmp_path / "load-mix"
    with live_server(svc) as base:
        code = load.main(
            ["--url", base, "--duration", "4", "--clients", "4", "--mix", "search=3,ask=3,ingest=3,delete=1"]
            + ["--out", str(out)]
        )
    assert code == 0
    rep = json.loads(out.with_suffix(".json").read_text())
    assert rep["errors"] == 0 and rep["mix"] == {"search": 0.3, "ask": 0.3, "ingest": 0.3, "delete": 0.1}
    lat = rep["latency"]
    assert sum(lat[r]["requests"] for r in ("search", "ask", "ingest", "delete")) == rep["ok"]
    assert lat["ingest"]["requests"] > 0 and lat["ingest"]["p50_ms"] <= lat["ingest"]["p99_ms"]
    assert rep["route_statuses"]["ingest"] == {"201": lat["ingest"]["requests"]}
    # Everything the run added was deleted, during it or after it.
    assert lat["ingest"]["requests"] == lat["delete"]["requests"] + rep["cleaned_up"]
    assert svc.stats()["documents"] == before
    md = out.with_suffix(".md").read_text()
    assert "| ingest |" in md and "| delete |" in md and "ingest 30%" in md


def test_mix_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("search=1,upload=2", "search=x", "search=0,ask=0", "search=nan"):
        with pytest.raises(SystemExit):
            load.main(["--url", "http://127.0.0.1:9", "--mix", bad])
    assert "--mix" in capsys.readouterr().err


def test_refuses_anything_but_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load.main(["--url", "http://example.com:8000", "--duration", "1"])
    assert "must be on this machine" in capsys.readouterr().err


def test_ingest_sweep_runs_each_variant_and_writes_medians(
    make_service: Callable[..., QAService], tmp_path: Path
) -> None:
    """bench/ingest_sweep.py: one short round of every ingestion variant on a real index, with real servers."""
    from bench import ingest_sweep

    svc = make_service("sweep")
    svc.index_paths([DOCS])
    svc.close()
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"question": "Who met in Paris?"}\n{"question": "What is BM25?"}\n')
    out = tmp_path / "sweep"
    report = ingest_sweep.main(
        ["--index-dir", str(svc.settings.index_dir), "--index-name", "sweep", "--rounds", "1", "--duration", "2"]
        + ["--clients", "4", "--questions", str(questions), "--out", str(out)]
    )
    assert set(report["medians"]) == set(ingest_sweep.VARIANTS) and len(report["load_avg_before_each_run"]) == 3
    for m in report["medians"].values():
        assert m["requests_per_s"] > 0 and m["search_p50_ms"] <= m["search_p99_ms"]
    assert json.loads(out.with_suffix(".json").read_text())["rounds"] == 1
    assert "| 1 thread, queue 64 |" in out.with_suffix(".md").read_text()
