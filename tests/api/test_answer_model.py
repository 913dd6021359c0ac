"""The shipped answer model (qa/models/answer): it loads offline by path, its checksum is checked,
it reads a sentence with its context, and the service answers with it by default."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from qa.answer_model import BUNDLED, CARD_FILE, MODEL_FILE, AnswerModel, context_before, load_answer_model, pair
from qa.errors import InvalidInput
from qa.service import QAService
from qa.types import Document


def test_the_bundled_model_has_a_card_with_its_recipe_split_licence_and_checksum() -> None:
    card = json.loads((BUNDLED / CARD_FILE).read_text())
    for key in ("name", "sha256", "base_model", "training_data", "hyper", "recipe", "threshold", "combine"):
        assert key in card, key
    assert "CC BY-SA 4.0" in card["training_data"]
    model = AnswerModel()
    assert 0.0 < model.threshold < 1.0


def test_it_scores_the_sentence_that_answers_above_its_neighbours() -> None:
    model = AnswerModel()
    q = "Where did the foreign ministers meet?"
    right = pair(q, "The two foreign ministers met in Paris on Tuesday.", "Talks", "")
    wrong = pair(q, "Tuesday was a rainy day across the region.", "Talks", "")
    off = pair(q, "Photosynthesis converts light into chemical energy.", "Plants", "")
    s = model.score([right, wrong, off])
    assert s[0] > s[1] and s[0] > s[2]
    assert model.probability(float(s[0])) > model.probability(float(s[2]))
    # One pair scores the same alone as in a batch of equals, within int8 rounding.
    assert abs(float(model.score([right])[0]) - float(s[0])) < 0.5


def test_context_is_cut_at_a_word_and_the_sentence_comes_first() -> None:
    text = "alpha beta gamma delta. The answer is here."
    assert context_before(text, text.index("The"), chars=12) == "delta."
    a, b = pair("  What   is here? ", "The answer\nis here.", "Doc", "delta.")
    assert a == "What is here?" and b.startswith("The answer is here. [SEP] Doc: delta.")


def test_a_damaged_or_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    copy = tmp_path / "answer"
    shutil.copytree(BUNDLED, copy)
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[-100] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="sha256"):
        AnswerModel(copy)
    with pytest.raises(InvalidInput, match="no model-int8.onnx"):
        AnswerModel(tmp_path / "nothing")
    assert load_answer_model("features") is None
    assert isinstance(load_answer_model("bundled"), AnswerModel)


def test_the_service_answers_with_the_model_by_default_and_the_features_on_request(
    make_service: Callable[..., QAService], seed_article: Path
) -> None:
    doc = Document(id="paris", title="Talks", text=seed_article.read_text(encoding="utf-8"))
    for setting in ("bundled", "features"):
        svc = make_service(f"m-{setting}", answer_model=setting)
        svc.add_documents([doc])
        ans = svc.ask("Who met in Paris?")
        assert (svc.answerer.model is None) == (setting == "features")
        assert ans.found and ans.citations
        c = ans.citations[0]
        assert doc.text[c.start : c.end] == c.quote
        assert "Shaibani" in c.quote and "Dermer" in c.quote
        assert 0.0 <= ans.score <= 1.0 or setting == "features"
