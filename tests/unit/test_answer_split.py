"""The answer model's data split (evals/answer_split.json): disjoint by article, and no article of a
reported eval or an XQuAD paragraph on the training side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.train_answer.split import EVAL_QUESTIONS, SPLIT_FILE, article, load_split, make_split

from ..conftest import ROOT

SQUAD = ROOT.parent / "shared" / "datasets" / "squad_v1.1_dev"
XQUAD = ROOT.parent / "shared" / "datasets" / "xquad" / "en"


def test_the_split_is_disjoint_by_article() -> None:
    raw = json.loads(SPLIT_FILE.read_text())
    train, val, ev = (set(raw[k]) for k in ("train_articles", "validation_articles", "eval_articles"))
    assert train and val and ev
    assert not (train & val) and not (train & ev) and not (val & ev)
    assert len(train | val | ev) == 48  # every SQuAD v1.1 dev article has one side


def test_no_eval_question_or_xquad_paragraph_is_on_the_training_side() -> None:
    if not SQUAD.is_dir() or not XQUAD.is_dir():
        pytest.fail(f"{SQUAD} or {XQUAD} is missing: the test reads ../shared/datasets beside the project")
    split = load_split()
    queries = [json.loads(line) for line in (SQUAD / "queries.jsonl").read_text().splitlines() if line.strip()]
    for q in queries[:EVAL_QUESTIONS]:  # the questions the reported SQuAD evals ask
        assert split.side(q["gold_doc_ids"][0]) in ("eval", "excluded"), q["qid"]
    xquad = {" ".join(json.loads(line)["text"].split()) for line in (XQUAD / "corpus.jsonl").read_text().splitlines()}
    corpus = [json.loads(line) for line in (SQUAD / "corpus.jsonl").read_text().splitlines() if line.strip()]
    for d in corpus:
        if " ".join(d["text"].split()) in xquad:
            assert split.side(d["doc_id"]) == "excluded", d["doc_id"]
    assert {split.side(d["doc_id"]) for d in corpus} == {"train", "validation", "eval", "excluded"}


def test_the_committed_split_is_what_the_recipe_makes_from_the_shared_files() -> None:
    if not SQUAD.is_dir():
        pytest.fail(f"{SQUAD} is missing")
    made = make_split(SQUAD, XQUAD)
    committed = json.loads(SPLIT_FILE.read_text())
    for key in ("eval_articles", "validation_articles", "train_articles", "excluded_paragraphs", "sha256"):
        assert made[key] == committed[key], key


def test_article_of_a_paragraph_id() -> None:
    assert article("Super_Bowl_50#3") == "Super_Bowl_50"
    assert article("A#B#12") == "A#B"
    assert Path(SPLIT_FILE).name == "answer_split.json"


def test_xquad_training_questions_are_by_article_and_never_the_held_out_ones() -> None:
    """``prepare --xquad-langs`` trains on XQuAD's train-article paragraphs (in other languages);
    ``held_out_qids`` (what such a model is measured on) are the others, every paragraph outside
    the train articles, and hold every question XQuAD's answer-score calibration is fitted on."""
    from evals.fit_answerability import xquad_split
    from evals.train_answer.split import held_out_qids, xquad_sides

    root = XQUAD.parent
    split = load_split()
    sides = xquad_sides(root, split)
    corpus = [json.loads(line) for line in (XQUAD / "corpus.jsonl").read_text().splitlines() if line.strip()]
    assert len(sides) == len(corpus) == 240
    for d in corpus:  # by article: a paragraph's side is its article's
        title = d["title"]
        expected = (
            "train" if title in split.train_articles else "validation" if title in split.validation_articles else "eval"
        )
        assert sides[d["doc_id"]] == expected
    held = set(held_out_qids(root, split))
    queries = [json.loads(line) for line in (XQUAD / "queries.jsonl").read_text().splitlines() if line.strip()]
    trained = {q["qid"] for q in queries if any(sides[g] == "train" for g in q["gold_doc_ids"])}
    assert held and trained and not (held & trained) and len(held | trained) == len(queries)
    assert set(xquad_split(root)["validation_qids"]) <= held
    # The same ids in every language: a held-out question is held out in all of them.
    for lang in ("ar", "de"):
        ids = [json.loads(line)["doc_id"] for line in (root / lang / "corpus.jsonl").read_text().splitlines() if line]
        assert set(ids) == set(sides)
