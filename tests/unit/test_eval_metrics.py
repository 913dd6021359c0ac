"""Evaluation metrics against hand-worked examples."""

from __future__ import annotations

import math

import pytest

from evals import metrics as m


def test_collapse_keeps_first_rank_of_each_document() -> None:
    # Chunks of d1 at ranks 1 and 3, of d2 at 2 and 5: documents rank d1, d2, d3.
    assert m.collapse(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]
    ranked = m.collapse(["d1", "d2", "d1", "d3", "d2"])
    # d3 is the third document, not the fourth chunk: duplicates must not push it down.
    assert m.mrr_at(ranked, {"d3"}, 10) == pytest.approx(1 / 3)
    assert m.recall_at(ranked, {"d3"}, 2) == 0.0
    assert m.recall_at(ranked, {"d3"}, 3) == 1.0


def test_recall_and_all_gold_recall() -> None:
    ranked = ["a", "x", "y", "b"]
    gold = {"a", "b"}
    assert m.recall_at(ranked, gold, 1) == 0.5
    assert m.recall_at(ranked, gold, 3) == 0.5
    assert m.recall_at(ranked, gold, 4) == 1.0
    assert m.all_recall_at(ranked, gold, 3) == 0.0
    assert m.all_recall_at(ranked, gold, 4) == 1.0
    # Fewer retrieved than k is fine.
    assert m.recall_at(["a"], gold, 10) == 0.5
    with pytest.raises(ValueError):
        m.recall_at(ranked, set(), 10)


def test_mrr() -> None:
    assert m.mrr_at(["x", "y", "a"], {"a"}, 10) == pytest.approx(1 / 3)
    assert m.mrr_at(["x", "y", "a"], {"a"}, 2) == 0.0
    # Only the first gold document counts.
    assert m.mrr_at(["x", "a", "b"], {"a", "b"}, 10) == 0.5
    assert m.mrr_at([], {"a"}, 10) == 0.0


def test_ndcg_is_normalized_by_all_gold_documents() -> None:
    # Gold a, b, c, d; d is never retrieved. Hits at ranks 1, 3, 5.
    ranked = ["a", "x", "b", "y", "c"]
    gold = {"a", "b", "c", "d"}
    dcg = 1 / math.log2(2) + 1 / math.log2(4) + 1 / math.log2(6)  # 1 + 0.5 + 0.386853 = 1.886853
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)  # 2.561606
    assert m.ndcg_at(ranked, gold, 10) == pytest.approx(dcg / ideal)
    assert m.ndcg_at(ranked, gold, 10) == pytest.approx(0.736590, abs=1e-6)
    # The LlamaIndex #17070 mistake: dividing by the ideal DCG of the 3 *retrieved* gold documents.
    wrong = dcg / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert m.ndcg_at(ranked, gold, 10) < wrong - 0.1


def test_ndcg_edge_cases() -> None:
    # The ideal ranking is capped at k: 2 gold hits in the top 2 is perfect even with 4 gold documents.
    assert m.ndcg_at(["a", "b"], {"a", "b", "c", "d"}, 2) == pytest.approx(1.0)
    assert m.ndcg_at(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))  # 0.630930
    assert m.ndcg_at(["x", "y"], {"a"}, 10) == 0.0
    # A gold document below the cut-off does not count.
    assert m.ndcg_at(["x", "a"], {"a"}, 1) == 0.0


def test_squad_normalization() -> None:
    assert m.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert m.normalize_answer("an apple, a pear") == "apple pear"
    # Articles are removed only as whole words.
    assert m.normalize_answer("Theater") == "theater"


def test_exact_match_and_f1() -> None:
    assert m.exact_match("The Denver Broncos!", ["denver broncos"]) == 1.0
    assert m.exact_match("Denver Broncos won", ["Denver Broncos"]) == 0.0
    # pred tokens denver broncos won, gold denver broncos: P = 2/3, R = 1, F1 = 0.8
    assert m.f1_score("the Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    # Repeated tokens count with multiplicity: pred x y y, gold y y z: common 2, P = R = 2/3.
    assert m.f1_score("x y y", ["y y z"]) == pytest.approx(2 / 3)
    # The best gold answer counts.
    assert m.f1_score("Denver", ["Denver Broncos", "Denver"]) == 1.0
    assert m.f1_score("", ["Denver"]) == 0.0
    assert m.f1_score("Denver", []) == 0.0


def test_contains_answer_respects_word_boundaries() -> None:
    assert m.contains_answer("It opened in 1998, to acclaim.", ["1998"])
    assert not m.contains_answer("It opened in 19980.", ["1998"])
    assert m.contains_answer("Won by the Denver Broncos.", ["Carolina Panthers", "denver broncos"])
    assert not m.contains_answer("anything", [""])


def test_other_languages_use_mlqa_normalization() -> None:
    # Chinese has no spaces: every Han character is a token, so a gold answer inside a sentence is
    # found (SQuAD's normalization would need spaces around it), and a partial character is not a match.
    assert m.normalize_answer("他有136 次擒杀。", "zh") == "他 有 136 次 擒 杀"
    assert m.contains_answer("贾里德在职业生涯中有136 次擒杀。", ["136 次"], "zh")
    assert not m.contains_answer("贾里德在职业生涯中有136 次擒杀。", ["136 次"])
    assert not m.contains_answer("他有1360次。", ["136"], "zh")
    # Unicode punctuation goes in every language but English (whose SQuAD rules drop ASCII's only).
    assert m.normalize_answer("«Hallo»", "de") == "hallo"
    assert m.normalize_answer("«Hallo»") == "«hallo»"
    # Each language's articles; Arabic's "ال" wherever it is prefixed, so "in Cairo" holds "Cairo".
    assert m.normalize_answer("Der Rhein", "de") == "rhein"
    assert m.normalize_answer("los Broncos", "es") == "broncos"
    assert m.contains_answer("تقع بالقاهرة.", ["القاهرة"], "ar")
    assert not m.contains_answer("تقع بالقاهرة.", ["القاهرة"])
    # EM and F1 use the language's tokens too: two of three characters in common.
    assert m.exact_match("北京。", ["北京"], "zh") == 1.0
    assert m.f1_score("北京市", ["北京"], "zh") == pytest.approx(0.8)


def test_percentile_interpolates_like_numpy() -> None:
    assert m.percentile([4, 1, 3, 2], 50) == 2.5
    assert m.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert m.percentile([7], 95) == 7
    assert math.isnan(m.percentile([], 50))
