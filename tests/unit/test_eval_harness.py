"""The harness's plumbing: dataset subsets, aggregation, the run file, pinning and the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals import data, harness


def write_dataset(root: Path) -> Path:
    root.mkdir()
    docs = [{"doc_id": f"d{i}", "title": f"T{i}", "text": f"text {i}"} for i in range(10)]
    queries = [
        {"qid": "q1", "question": "one?", "answers": ["x"], "gold_doc_ids": ["d7"]},
        {"qid": "q2", "question": "two?", "answers": [], "gold_doc_ids": ["d8", "d2"]},
        {"qid": "q3", "question": "three?", "answers": [], "gold_doc_ids": ["d9"]},
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    return root


def test_subset_keeps_gold_documents_and_fills_in_corpus_order(tmp_path: Path) -> None:
    ds = data.load(write_dataset(tmp_path / "toy"), limit=2, corpus_limit=5)
    assert [q.qid for q in ds.queries] == ["q1", "q2"]
    # Gold d2, d7, d8 always; two more from the front of the corpus; corpus order kept.
    assert [d.id for d in ds.corpus] == ["d0", "d1", "d2", "d7", "d8"]
    assert ds.missing_gold == 0 and ds.total_docs == 10 and ds.total_queries == 3
    # A budget below the gold count still keeps every gold document.
    assert {d.id for d in data.load(tmp_path / "toy", limit=2, corpus_limit=1).corpus} == {"d2", "d7", "d8"}
    assert len(data.load(tmp_path / "toy").corpus) == 10


def record(
    qid: str,
    retrieved: list[str],
    gold: list[str],
    answer: str = "",
    answers: tuple[str, ...] = (),
    cites: tuple[tuple[bool, bool], ...] = (),
) -> dict[str, Any]:
    return {
        "qid": qid,
        "gold": gold,
        "answers": list(answers),
        "retrieved": retrieved,
        "scores": [1.0 - i / 100 for i in range(len(retrieved))],
        "answer_in_passages@5": bool(answers) and answer != "",
        "answer": answer,
        "found": bool(answer),
        "citations": [{"doc_id": "d", "exact": e, "gold": g} for e, g in cites],
        "search_ms": 10.0,
        "ask_ms": 20.0,
    }


def test_questions_from_another_dataset_keep_this_ones_answers_and_gold(tmp_path: Path) -> None:
    """``questions_from``: each query asked in the words of its namesake there (XQuAD's English
    question of a German paragraph); a query missing there is an error, not a silent skip."""
    root = write_dataset(tmp_path / "toy")
    other = tmp_path / "other"
    other.mkdir()
    (other / "queries.jsonl").write_text(
        "".join(json.dumps({"qid": q, "question": f"{q} in English?"}) + "\n" for q in ("q1", "q2", "q3"))
    )
    ds = data.load(root, limit=2, questions_from=other)
    assert [(q.qid, q.question, q.answers) for q in ds.queries] == [
        ("q1", "q1 in English?", ("x",)),
        ("q2", "q2 in English?", ()),
    ]
    assert ds.queries[1].gold == {"d8", "d2"}
    (other / "queries.jsonl").write_text(json.dumps({"qid": "q1", "question": "only one?"}) + "\n")
    with pytest.raises(ValueError, match="2 of the chosen questions are not in"):
        data.load(root, questions_from=other, limit=3)


def test_score_averages_over_queries() -> None:
    records = [
        record(
            "q1", ["a", "x"], ["a"], answer="Denver Broncos won", answers=("Denver Broncos",), cites=((True, True),)
        ),
        record("q2", ["x", "y", "b"], ["b", "c"], answer="", answers=("z",), cites=((True, False), (True, True))),
    ]
    s, curve = harness.score(records)
    assert s["recall@1"] == 0.5  # (1 + 0) / 2
    assert s["recall@10"] == pytest.approx((1 + 0.5) / 2)
    assert s["all_recall@10"] == 0.5
    assert s["mrr@10"] == pytest.approx((1 + 1 / 3) / 2)
    assert s["em"] == 0.0
    assert s["f1"] == pytest.approx((0.8 + 0) / 2)
    assert s["citation_precision"] == pytest.approx(2 / 3)  # micro-averaged over citations
    assert s["citation_exactness"] == 1.0
    assert curve[0] == 0.5 and curve[2] == pytest.approx(0.75) and len(curve) == harness.CURVE_K
    assert s["short_answers"] == 0.0 and s["short_em"] is None  # no short answer given: no EM of them


def test_short_answers_are_scored_where_given() -> None:
    records = [
        {**record("q1", ["a"], ["a"], answer="The Broncos won.", answers=("Broncos",)), "short": "Broncos"},
        {**record("q2", ["a"], ["a"], answer="It was 1937.", answers=("1938",)), "short": "1937"},
        record("q3", ["a"], ["a"], answer="They met in Paris.", answers=("Paris",)),
    ]
    s, _ = harness.score(records)
    assert s["short_answers"] == pytest.approx(2 / 3)
    assert s["short_em"] == 0.5  # one exact of the two short answers given
    assert s["em"] == pytest.approx(1 / 3)  # the third is scored on its whole sentence


def test_run_file_is_trec_format(tmp_path: Path) -> None:
    harness.write_run_file(tmp_path / "run.trec", [record("q1", ["Kiss and Tell (1945 film)", "b"], ["b"])], "qa-t")
    lines = (tmp_path / "run.trec").read_text().splitlines()
    assert lines == ["q1 Q0 Kiss_and_Tell_(1945_film) 1 1.00000 qa-t", "q1 Q0 b 2 0.99000 qa-t"]


def report(metrics: dict[str, float]) -> dict[str, Any]:
    return {
        "dataset": "toy",
        "limit": 2,
        "corpus_limit": 5,
        "k": 10,
        "date": "2026-01-01",
        "command": "qa eval --dataset toy",
        "configs": {"default": {"metrics": metrics}},
    }


def test_pin_then_check(tmp_path: Path) -> None:
    base = {"recall@10": 0.8, "mrr@10": 0.5, "citation_exactness": 1.0}
    path = harness.pin(report(base), tmp_path)
    pinned = json.loads(path.read_text())
    assert pinned["runs"][0]["metrics"] == base and pinned["tolerance"] == harness.DEFAULT_TOLERANCE
    assert harness.check(report(base), tmp_path) == []
    # Within the tolerance passes; below it fails and says which metric.
    assert harness.check(report({**base, "recall@10": 0.79}), tmp_path) == []
    failures = harness.check(report({**base, "recall@10": 0.7}), tmp_path)
    assert len(failures) == 1 and failures[0].startswith("recall@10")
    # An inexact citation fails however small the drop.
    assert harness.check(report({**base, "citation_exactness": 0.999}), tmp_path)
    # Another subset has no pinned scores: an error that names the pinned ones, not a silent pass.
    other = {**report(base), "limit": 50}
    with pytest.raises(ValueError, match="--limit 2"):
        harness.check(other, tmp_path)
    # Re-pinning the same subset replaces its entry.
    harness.pin(report({**base, "mrr@10": 0.6}), tmp_path)
    assert [e["metrics"]["mrr@10"] for e in json.loads(path.read_text())["runs"]] == [0.6]


def test_short_answers_are_scored_in_their_language() -> None:
    # MLQA's Chinese normalization splits Chinese characters apart: "136次" is "136 次"; English's is not.
    records = [{**record("q1", ["a"], ["a"], answer="他共有136次擒杀。", answers=("136 次",)), "short": "136次"}]
    assert harness.score(records)[0]["short_em"] == 0.0
    records[0]["language"] = "zh"
    assert harness.score(records)[0]["short_em"] == 1.0
