"""qa.answerability: an answer's score from its signals, and the calibrations that ship."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa import answerability
from qa.answerability import CALIBRATIONS_FILE, Calibration, calibrations, find
from qa.types import Signals


def test_the_probability_is_the_logistic_of_the_weighted_signals() -> None:
    cal = Calibration("e", "m", ("evidence", "logit"), (-1.0, 2.0, 0.5), 0.2)
    s = Signals(evidence=0.5, logit=2.0)
    assert cal.probability(s) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 1.0 + 1.0))))
    # More evidence, or a higher logit, never lowers it.
    assert cal.probability(Signals(evidence=0.9, logit=2.0)) > cal.probability(s)
    assert cal.probability(Signals(evidence=0.5, logit=-3.0)) < cal.probability(s)
    # Extreme values saturate instead of overflowing.
    assert cal.probability(Signals(evidence=1e6)) == pytest.approx(1.0)
    assert Calibration("e", "m", ("evidence",), (0.0, -1.0), 0.5).probability(Signals(evidence=1e6)) >= 0.0


@pytest.mark.parametrize(
    ("signals", "weights", "threshold", "message"),
    [
        (("evidence", "stars"), (0.0, 1.0, 1.0), 0.1, "unknown signal"),
        (("evidence",), (1.0,), 0.1, "2 weights needed"),
        (("evidence",), (0.0, 1.0), 1.5, "threshold must be a probability"),
    ],
)
def test_a_malformed_calibration_is_refused(
    signals: tuple[str, ...], weights: tuple[float, ...], threshold: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Calibration("e", "m", signals, weights, threshold)


def test_an_unknown_signal_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        Signals(evidence=0.4).value("score")


def test_calibrations_are_found_by_embedder_and_chooser(tmp_path: Path) -> None:
    path = tmp_path / "answerability.json"
    entry = {"embedder": "a/b", "chooser": "features", "signals": ["evidence"], "weights": [-3, 8], "threshold": 0.2}
    path.write_text(json.dumps({"calibrations": [entry]}))
    found = find("a/b", "features", path=path)
    assert found == Calibration("a/b", "features", ("evidence",), (-3.0, 8.0), 0.2)
    assert find("a/b", "qa-answer-minilm-l6", path=path) is None and find("c/d", "features", path=path) is None
    # A language's own calibration, where there is one; the one for any language elsewhere.
    zh = {**entry, "language": "zh", "threshold": 0.1}
    path.write_text(json.dumps({"calibrations": [entry, zh]}))
    calibrations.cache_clear()
    assert find("a/b", "features", "zh", path) == Calibration("a/b", "features", ("evidence",), (-3.0, 8.0), 0.1, "zh")
    assert find("a/b", "features", "de", path) == found == find("a/b", "features", path=path)
    assert calibrations(tmp_path / "missing.json") == ()


def test_the_shipped_calibrations_cover_the_bundled_embedder_and_model() -> None:
    data = json.loads(CALIBRATIONS_FILE.read_text(encoding="utf-8"))
    shipped = calibrations()
    assert len(shipped) == len(data["calibrations"]) >= 2
    pairs = {(c.embedder, c.chooser) for c in shipped}
    assert len({(c.embedder, c.chooser, c.language) for c in shipped}) == len(shipped)  # one per pair and language
    # The multilingual pair has one for questions asked across languages, beside its own.
    across = [c for c in shipped if c.language == answerability.CROSSLINGUAL]
    assert [(c.embedder, c.chooser) for c in across] == [("intfloat/multilingual-e5-small", "qa-answer-e5-l12")]
    assert answerability.find_crosslingual(across[0].embedder, across[0].chooser) == across[0]
    assert ("sentence-transformers/all-MiniLM-L6-v2", "qa-answer-minilm-l6") in pairs
    assert ("sentence-transformers/all-MiniLM-L6-v2", answerability.FEATURES_CHOOSER) in pairs
    for e in data["calibrations"]:
        # Each says how it was fitted: a command of the recipe, on validation articles.
        assert e["fitted"]["command"].startswith("python -m evals.fit_answerability")
        assert 0.5 <= e["fitted"]["answered_target"] <= 1.0
