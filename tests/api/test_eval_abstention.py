"""The gold-removed mode with real parts: the bundled model, a real index, SQuAD paragraphs.

The gold-removed pass asks each question through a view of the eval index without its gold
documents (evals/abstention.py: dense through the ``doc_id`` filter, BM25 rebuilt without them).
Here it is checked against real indexes built without them: the answers, citations, passages and
scores must be the same. The 30-question version of this check is in
tests/system/test_eval_abstention.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals import harness
from qa.config import Settings
from qa.embed import Embedder

from ..conftest import SHARED

SQUAD = SHARED / "datasets" / "squad_v1.1_dev"


def squad_subset(root: Path, questions: int, distractors: int) -> Path:
    """The first question of each of the first ``questions`` SQuAD paragraphs asked about (each a
    distinct gold set: one index to build per question in the check), over those paragraphs and
    the next ``distractors`` of the corpus; all of one article, so other paragraphs often hold the
    answer too."""
    if not (SQUAD / "queries.jsonl").is_file():
        pytest.fail(f"{SQUAD} is missing: the tests read ../shared/datasets beside the project")
    picked: dict[str, dict[str, Any]] = {}
    with (SQUAD / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            picked.setdefault(q["gold_doc_ids"][0], q)
            if len(picked) == questions:
                break
    docs = []
    with (SQUAD / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if d["doc_id"] in picked or len(docs) < questions + distractors:
                docs.append(d)
            if len(docs) >= questions + distractors and all(g in {x["doc_id"] for x in docs} for g in picked):
                break
    root.mkdir()
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in picked.values()))
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    return root


def check_gold_removed(tmp_path: Path, embedder: Embedder, questions: int, distractors: int) -> dict[str, Any]:
    dataset = squad_subset(tmp_path / "squad", questions, distractors)
    spec = harness.Spec(dataset, k=5, threads=1, abstention=True, verify_exclusion=questions)
    out = tmp_path / "out"
    report = harness.evaluate(spec, Settings(), out, cache_dir=tmp_path / "cache", embedder=embedder)
    c = report["configs"]["default"]
    a, x = c["abstention"], c["exclusion_check"]
    # Every question asked both ways, plus the off-topic ones; no gold passage reached the answerer.
    assert a["answerable"] == a["gold_removed"] == questions and a["offtopic"] >= 30
    assert a["exact"] is True and a["gold_leaks"] == 0 and a["found_disagrees_with_score"] == 0
    assert a["lexical_rebuilds"] == questions  # one per distinct gold set
    # The view gives what real indexes without the gold documents give, question by question.
    assert x["questions"] == x["indexes_built"] == questions
    assert x["same_answer"] == questions and x["same_passages"] == questions, x
    assert x["max_score_difference"] < 1e-6
    for name in ("abstention.default.jsonl", "offtopic.default.jsonl", "exclusion_check.default.jsonl"):
        assert len((out / name).read_text().splitlines()) in (questions, a["offtopic"]), name
    removed = [json.loads(line) for line in (out / "abstention.default.jsonl").read_text().splitlines()]
    assert all(not set(r["passages"]) & set(r["gold"]) for r in removed)
    md = (out / "report.md").read_text()
    assert "## Abstention" in md and "calibrated" in md and "real indexes without the gold documents" in md
    return report


def test_gold_removed_answers_equal_an_index_without_the_gold(tmp_path: Path, embedder: Embedder) -> None:
    check_gold_removed(tmp_path, embedder, questions=8, distractors=6)
