"""evals.answer_ceiling's arithmetic: which candidate the chooser ranks first, what a perfect chooser
over a shortlist reaches, and the buckets a question falls in (the harness run: tests/system/
test_eval_answer_ceiling.py)."""

from __future__ import annotations

import math
from pathlib import Path

from typer.testing import CliRunner

from evals.answer_ceiling import BUCKETS, app, buckets, chosen, first, reachable


def group(positive: list[bool], base: list[float], logit: list[float], any_positive: bool | None = None) -> dict:
    return {
        "qid": "q",
        "positive": positive,
        "gold_doc": positive,
        "base": base,
        "logit": logit,
        "any": any(positive) if any_positive is None else any_positive,
    }


def test_the_chooser_combines_the_logit_with_a_weight_of_the_feature_score() -> None:
    # Candidates in feature order: the features prefer the first, the model the second.
    g = group([True, False], base=[2.0, 1.0], logit=[0.0, 1.5])
    assert first(g, 2, 0.0) == 1  # the model alone
    assert first(g, 2, 2.0) == 0  # 0 + 4 against 1.5 + 2
    assert first(g, 1, 0.0) == 0  # a shortlist of one: the feature scorer's first
    assert first(group([], [], []), 4, 1.0) is None


def test_a_candidate_the_features_rule_out_never_ranks_first() -> None:
    # A question about an option: only its entry may answer (feature score -inf for the others).
    g = group([False, True], base=[-math.inf, 0.5], logit=[9.0, -3.0])
    assert first(g, 2, 1.0) == 1


def test_reachable_is_what_a_perfect_chooser_over_the_shortlist_gets() -> None:
    groups = [
        group([False, True, False], [3.0, 2.0, 1.0], [1.0, 0.0, 0.0]),  # positive second: chooser misses it
        group([False, False, True], [3.0, 2.0, 1.0], [0.0, 0.0, 0.0]),  # positive third
        group([False, False], [1.0, 0.0], [0.0, 0.0]),  # none
    ]
    assert [reachable(groups, n) for n in (1, 2, 3)] == [0.0, round(1 / 3, 4), round(2 / 3, 4)]
    assert chosen(groups, 3, 0.0) == 0.0
    # The chooser never beats the perfect one over the same shortlist.
    for n in (1, 2, 3):
        for w in (0.0, 0.5, 4.0):
            assert chosen(groups, n, w) <= reachable(groups, n)


def test_each_question_falls_in_one_bucket() -> None:
    groups = [
        group([True, False], [2.0, 1.0], [1.0, 0.0]),  # chosen
        group([False, True], [2.0, 1.0], [1.0, 0.0]),  # misranked at a shortlist of 2
        group([False, False], [2.0, 1.0], [0.0, 0.0], any_positive=True),  # outside the shortlist read
        group([False, False], [2.0, 1.0], [0.0, 0.0]),  # no candidate
        group([], [], [], any_positive=False),  # no candidate at all
    ]
    b = buckets(groups, 2, 0.0)
    assert list(b) == list(BUCKETS)
    assert b == {"chosen": 0.2, "misranked": 0.2, "outside_shortlist": 0.2, "no_candidate": 0.4}
    # At a shortlist of 1 the misranked question's positive is outside it.
    assert buckets(groups, 1, 0.0)["outside_shortlist"] == 0.4
    assert math.isclose(sum(b.values()), 1.0)


def test_a_missing_dataset_or_article_list_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["--dataset", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert missing.exit_code == 2
    assert (
        "a dataset directory holds corpus.jsonl and queries.jsonl" in _flat(missing.output)
        and "Traceback" not in missing.output
    )
    (tmp_path / "set").mkdir()
    args = ["--dataset", str(tmp_path / "set"), "--articles", str(tmp_path / "none.json"), "--out", str(tmp_path / "o")]
    articles = CliRunner().invoke(app, args)
    assert articles.exit_code == 2 and "is not a file" in _flat(articles.output)
    assert not (tmp_path / "out").exists()


def _flat(output: str) -> str:
    """The CLI's error text without the box rich draws around it."""
    return " ".join(output.replace("│", " ").split())
