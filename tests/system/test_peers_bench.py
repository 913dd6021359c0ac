"""bench/peers.py: the ratio math, token counting and the report on synthetic input; our ingestion
end to end on two abstracts; the peers themselves only where their virtualenv is installed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench import peers

from ..conftest import SHARED

CORPUS = SHARED / "datasets" / "scifact" / "corpus.jsonl"
VENV = Path(os.environ.get("QA_PEERS_VENV", "/tmp/peers"))


def row(run: int, system: str, cps: float, chunks: int = 100) -> dict[str, Any]:
    seconds = chunks / cps
    return {
        "run": run,
        "system": system,
        "chunks": chunks,
        "chunks_per_s": cps,
        "mb_per_s": round(0.5 / seconds, 6),
        "tokens_per_s": round(chunks * 200 / seconds, 3),
        "seconds": seconds,
        "mean_chunk_tokens": 150.0,
        "peak_rss_mb": 500.0 + run,
        "embed_share": 0.9,
        "split_seconds": {"parse": 0.01, "chunk": 0.1, "embed": 0.9 * seconds, "index": 0.05},
        "load_average_before": [1.5 + run, 1.0, 0.5],
    }


def synthetic() -> list[dict[str, Any]]:
    rows = []
    for run, (ours, lc, li) in enumerate([(30, 10, 20), (20, 10, 4), (40, 10, 10)], start=1):
        rows += [row(run, "ours", ours, 120), row(run, "langchain", lc, 110), row(run, "llamaindex", li, 60)]
    return rows


def test_ratios_are_per_run_then_median() -> None:
    s = peers.summarize(synthetic())
    lc, li = s["ratios"]["ours/langchain"], s["ratios"]["ours/llamaindex"]
    assert lc["chunks_per_s"] == {"per_run": [3.0, 2.0, 4.0], "median": 3.0}
    # The median of per-run ratios (4.0), not the ratio of medians (30 / 10 = 3.0): each ratio
    # compares systems that ran back to back under the same load.
    assert li["chunks_per_s"] == {"per_run": [1.5, 5.0, 4.0], "median": 4.0}
    assert s["systems"]["ours"]["chunks_per_s"] == 30 and s["systems"]["llamaindex"]["chunks_per_s"] == 10
    assert s["systems"]["ours"]["chunks_per_s_runs"] == [30, 20, 40]
    assert s["systems"]["ours"]["peak_rss_mb"] == 502.0 and s["systems"]["ours"]["chunks"] == 120
    # MB/s compares the same text: ours' seconds against the peer's in each run.
    assert lc["mb_per_s"]["per_run"] == [round((110 / 10) / (120 / cps), 3) for cps in (30, 20, 40)]
    assert s["meets_target"] is True
    assert peers.summarize(synthetic(), target=3.5)["meets_target"] is False
    # Both peers are needed to call the target met.
    assert peers.summarize([r for r in synthetic() if r["system"] != "llamaindex"])["meets_target"] is False
    # A run where a system is missing is left out of that pair's ratios.
    partial = [r for r in synthetic() if not (r["run"] == 2 and r["system"] == "langchain")]
    assert peers.summarize(partial)["ratios"]["ours/langchain"]["chunks_per_s"]["per_run"] == [3.0, 4.0]


def test_report_json_and_markdown(tmp_path: Path) -> None:
    detail = synthetic()
    for r in detail:
        if r["system"] == "ours":
            r["backend"] = "onnx-int8"
    report = peers.make_report(
        detail,
        command="python -m bench.peers --docs 3",
        started="2026-11-25T00:00:00Z",
        documents=3,
        text_mb=0.5,
        threads=2,
        systems=["ours", "langchain", "llamaindex"],
        model="all-MiniLM-L6-v2",
    )
    assert report["runs"] == 3
    md = peers.write_report(report, tmp_path)
    assert json.loads((tmp_path / "peers.json").read_text()) == json.loads(json.dumps(report))
    assert (tmp_path / "peers.md").read_text() == md
    assert "| ours (default: onnx-int8) | 120 | 150.0 | 30 |" in md
    assert "| ours/langchain | **3.0** (3.0, 2.0, 4.0) |" in md
    assert "| ours/llamaindex | **4.0** (1.5, 5.0, 4.0) |" in md
    assert "both peers: **met**" in md
    assert "langchain #2: 3.5" in md and "Threads: 2 for every system" in md
    # Time split: medians of each stage; a stage a system does not have shows as "-".
    assert "| LangChain | 0.01 | - | 0.10 | 9.90 | 0.05 |" in md


def test_a_changed_torch_thread_count_is_noted() -> None:
    detail = synthetic()
    for r in detail:
        r["torch_threads"] = 1 if r["system"] == "ours" else 2
    (note,) = peers.thread_notes(detail, threads=2)
    assert note.startswith("ours: torch was set to 2 threads but had 1")
    assert peers.thread_notes(detail, threads=1)[0].startswith("langchain:")


def test_token_stats_with_the_model_tokenizer() -> None:
    model = peers.bundled_model()
    count = peers.token_counter(model)
    window = peers.model_window(model)
    assert window == 256
    assert count(["hello world", ""]) == [2, 0]
    long_title = "word " * 40
    texts = [("", "hello world"), (long_title, "hello world"), ("", "hello " * 300)]
    s = peers.token_stats(texts, count, window)
    assert s["chunks"] == 3 and s["max_chunk_tokens"] == 300
    assert s["mean_chunk_tokens"] == round((2 + 2 + 300) / 3, 1)
    # 2 + 2 special; the title prefix counts at most PREFIX_TOKENS; 300 + 2 is cut at the window.
    assert s["embedded_tokens"] == 4 + (peers.PREFIX_TOKENS + 2 + 2) + 256
    assert s["truncated_tokens"] == 302 - 256 and s["truncated_chunks"] == 1


def test_corpus_text_and_environment(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    docs = [{"_id": 1, "title": "Kilns", "text": "Fire at 1240."}, {"_id": "b", "title": "Why?", "text": "So."}]
    corpus.write_text("\n".join(json.dumps(d) for d in docs + [{"_id": "c", "text": "x"}]) + "\n")
    records = peers.read_corpus(corpus, 2)
    assert records == [
        {"id": "1", "title": "Kilns", "text": "Fire at 1240."},
        {"id": "b", "title": "Why?", "text": "So."},
    ]
    # Inline: a newline would let LangChain's splitter cut the title off as a chunk of its own.
    assert [peers.joined(r["title"], r["text"]) for r in records] == ["Kilns. Fire at 1240.", "Why? So."]
    assert peers.joined("", "text") == "text"
    assert peers.text_mb(records) == (len("Kilns. Fire at 1240.") + len("Why? So.")) / 1e6
    os.environ["QA_RETRIEVAL_MODE"] = "dense"
    try:
        env = peers.worker_env("ours-torch", 2, tmp_path)
        ours = peers.worker_env("ours", 2, tmp_path)
    finally:
        del os.environ["QA_RETRIEVAL_MODE"]
    assert env["QA_EMBED_BACKEND"] == "torch" and "QA_RETRIEVAL_MODE" not in env
    assert "QA_EMBED_BACKEND" not in ours, "ours runs with the service's defaults"
    assert env["OMP_NUM_THREADS"] == "2" and env["HF_HUB_OFFLINE"] == "1"


@pytest.mark.slow
def test_ours_end_to_end(tmp_path: Path) -> None:
    report = peers.main(
        ["--docs", "2", "--runs", "1", "--systems", "ours", "--corpus", str(CORPUS)] + ["--out", str(tmp_path)]
    )
    assert report is not None
    (r,) = report["runs_detail"]
    assert r["documents"] == 2 and r["chunks"] >= 2 and r["embedded_tokens"] > r["chunks"] * 2
    assert r["truncated_tokens"] == 0, "our chunks always fit the model's window"
    assert r["chunks_per_s"] > 0 and r["tokens_per_s"] > 0 and r["peak_rss_mb"] > 50
    assert set(r["split_seconds"]) == {"parse", "validate", "chunk", "embed", "index"}
    assert r["model_sha256"] and report["summary"]["ratios"] == {} and not report["summary"]["meets_target"]
    assert (tmp_path / "peers.md").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    "QA_PEERS_VENV" not in os.environ or not (VENV / "bin" / "python").exists(),
    reason="runs when QA_PEERS_VENV names the peers' virtualenv (python -m bench.peers --install --venv DIR; "
    ".ci/run makes one), so a machine's leftover venv never decides what runs",
)
def test_peers_end_to_end(tmp_path: Path) -> None:
    report = peers.main(
        ["--docs", "1", "--runs", "1", "--systems", "langchain", "llamaindex", "--venv", str(VENV)]
        + ["--corpus", str(CORPUS), "--out", str(tmp_path)]
    )
    assert report is not None
    rows = {r["system"]: r for r in report["runs_detail"]}
    assert set(rows) == {"langchain", "llamaindex"}
    # SentenceSplitter's 1,024-token default: one chunk per abstract, read only up to the window.
    assert rows["llamaindex"]["chunks"] == 1
    for r in rows.values():
        assert r["documents"] == 1 and r["chunks_per_s"] > 0 and r["split_seconds"]["embed"] > 0
    # The same model file as ours.
    assert rows["langchain"]["model_sha256"] == rows["llamaindex"]["model_sha256"]
    assert rows["langchain"]["model_sha256"] == peers.sha256(peers.bundled_model() / "model.safetensors")
