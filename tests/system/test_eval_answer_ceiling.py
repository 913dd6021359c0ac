"""`python -m evals.answer_ceiling` on a slice of SQuAD, with the bundled answer model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals import answer_ceiling

from ..conftest import SHARED

SQUAD = SHARED / "datasets" / "squad_v1.1_dev"

pytestmark = pytest.mark.slow


def slice_of(target: Path, questions: int = 8, paragraphs: int = 12) -> None:
    """The first ``questions`` questions over their gold paragraphs and the next others."""
    queries = [json.loads(line) for line in (SQUAD / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus = [json.loads(line) for line in (SQUAD / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = queries[:questions]
    gold = {d for q in chosen for d in q["gold_doc_ids"]}
    docs = [d for d in corpus if d["doc_id"] in gold] + [d for d in corpus if d["doc_id"] not in gold]
    target.mkdir(parents=True)
    for name, rows in (("queries.jsonl", chosen), ("corpus.jsonl", docs[:paragraphs])):
        (target / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_the_report_splits_every_question_into_one_bucket(tmp_path: Path) -> None:
    if not (SQUAD / "queries.jsonl").is_file():
        pytest.fail(f"{SQUAD} is missing: the eval reads ../shared/datasets beside the project")
    data, out = tmp_path / "squad", tmp_path / "out"
    slice_of(data)
    args = ["--dataset", str(data), "--depth", "8", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    result = CliRunner().invoke(answer_ceiling.app, [*args, "--name", "slice"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "slice.json").read_text(encoding="utf-8"))
    assert report["questions"] == 8
    assert report["model"].startswith("qa-answer")
    assert math.isclose(sum(report["buckets"].values()), 1.0, abs_tol=1e-3)
    rows = report["by_shortlist"]
    assert list(rows) == ["1", "2", "4", "8"]
    # A perfect chooser over a longer shortlist never reaches fewer questions, and the chooser never
    # beats it; at the service's shortlist the first bucket is the chooser's share.
    for shorter, longer in zip(list(rows)[:-1], list(rows)[1:], strict=True):
        assert rows[shorter]["reachable"] <= rows[longer]["reachable"]
    for row in rows.values():
        assert row["chosen"] <= row["reachable"] <= row["reachable_gold_doc"]
        assert row["chosen"] <= row["chosen_gold_doc"]
    assert report["buckets"]["chosen"] == rows[str(report["shortlist"])]["chosen"]
    # Twelve paragraphs of one article: the gold sentences are among the candidates for most.
    assert report["any_candidate"] >= 0.75
    assert "| answered by a positive |" in (out / "slice.md").read_text(encoding="utf-8")


def test_features_alone_is_refused_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "squad"
    slice_of(data, questions=2, paragraphs=4)
    monkeypatch.setenv("QA_ANSWER_MODEL", "features")
    args = ["--dataset", str(data), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(answer_ceiling.app, args)
    assert result.exit_code == 2
    assert "loads no answer model" in result.output
    assert not (tmp_path / "out").exists()
