"""The one-off evals' report files (evals.report): run header, Markdown tables, report.json and report.md."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from evals import cjk_segmentation, report


def test_run_info_names_the_command_and_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["x", "--out", "a dir"])
    monkeypatch.setattr(os, "getloadavg", lambda: (1.234, 0.5, 2.0))
    for name in [k for k in os.environ if k.startswith("QA_")]:
        monkeypatch.delenv(name)
    info = report.run_info("evals.stopwords")
    assert list(info) == ["command", "date"]
    assert info["command"] == "python -m evals.stopwords --out 'a dir'"
    # The QA_* settings it ran with come first (evals.xquad's QA_MIN_ANSWER_SCORE=0 was lost), no secret.
    monkeypatch.setenv("QA_MIN_ANSWER_SCORE", "0")
    monkeypatch.setenv("QA_API_KEYS", "secret")
    assert (
        report.run_info("evals.stopwords")["command"] == "QA_MIN_ANSWER_SCORE=0 python -m evals.stopwords --out 'a dir'"
    )
    assert info["date"].endswith("+00:00") and "T" in info["date"]
    loaded = report.run_info("evals.stopwords", load_average=True)
    assert list(loaded) == ["command", "date", "load_average"] and loaded["load_average"] == [1.23, 0.5, 2.0]


def test_run_line_shows_the_load_average_only_when_measured() -> None:
    run = {"command": "python -m evals.x", "date": "2026-01-01T00:00:00+00:00"}
    assert report.run_line(run) == "- command: `python -m evals.x`; date 2026-01-01T00:00:00+00:00"
    assert report.run_line({**run, "load_average": [1.0, 2.0, 3.0]}) == (
        "- command: `python -m evals.x`; date 2026-01-01T00:00:00+00:00; load average [1.0, 2.0, 3.0]"
    )


def test_table_is_a_header_a_separator_and_one_line_per_row() -> None:
    assert report.table(["a", "b c"], [["x", 1], [0.5, ""]]) == [
        "| a | b c |",
        "|---|---|",
        "| x | 1 |",
        "| 0.5 |  |",
    ]
    assert report.table(["only"], []) == ["| only |", "|---|"]


def test_write_report_writes_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    data = {"command": "c", "date": "d", "results": [{"language": "ไทย"}]}
    report.write_report(out, data, ["# title", "", "| a |"])
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    text = (out / "report.json").read_text(encoding="utf-8")
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n" and "ไทย" in text
    assert (out / "report.md").read_text(encoding="utf-8") == "# title\n\n| a |\n"
    report.write_report(out, data, ["x"], name="bm25")
    assert {"bm25.json", "bm25.md"} <= {p.name for p in out.iterdir()}


def test_measure_results_table_layout() -> None:
    row = {
        "analysis": "bigrams",
        "recall@5": 0.5,
        "ndcg@10": 1 / 3,
        "build_seconds": 0.12,
        "query_ms_p50": 1.5,
        "terms_of_first_question": ["中国", "国的"],
    }
    assert cjk_segmentation.results_table([row]) == [
        "| analysis | R@5 | nDCG@10 | build s | query p50 ms | first question's terms |",
        "|---|---|---|---|---|---|",
        "| bigrams | 0.500 | 0.333 | 0.12 | 1.5 | 中国 国的 |",
    ]


def test_an_eval_runs_command_names_the_qa_settings_it_ran_with_but_no_secret() -> None:
    from evals.cli import command_line

    env = {
        "QA_LANGUAGE": "de",
        "QA_MIN_ANSWER_SCORE": "0",
        "QA_API_KEYS": "secret",
        "QA_DATABASE_URL": "postgresql://u:pw@h/db",
        "HOME": "/root",
    }
    argv = ["/x/evals/__main__.py", "--dataset", "a dir", "--abstention"]
    assert (
        command_line(argv, env) == "QA_LANGUAGE=de QA_MIN_ANSWER_SCORE=0 python -m evals --dataset 'a dir' --abstention"
    )
    assert command_line(["/bin/qa", "eval", "--dataset", "d"], {}) == "qa eval --dataset d"


def test_an_eval_of_documents_in_another_language_than_the_collections_says_so(tmp_path: Path) -> None:
    from evals.cli import dataset_language, language_note

    de, squad = tmp_path / "de", tmp_path / "squad"
    for d, line in (
        (de, {"qid": "1", "question": "Wer?", "language": "de"}),
        (squad, {"qid": "1", "question": "Who?"}),
    ):
        d.mkdir()
        (d / "queries.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert (dataset_language(de), dataset_language(squad)) == ("de", "en")
    # German paragraphs in an English collection: German questions take the cross-language path.
    note = language_note("en", "de", "de")
    assert note is not None and "across languages" in note and "QA_LANGUAGE=de" in note
    # English questions of German paragraphs, the collection English too: they look same-language.
    assert "in the collection's language" in (language_note("en", "de", "en") or "")
    # Right: the collection is the documents' language, or multilingual.
    assert language_note("de", "de", "en") is None
    assert language_note("multilingual", "zh", "zh") is None
    assert language_note("en", "en", "en") is None
