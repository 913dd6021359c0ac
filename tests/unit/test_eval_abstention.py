"""Abstention metrics (pure logic): "found" as a classifier, the threshold sweep, the calibration,
the harness's aggregation of the three passes, query selection and the off-topic file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals import abstention, data, harness
from evals import metrics as m
from evals.report import abstention_lines


def test_found_classifier_counts_both_sides() -> None:
    # 4 answerable: 3 found (TP 3, FN 1); 4 gold-removed: 1 found (FP 1, TN 3).
    c = m.found_classifier([True, True, True, False], [False, True, False, False])
    assert c["precision"] == pytest.approx(3 / 4)
    assert c["recall"] == pytest.approx(3 / 4)
    assert c["f1"] == pytest.approx(3 / 4)
    assert c["abstention"] == pytest.approx(3 / 4)
    # Nothing found: precision undefined, recall 0.
    none = m.found_classifier([False, False], [False])
    assert none["precision"] is None and none["recall"] == 0.0 and none["f1"] is None and none["abstention"] == 1.0
    assert m.found_classifier([], [])["recall"] is None


def test_sweep_reads_found_off_the_score() -> None:
    answerable, removed, offtopic = [0.9, 0.6, 0.4, 0.2], [0.5, 0.3, 0.1], [0.35]
    rows = m.sweep(answerable, removed, offtopic, [0.3, 0.5])
    assert rows[0] == {
        "threshold": 0.3,
        "answered": 0.75,  # 0.9, 0.6, 0.4
        "not_found": pytest.approx(1 / 3),  # 0.1 only: a score equal to the threshold is answered
        "offtopic_not_found": 0.0,
        "precision": pytest.approx(3 / 5),
        "f1": pytest.approx(2 * 0.6 * 0.75 / 1.35),
    }
    assert rows[1]["answered"] == 0.5 and rows[1]["not_found"] == pytest.approx(2 / 3)
    assert rows[1]["offtopic_not_found"] == 1.0 and rows[1]["precision"] == pytest.approx(2 / 3)


def test_threshold_grid() -> None:
    grid = m.threshold_grid([0.1, 0.8], extra=[0.3, 0.4123])
    assert grid[0] == 0.05 and grid[-1] == 0.95 and 0.4123 in grid and grid.count(0.3) == 1
    assert grid == sorted(grid)
    # Scores outside 0..1 (another scorer's scale): percentiles of the scores.
    wide = m.threshold_grid([float(x) for x in range(-10, 11)])
    assert wide[0] == pytest.approx(-9.0) and wide[-1] == pytest.approx(9.0) and len(wide) == 19
    assert m.threshold_grid([], extra=[0.3]) == [0.3]


def test_calibrate_takes_the_highest_threshold_that_keeps_the_answered_share() -> None:
    answerable = [round(0.05 * i, 2) for i in range(1, 21)]  # 0.05 .. 1.0
    removed = [0.02, 0.07, 0.12, 0.5]
    cal = m.calibrate(answerable, removed, min_answered=0.95)
    assert cal is not None
    # 19 of 20 must be answered: the 19th highest score is 0.1, so the threshold is 0.1.
    assert cal["threshold"] == 0.1 and cal["answered"] == 0.95
    assert cal["not_found"] == 0.5  # 0.02 and 0.07 fall below it
    # A threshold one step higher would answer fewer than 95%.
    assert m.answered_share(answerable, cal["threshold"] + 1e-4) < 0.95
    # Scores that are not multiples of the step: rounded down, the guarantee kept.
    cal = m.calibrate([0.41239, 0.9, 0.8], [0.1], min_answered=1.0)
    assert cal is not None and cal["threshold"] == 0.4123 and cal["answered"] == 1.0
    assert m.calibrate([], [0.1]) is None and m.calibrate([0.5], []) is None
    with pytest.raises(ValueError):
        m.calibrate([0.5], [0.1], min_answered=0.0)


def test_calibrate_survives_floating_point_scores() -> None:
    # 0.29 * 10_000 is 2899.9999999999995 in binary floating point.
    cal = m.calibrate([0.29, 0.57, 0.58], [0.28, 0.2899], min_answered=1.0)
    assert cal is not None and cal["threshold"] == 0.29 and cal["answered"] == 1.0 and cal["not_found"] == 1.0


def test_threshold_for_abstention_takes_the_lowest_that_reaches_the_share() -> None:
    answerable = [0.9, 0.7, 0.5, 0.3]
    removed = [0.1, 0.2, 0.3, 0.4, 0.6]
    t = m.threshold_for_abstention(answerable, removed, min_not_found=0.8)
    assert t is not None
    # 4 of 5 below the threshold: just above 0.4.
    assert t["threshold"] == 0.4001 and t["not_found"] == 0.8 and t["answered"] == 0.75
    assert m.threshold_for_abstention(answerable, [0.2, 0.2], min_not_found=1.0)["threshold"] == 0.2001  # type: ignore[index]


def rec(qid: str, found: bool, score: float, **more: Any) -> dict[str, Any]:
    return {
        "qid": qid,
        "found": found,
        "answer_score": score,
        "answers": ["x"],
        "answer_in_passages": False,
        "answer_holds_gold": None,
        "gold_leak": False,
        **more,
    }


def test_score_aggregates_the_three_passes() -> None:
    answerable = [rec("a", True, 0.6), rec("b", True, 0.5), rec("c", False, 0.2)]
    removed = [
        rec("a", True, 0.45, answer_in_passages=True, answer_holds_gold=True),
        rec("b", False, 0.25),
        rec("c", False, 0.1, answers=[], answer_in_passages=None),
    ]
    offtopic = [rec("o1", False, 0.1, answers=[]), rec("o2", True, 0.35, answers=[])]
    a = abstention.score(answerable, removed, offtopic, current=0.3, thresholds=[0.55], min_answered=0.6)
    assert a["answered"] == pytest.approx(2 / 3) and a["not_found"] == pytest.approx(2 / 3)
    assert a["offtopic_not_found"] == 0.5
    assert a["precision"] == pytest.approx(2 / 3) and a["recall"] == pytest.approx(2 / 3)
    assert a["removed_with_answers"] == 2 and a["removed_answer_in_passages"] == 1
    assert a["removed_answered_with_gold"] == 1
    assert a["not_found_without_answer_in_passages"] == 1.0  # "b": no passage held the answer, not found
    assert a["gold_leaks"] == 0 and a["found_disagrees_with_score"] == 0
    # 2 of 3 answered at most 0.5: not found then for 0.45, 0.25, 0.1.
    assert a["calibrated"]["threshold"] == 0.5 and a["calibrated"]["not_found"] == 1.0
    assert a["target_met"] is True
    thresholds = [row["threshold"] for row in a["sweep"]]
    assert {0.3, 0.55, 0.5} <= set(thresholds)
    # A record whose `found` is not score >= threshold is counted: the sweep would misread it.
    odd = abstention.score([rec("a", True, 0.1)], removed, [], current=0.3)
    assert odd["found_disagrees_with_score"] == 1
    lines = "\n".join(abstention_lines({"configs": {"default": {"abstention": a, "seconds": {"queries": 1.0}}}}))
    assert "| default | 0.3 | 0.667 (3) | 0.667 (3) | 0.500 (2) |" in lines
    assert "calibrated (>= 60% answered)" in lines and "| 0.55 |" in lines and "given" in lines


def test_without_leaves_every_other_document() -> None:
    assert abstention.without(["a", "b", "c"], frozenset({"b"})) == {"doc_id": ["a", "c"]}


def test_offtopic_questions_are_well_formed() -> None:
    qs = abstention.load_offtopic()
    assert len(qs) >= 30 and len({q.qid for q in qs}) == len(qs)
    assert all(q.question.strip().endswith("?") and not q.gold for q in qs)


def write_dataset(root: Path) -> Path:
    root.mkdir()
    docs = [{"doc_id": f"{a}#{i}", "title": a, "text": f"text {a} {i}"} for a in ("A", "B", "C") for i in range(2)]
    queries = [
        {"qid": "q1", "question": "one?", "answers": ["x"], "gold_doc_ids": ["A#0"]},
        {"qid": "q2", "question": "two?", "answers": ["x"], "gold_doc_ids": ["B#1"]},
        {"qid": "q3", "question": "three?", "answers": ["x"], "gold_doc_ids": ["C#0"]},
        {"qid": "q4", "question": "four?", "answers": ["x"], "gold_doc_ids": ["B#0", "C#1"]},
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    return root


def test_query_selection(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "toy")
    assert [q.qid for q in data.load(root, skip=1, limit=2).queries] == ["q2", "q3"]
    assert [q.qid for q in data.load(root, qids=["q4", "q1"]).queries] == ["q1", "q4"]  # file order
    # A query counts for an article when every gold document belongs to it.
    ds = data.load(root, articles=["B", "C"], skip=1)
    assert [q.qid for q in ds.queries] == ["q3", "q4"] and ds.selected_queries == 3 and ds.total_queries == 4
    assert len(ds.corpus) == 6  # the corpus is never narrowed by the selection
    with pytest.raises(ValueError):
        data.load(root, skip=-1)


def test_read_list_formats(tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_text("q1\n\nq2\n")
    (tmp_path / "list.json").write_text('["q1", "q2"]')
    (tmp_path / "split.json").write_text('{"train_articles": ["A"], "about": "x"}')
    assert data.read_list(str(tmp_path / "lines.txt")) == ["q1", "q2"]
    assert data.read_list(str(tmp_path / "list.json")) == ["q1", "q2"]
    assert data.read_list(f"{tmp_path / 'split.json'}:train_articles") == ["A"]
    with pytest.raises(ValueError, match="train_articles"):
        data.read_list(f"{tmp_path / 'split.json'}:nope")
    with pytest.raises(ValueError, match="not a list of strings"):
        data.read_list(f"{tmp_path / 'split.json'}:about")
    with pytest.raises(ValueError, match="not a file"):
        data.read_list(str(tmp_path / "missing.txt"))
    assert data.article("Super_Bowl_50#3") == "Super_Bowl_50" and data.article("plain") == "plain"


def test_pinned_scores_are_per_selection(tmp_path: Path) -> None:
    base = {
        "dataset": "toy",
        "limit": 2,
        "corpus_limit": None,
        "k": 10,
        "date": "2026-01-01",
        "command": "qa eval",
        "configs": {"default": {"metrics": {"recall@10": 0.8}}},
    }
    harness.pin(base, tmp_path)
    assert harness.check({**base, "skip": None, "selection": None}, tmp_path) == []
    with pytest.raises(ValueError, match="pins no scores"):
        harness.check({**base, "skip": 100}, tmp_path)


def write_run(root: Path, answerable: list[float], removed: list[float], offtopic: list[float]) -> Path:
    """A report directory as `qa eval --abstention` writes it, with only what calibration reads."""
    root.mkdir()
    report = {"dataset": "toy", "command": "qa eval", "configs": {"default": {"settings": {"min_answer_score": 0.3}}}}
    (root / "report.json").write_text(json.dumps(report))
    for kind, scores, gold in (
        ("queries", answerable, ["d"]),
        ("abstention", removed, ["d"]),
        ("offtopic", offtopic, []),
    ):
        rows = [{"gold": gold, "answer_score": s, "found": s >= 0.3} for s in scores]
        (root / f"{kind}.default.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_calibrate_on_one_run_and_apply_to_another(tmp_path: Path) -> None:
    from evals import calibrate

    train = write_run(tmp_path / "train", [0.9, 0.6, 0.5, 0.45], [0.2, 0.4, 0.5, 0.1], [0.1])
    other = write_run(tmp_path / "other", [0.8, 0.4], [0.44, 0.46], [0.5, 0.2])
    result = calibrate.calibrate_runs(train, [other], min_answered=1.0)
    assert result["threshold"] == 0.45  # every training answerable question still answered
    t, o = result["runs"]
    assert t["role"] == "train" and t["calibrated"]["answered"] == 1.0 and t["calibrated"]["not_found"] == 0.75
    assert t["current"]["threshold"] == 0.3 and t["current"]["not_found"] == 0.5
    # Applied to the other run's records: 0.4 falls below 0.45, so does 0.44.
    assert o["calibrated"]["answered"] == 0.5 and o["calibrated"]["not_found"] == 0.5
    assert o["calibrated"]["offtopic_not_found"] == 0.5 and o["target_met"] is False
    calibrate.write_markdown(result, tmp_path / "c.md")
    assert "**0.45**" in (tmp_path / "c.md").read_text()
    with pytest.raises(ValueError, match="--abstention"):
        calibrate.load_run(tmp_path)
