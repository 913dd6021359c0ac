"""The gold-removed mode checked on 30 questions (the quick version is in tests/api): 30 real
indexes, each built without one question's gold paragraph, give the same answers, citations,
passages and scores as the gold-removed view of the one eval index."""

from __future__ import annotations

from pathlib import Path

from qa.embed import Embedder

from ..api.test_eval_abstention import check_gold_removed


def test_gold_removed_answers_equal_30_indexes_without_the_gold(tmp_path: Path, embedder: Embedder) -> None:
    check_gold_removed(tmp_path, embedder, questions=30, distractors=15)
