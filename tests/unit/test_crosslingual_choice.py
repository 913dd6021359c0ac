"""``evals.crosslingual_choice``: the shares each way of choosing reaches, on hand-made shortlists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from evals import crosslingual_choice as cc


def _group(logit: list[float], cos: list[float], holds: list[bool], base: list[float] | None = None) -> dict:
    n = len(logit)
    base_ = np.array(base if base is not None else list(range(n, 0, -1)), dtype=float)
    return {
        "base": base_,
        "cos": np.array(cos),
        "all_cos": np.array(cos),
        "all_holds": np.array(holds),
        "logit": np.array(logit),
        "holds": np.array(holds),
        "combined": np.array(logit) + base_,
    }


def test_each_way_of_choosing_is_scored_over_all_questions() -> None:
    # 1: the logit picks the gold sentence; 2: only the cosine does (the logits are flat);
    # 3: nothing holds gold; 4: no candidates at all (counts as a miss everywhere).
    groups = [
        _group([3.0, 0.0, 0.0, 0.0, 0.0], [0.80, 0.82, 0.80, 0.80, 0.80], [True, False, False, False, False]),
        _group([-3.0, -3.0, -3.0, -3.0, -2.99, -3.0], [0.80, 0.80, 0.80, 0.80, 0.80, 0.90], [False] * 5 + [True]),
        _group([1.0, 0.0], [0.8, 0.7], [False, False]),
        None,
    ]
    got = cc.ways(groups)
    assert got["logit alone over 4"] == 0.25
    assert got["logit alone over 16"] == 0.25  # the flat logits pick the fifth sentence, not the sixth
    assert got["cosine alone (all candidates)"] == 0.25  # the second question only
    assert got["logit + 20 x cosine over 16"] == 0.5  # both: 20 x 0.1 outweighs 0.01 of logit
    assert got["some candidate of the 16 holds gold"] == 0.5
    assert cc.share([], lambda g: True) == 0.0


def test_a_missing_dataset_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cc.app, ["--datasets", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "has no queries.jsonl" in result.output
