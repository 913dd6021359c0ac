"""evals.fit_combine's arithmetic: which shortlisted sentence a combination weight ranks first, and
the weight the pairwise fit finds (its harness run is the report's, evals/reports/answer_combine_e5.md)."""

from __future__ import annotations

import pytest

from evals.fit_combine import chosen_holds, fit_weight


def group(y: list[bool], base: list[float], logit: list[float]) -> dict[str, object]:
    return {"qid": "q", "y": y, "holds": y, "base": base, "logit": logit}


def test_the_weight_decides_between_the_models_and_the_features_first() -> None:
    # The model prefers sentence 0, the features sentence 1, which holds the answer.
    g = group([False, True], base=[0.0, 1.0], logit=[1.0, 0.0])
    assert chosen_holds([g], 0.0) == 0.0  # the model alone
    assert chosen_holds([g], 2.0) == 1.0  # the features outweigh it
    assert chosen_holds([group([], [], [])], 1.0) == 0.0  # no candidate: not held


def test_the_fit_weighs_the_features_by_how_often_they_are_right_against_the_model() -> None:
    # The model ranks the answer first in 3 questions of 4, the features in the other one and
    # against it in none: the fitted weight is positive; flipping the features' side makes it negative.
    helped = [group([True, False], [0.0, 0.0], [1.0, 0.0]) for _ in range(3)] + [
        group([True, False], [1.0, 0.0], [0.0, 0.5])
    ]
    assert fit_weight(helped) > 0
    misled = [group([True, False], [0.0, 0.0], [1.0, 0.0]) for _ in range(3)] + [
        group([True, False], [0.0, 1.0], [1.0, 0.5])
    ]
    assert fit_weight(misled) < 0


def test_a_model_that_ranks_answers_last_is_refused() -> None:
    wrong = [group([True, False], [0.0, 0.0], [0.0, 1.0]) for _ in range(4)]
    with pytest.raises(ValueError, match="does not help"):
        fit_weight(wrong)
