"""The regression gate: a bounded HotpotQA subset through the real model, scored against pinned scores.

Same subset and options as `qa eval --dataset ../shared/datasets/hotpotqa_500 --limit 20
--corpus-limit 60 --k 5 --threads 1 --check`: 20 multi-hop questions (2 gold paragraphs each, 40 in
all) over 60 paragraphs, the other 20 being the first distractors of the corpus. The pinned scores
are in evals/expected/hotpotqa_500.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals import harness
from qa.config import Settings
from qa.embed import Embedder

from ..conftest import ROOT, SHARED

HOTPOT = SHARED / "datasets" / "hotpotqa_500"


@pytest.mark.slow
def test_hotpotqa_subset_meets_pinned_scores(tmp_path: Path, embedder: Embedder) -> None:
    if not (HOTPOT / "queries.jsonl").is_file():
        pytest.fail(f"{HOTPOT} is missing: the gate reads ../shared/datasets beside the project")
    spec = harness.Spec(HOTPOT, limit=20, corpus_limit=60, k=5, threads=1)
    out = tmp_path / "out"
    report = harness.evaluate(spec, Settings(), out, cache_dir=tmp_path / "cache", embedder=embedder)
    metrics = report["configs"]["default"]["metrics"]
    assert metrics["queries"] == 20 and report["corpus_docs"] == 60 and report["missing_gold"] == 0
    assert harness.check(report) == [], json.dumps(metrics, indent=2)
    # Every citation's quote is the stored text at its offsets.
    assert metrics["citations"] > 0 and metrics["citation_exactness"] == 1.0
    for name in ("report.json", "report.md", "recall_at_k.png", "run.default.trec", "queries.default.jsonl"):
        assert (out / name).stat().st_size > 0, name
    assert len((out / "run.default.trec").read_text().splitlines()) >= 20
    # A second run (retrieval only, to stay quick) reuses the index built by the first.
    retrieval_only = harness.Spec(HOTPOT, limit=20, corpus_limit=60, k=5, answers=False)
    again = harness.evaluate(
        retrieval_only, Settings(), tmp_path / "o2", cache_dir=tmp_path / "cache", embedder=embedder
    )
    assert again["configs"]["default"]["index"]["reused"] is True
    assert again["configs"]["default"]["metrics"]["recall@10"] == metrics["recall@10"]
    assert again["configs"]["default"]["metrics"]["f1"] is None


def test_eval_command_reports_a_missing_dataset(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "evals", "--dataset", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2 and "has no queries.jsonl" in r.stderr, r.stderr


def test_qa_eval_runs_the_harness_as_its_own_program(tmp_path: Path) -> None:
    """`qa eval` is an alias of `python -m evals` (qa never imports evals): same options, same errors."""
    r = subprocess.run(
        [sys.executable, "-m", "qa", "eval", "--dataset", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2 and "has no queries.jsonl" in r.stderr, r.stderr
    assert (
        "Usage: python -m evals"
        in subprocess.run(
            [sys.executable, "-m", "qa", "eval", "--help"], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout
    )
