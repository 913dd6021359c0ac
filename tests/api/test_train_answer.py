"""The answer model's recipe runs end to end on a toy set: train (checkpointed, resumable),
export, calibrate; each step reads the previous one's files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evals.train_answer.train import Hyper, train


def _groups(path: Path, n: int) -> None:
    rows = []
    for i in range(n):
        items = [
            {"b": f"The capital of land {i} is City{i}. [SEP] Land {i}:", "y": 1, "gold_doc": True, "f": [0.5] * 8},
            {"b": f"Land {i} grows apples and pears. [SEP] Land {i}:", "y": 0, "gold_doc": True, "f": [0.4] * 8},
            {"b": f"Rivers of land {i} flow north. [SEP] Land {i}:", "y": 0, "gold_doc": False, "f": [0.3] * 8},
        ]
        rows.append(
            {
                "qid": f"q{i}",
                "question": f"What is the capital of land {i}?",
                "a": f"What is the capital of land {i}?",
                "removed": False,
                "items": items,
            }
        )
        rows.append({**rows[-1], "removed": True, "items": items[1:]})
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


def test_train_resumes_from_its_checkpoint_and_export_and_calibrate_follow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _groups(tmp_path / "groups" / "train.jsonl.gz", 6)
    _groups(tmp_path / "groups" / "validation.jsonl.gz", 3)
    h = Hyper(layers=1, epochs=1.0, group=3, batch=2, threads=1, max_tokens=32, checkpoint_every=1, removed_share=1.0)
    first = train(tmp_path, h)
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "final.pt").is_file()
    assert first["steps"] >= 3 and set(first["validation_top1"]) == {"model", "features"}
    again = train(tmp_path, h)  # the checkpoint is at the end: nothing left to do
    assert "resumed at step" in capsys.readouterr().out
    assert again["steps"] == first["steps"]

    from evals.train_answer import calibrate as calibrate_mod
    from evals.train_answer.export import export
    from qa.answer_model import CARD_FILE, AnswerModel

    export(tmp_path)
    monkeypatch.setattr(calibrate_mod, "REPORTS", tmp_path / "reports")
    report = calibrate_mod.calibrate(tmp_path)
    card = json.loads((tmp_path / "model" / CARD_FILE).read_text())
    assert card["threshold"] == report["threshold"] and "combine" in card and card["calibration"]["answerable"] == 3
    assert (tmp_path / "reports" / "answer_model.md").is_file()
    assert AnswerModel(tmp_path / "model").threshold == card["threshold"]


def test_a_checkpoint_of_another_run_is_not_overwritten(tmp_path: Path) -> None:
    _groups(tmp_path / "groups" / "train.jsonl.gz", 4)
    _groups(tmp_path / "groups" / "validation.jsonl.gz", 2)
    h = Hyper(layers=1, epochs=1.0, group=3, batch=2, threads=1, max_tokens=32, checkpoint_every=1)
    train(tmp_path, h)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(SystemExit, match="other hyper-parameters"):
        train(tmp_path, Hyper(layers=1, epochs=1.0, group=3, batch=2, threads=1, max_tokens=32, lr=1e-4))
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    train(tmp_path, Hyper(**{**h.__dict__, "threads": 2}))  # another thread count: the same run
