"""Calibrate the exported answer model on the validation questions, with the int8 graph itself:

- ``combine``: how much of the feature score to add to the model's logit when ranking the
  shortlist (pairwise logistic regression, as ``evals.tune_answer`` fits the features);
- ``threshold``: the model probability below which the answer is "not found": the highest that
  still answers ``answered`` of the answerable validation questions, which maximises "not found"
  on the gold-removed ones.

Both go into the model card (the graph and its checksum are unchanged), and the numbers into
``evals/reports/answer_model.{json,md}``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.train_answer.data import read_groups
from evals.tune_answer import fit_pairwise
from qa.answer import WEIGHTS
from qa.answer_model import CARD_FILE, AnswerModel
from qa.config import Settings

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def shortlisted(model: AnswerModel, groups: list[dict[str, Any]], shortlist: int) -> list[dict[str, Any]]:
    """Per group: the shortlist's labels, feature scores and model logits (in shortlist order)."""
    out = []
    for g in groups:
        if not g["items"]:
            out.append({"removed": g["removed"], "y": np.zeros(0), "base": np.zeros(0), "logit": np.zeros(0)})
            continue
        base = np.array([it["f"] for it in g["items"]]) @ np.array(WEIGHTS)
        top = np.argsort(-base, kind="stable")[:shortlist]
        logits = model.score([(g["a"], g["items"][i]["b"]) for i in top])
        out.append(
            {
                "removed": g["removed"],
                "y": np.array([g["items"][i]["y"] for i in top]),
                "base": base[top],
                "logit": logits,
            }
        )
    return out


def _chosen(s: dict[str, Any], w_feat: float, model: AnswerModel) -> tuple[int, float]:
    j = int(np.argmax(s["logit"] + w_feat * s["base"]))
    return j, model.probability(float(s["logit"][j]))


def calibrate(work: Path, out: Path | None = None, answered: float = 0.96) -> dict[str, Any]:
    out = out or work / "model"
    model = AnswerModel(out)
    shortlist = Settings().answer_shortlist
    groups = read_groups(work / "groups" / "validation.jsonl.gz")
    sl = shortlisted(model, groups, shortlist)
    answerable = [s for s in sl if not s["removed"] and len(s["y"])]
    fit = fit_pairwise([(np.stack([s["logit"], s["base"]], axis=1), s["y"] == 1) for s in answerable])
    w_feat = float(fit[1] / fit[0]) if fit[0] > 0 else 0.0

    def top1(w: float, use_model: bool) -> float:
        hits = [s["y"][int(np.argmax((s["logit"] if use_model else 0) + w * s["base"]))] == 1 for s in answerable]
        return round(float(np.mean(hits)), 4)

    probs_ans = np.array([_chosen(s, w_feat, model)[1] for s in answerable])
    removed = [s for s in sl if s["removed"]]
    probs_rem = np.array([_chosen(s, w_feat, model)[1] if len(s["y"]) else 0.0 for s in removed])
    sweep = []
    for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
        sweep.append(
            {
                "threshold": float(t),
                "answered": round(float(np.mean(probs_ans >= t)), 4),
                "not_found_gold_removed": round(float(np.mean(probs_rem < t)), 4),
            }
        )
    ok = [r for r in sweep if r["answered"] >= answered]
    chosen = max(ok, key=lambda r: r["threshold"])
    card_path = out / CARD_FILE
    card = json.loads(card_path.read_text())
    card["combine"] = {"model": 1.0, "features": round(w_feat, 4)}
    card["threshold"] = chosen["threshold"]
    card["calibration"] = {
        "questions": "validation articles of evals/answer_split.json",
        "answerable": len(answerable),
        "gold_removed": len(removed),
        "target_answered": answered,
        "answered": chosen["answered"],
        "not_found_gold_removed": chosen["not_found_gold_removed"],
        "top1_features": top1(1.0, False),
        "top1_model": top1(0.0, True),
        "top1_combined": top1(w_feat, True),
        "shortlist": shortlist,
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": card["name"],
        "sha256": card["sha256"],
        "calibration": card["calibration"],
        "combine": card["combine"],
        "threshold": card["threshold"],
        "sweep": sweep,
        "train": {k: card.get(k) for k in ("hyper", "train_seconds", "validation_top1")},
        "load_average": os.getloadavg()[0],
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    # One report per base: the English model's keeps its name.
    stem = "answer_model" if card.get("hyper", {}).get("base", "minilm") == "minilm" else "answer_model_e5"
    (REPORTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    c = card["calibration"]
    lines = [
        f"# The answer model: {card['name']}",
        "",
        f"`python -m evals.train_answer calibrate` ({report['date']}), sha256 `{card['sha256'][:16]}…`.",
        f"Validation: {c['answerable']} answerable questions and {c['gold_removed']} gold-removed ones, from the",
        "validation articles of evals/answer_split.json (never trained on). A question counts when the",
        "chosen sentence is in the gold paragraph and holds a gold answer.",
        "",
        "| chooser | validation top-1 |",
        "|---|---|",
        f"| feature scorer alone (QA_ANSWER_MODEL=features) | {c['top1_features']} |",
        f"| model alone, over the shortlist of {c['shortlist']} | {c['top1_model']} |",
        f"| model + {card['combine']['features']} x feature score (what qa runs with a model) | {c['top1_combined']} |",
        "",
        f"The model's own probability as a 'not found' threshold: {card['threshold']} answers {c['answered']} of",
        f"the answerable questions and says 'not found' to {c['not_found_gold_removed']} of the gold-removed ones",
        f"(target: answer {answered}). qa does not use it: the chosen sentence's evidence decides",
        "(QA_MIN_ANSWER_SCORE), as with the features alone.",
        "",
        f"Training: {card.get('hyper')}, {card.get('train_seconds')} s.",
    ]
    (REPORTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report
