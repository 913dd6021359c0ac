"""The short-answer confidence recipe (``evals.fit_short``): the numpy logistic fit, and the script
end to end on a hand-written run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals import fit_short
from qa.span import CONFIDENCE_FEATURES, short_candidate


def _synthetic(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = np.array([0.5, 2.0, -1.5])
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = (rng.random(n) < 1 / (1 + np.exp(-(x @ true)))).astype(float)
    return x, y, true


def test_the_fit_recovers_a_known_direction_and_is_deterministic() -> None:
    x, y, true = _synthetic()
    w = fit_short.fit_logistic(x, y, c=1.0)
    # the direction of the non-bias weights is the one the labels were drawn with
    cos = w[1:] @ true[1:] / (np.linalg.norm(w[1:]) * np.linalg.norm(true[1:]))
    assert cos > 0.98
    assert np.abs(w - true).max() < 0.5
    assert np.array_equal(w, fit_short.fit_logistic(x, y, c=1.0))


def test_the_fit_is_at_the_minimum_of_sklearns_objective() -> None:
    x, y, _ = _synthetic(seed=1, n=200)
    c = 0.5
    # LogisticRegression(C=c, fit_intercept=False) with a constant column: every weight penalized
    w = fit_short.fit_logistic(x, y, c=c)
    p = 1 / (1 + np.exp(-(x @ w)))
    assert np.abs(x.T @ (p - y) + w / c).max() < 1e-6
    # fit_intercept=True's objective: the bias column is not penalized
    free = fit_short.fit_logistic(x, y, c=c, penalize_bias=False)
    p = 1 / (1 + np.exp(-(x @ free)))
    assert np.abs(x.T @ (p - y) + np.r_[0.0, free[1:] / c]).max() < 1e-6
    # the penalty shrinks the weights
    loose = fit_short.fit_logistic(x, y, c=1e6)
    assert np.linalg.norm(w) < np.linalg.norm(loose)


def test_a_separable_problem_stays_finite() -> None:
    x = np.array([[1.0, -2.0], [1.0, -1.0], [1.0, 1.0], [1.0, 2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    w = fit_short.fit_logistic(x, y)
    assert np.isfinite(w).all() and w[1] > 0


def _record(qid: str, question: str, sentence: str, answers: list[str], score: float, gold: str) -> dict:
    got = short_candidate(question, sentence, score)
    return {
        "qid": qid,
        "question": question,
        "gold": [gold],
        "answers": answers,
        "answer": sentence,
        "short": None,
        "found": True,
        "answer_score": score,
        "citations": [
            {"doc_id": gold, "start": 0, "end": len(sentence), "quote": sentence, "exact": True, "gold": True}
        ],
        "_has_candidate": got is not None,
    }


RECORDS = [
    ("q1", "When was the bridge opened?", "The bridge was opened in 1937 after four years of work.", ["1937"], 0.8),
    (
        "q2",
        "Who designed the bridge?",
        "The bridge was designed by Joseph Strauss and Leon Moisseiff.",
        ["Joseph Strauss"],
        0.6,
    ),
    ("q3", "How many people died?", "Eleven men were killed in construction accidents.", ["Eleven"], 0.4),
    ("q4", "When did the war end?", "The war ended in 1945, six years after it began in 1939.", ["1945"], 0.7),
    ("q5", "Who led the army?", "The army marched north under a new general.", ["Grant"], 0.3),
    ("q6", "Why was it built?", "It was built to cross the strait.", ["to cross the strait"], 0.5),
    ("q7", "Who wrote the novel?", "The novel was written by Mary Shelley in London.", ["Percy Shelley"], 0.5),
]


def _write_run(path: Path, article: str) -> None:
    path.mkdir()
    rows = [_record(q, question, s, a, score, f"{article}#0") for q, question, s, a, score in RECORDS]
    assert sum(r.pop("_has_candidate") for r in rows) >= 4
    (path / "queries.default.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_the_script_writes_both_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_run(tmp_path / "train", "Golden_Gate_Bridge")
    _write_run(tmp_path / "val", "Frankenstein")
    out = tmp_path / "reports"
    fit_short.main(["--runs", str(tmp_path / "train"), "--validation", str(tmp_path / "val"), "--out", str(out)])
    report = json.loads((out / "short_confidence.json").read_text(encoding="utf-8"))
    for key in (
        "unpenalized_bias",
        "command",
        "date",
        "features",
        "fitted_weights",
        "shipped_weights",
        "max_abs_difference",
        "fit",
        "tables",
    ):
        assert key in report
    assert report["features"] == list(CONFIDENCE_FEATURES)
    assert len(report["fitted_weights"]) == len(CONFIDENCE_FEATURES)
    assert report["fit"]["articles"] == ["Golden_Gate_Bridge"] and report["fit"]["questions"] == len(RECORDS)
    assert 4 <= report["fit"]["spans"] < len(RECORDS)
    for part in ("fit", "validation"):
        assert {"spans", "exact", "near_ties", "same_decisions_as_shipped", "agreement_with_run"} <= set(report[part])
    for part in ("fit", "validation"):
        rows = report["tables"][part]["fitted"]
        assert [r["threshold"] for r in rows] == [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
        assert {"shown", "share_of_spans", "em_where_shown"} <= set(rows[0])
    md = (out / "short_confidence.md").read_text(encoding="utf-8")
    assert "# Short-answer confidence" in md and "## validation, fitted weights" in md
    assert "Short-answer confidence" in capsys.readouterr().out


def test_the_script_refuses_the_eval_articles(tmp_path: Path) -> None:
    _write_run(tmp_path / "train", "Super_Bowl_50")
    with pytest.raises(SystemExit, match="eval articles"):
        fit_short.main(["--runs", str(tmp_path / "train"), "--out", str(tmp_path / "reports")])
    assert not (tmp_path / "reports").exists()
