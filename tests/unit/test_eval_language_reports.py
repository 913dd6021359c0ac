"""The language evals' own logic: paired comparison of two harness runs, the long-word counts, and
the Arabic folding variants (real tantivy analysis, no model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from evals import arabic_normalization, long_words, paired
from qa.language import MAX_TOKEN_CHARS, Analyser


def run_dir(root: Path, name: str, records: list[dict[str, Any]]) -> Path:
    d = root / name
    d.mkdir()
    (d / "queries.cfg.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return d


def record(qid: str, retrieved: list[str], answer: str) -> dict[str, Any]:
    return {"qid": qid, "gold": ["g"], "retrieved": retrieved, "answers": ["42"], "answer": answer, "language": "en"}


def test_paired_counts_questions_gained_and_lost(tmp_path: Path) -> None:
    before = run_dir(
        tmp_path,
        "before",
        [record("a", ["g"], "it is 42"), record("b", ["x"] * 5 + ["g"], "no"), record("c", ["g"], "no")],
    )
    after = run_dir(
        tmp_path, "after", [record("a", ["g"], "no"), record("b", ["g"], "42 it is"), record("c", ["g"], "so 42")]
    )
    result = paired.compare(before, after)
    assert result["recall@5"] == {"before": round(2 / 3, 3), "after": 1.0, "gained": 1, "lost": 0}
    assert result["answer_contains_gold"] == {
        "before": round(1 / 3, 3),
        "after": round(2 / 3, 3),
        "gained": 2,
        "lost": 1,
    }
    other = run_dir(tmp_path, "other", [record("z", ["g"], "42")])
    with pytest.raises(typer.BadParameter, match="different questions"):
        paired.compare(before, other)
    # --common: a run of the first questions against a full one compares the questions of both.
    first = run_dir(tmp_path, "first", [record("a", ["g"], "no")])
    assert paired.compare(first, after, common=True)["questions"] == 1
    assert paired.compare(first, after, common=True)["answer_contains_gold"]["before"] == 0.0
    with pytest.raises(typer.BadParameter, match="no question in common"):
        paired.compare(other, after, common=True)


def test_long_words_counts_bytes_against_characters() -> None:
    word = "अंतर्राष्ट्रीय"  # 14 characters, 42 bytes
    junk = "a" * MAX_TOKEN_CHARS
    counts = long_words.dropped(Analyser("hi"), [f"{word} {word} {junk} भारत"])
    assert counts["words"] == 4
    assert (counts["dropped_bytes"], counts["dropped_chars"]) == (3, 1)
    assert (counts["distinct_dropped_bytes"], counts["distinct_dropped_chars"]) == (2, 1)
    assert counts["examples_now_kept"] == [f"{word} (14 chars, 42 bytes)"]
    # The analysis "as it was": tantivy's limit in bytes, exactly.
    assert long_words.in_bytes("hi").query_terms(f"{word} भारत") == ["भारत"]
    assert Analyser("hi").query_terms(f"{word} भारत") == [word, "भारत"]


def test_arabic_folding_variants_apply_to_index_and_query_alike() -> None:
    lucene = arabic_normalization.analyser(arabic_normalization.FOLDS["lucene: all"])
    assert lucene.terms("مستشفى") == lucene.terms("مستشفي") and lucene.terms("القاهرة") == lucene.terms("القاهره")
    assert lucene.index_tokens("مستشفى") == lucene.tokens(lucene.query_terms("مستشفي"))
    assert arabic_normalization.analyser({}).spec == Analyser("ar").spec
