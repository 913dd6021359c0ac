"""``evals.long_sentences`` counts the gold sentences whose answer the answer model's window cut off."""

from __future__ import annotations

import json
from pathlib import Path

from evals.long_sentences import main, measure


def test_it_counts_answers_beyond_the_window_and_beyond_the_long_sentence_limit(tmp_path: Path) -> None:
    long = "On a grey morning, " + "after careful preparations by the staff of both delegations, " * 8
    text = f"The talks had been planned for months. {long}the ministers met in Paris. They left on Friday."
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "corpus.jsonl").write_text(json.dumps({"doc_id": "d1", "title": "Talks", "text": text}) + "\n")
    queries = [
        {"qid": "q1", "question": "Where did the ministers meet?", "answers": ["Paris"], "gold_doc_ids": ["d1"]},
        {"qid": "q2", "question": "When did they leave?", "answers": ["Friday"], "gold_doc_ids": ["d1"]},
        {"qid": "q3", "question": "What is absent?", "answers": ["Rome"], "gold_doc_ids": ["d1"]},
    ]
    (tmp_path / "en" / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    row = measure("en", tmp_path)
    # q3's answer is not in its paragraph: not counted. q1's ends past the window, within 256 tokens.
    assert row["pairs"] == 2 and row["window"] == 96
    assert row["answer_beyond_window"] == 1 and row["answer_beyond_whole_tokens"] == 0
    assert row["longer_than_window"] == 0.5
    main(["--langs", "en", "--datasets", str(tmp_path), "--out", str(tmp_path / "out")])
    assert json.loads((tmp_path / "out" / "long-sentences.json").read_text())["rows"] == [row]
    assert "| en | qa-answer-minilm-l6 | 96 | 2 |" in (tmp_path / "out" / "long-sentences.md").read_text()
