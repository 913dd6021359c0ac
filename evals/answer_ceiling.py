"""`python -m evals.answer_ceiling`: where the answer step loses a question, and how far a better
chooser could take it.

    python -m evals.answer_ceiling --dataset ../shared/datasets/squad_v1.1_dev --limit 2000 \\
        --cache-dir C --out evals/reports/answer-ceiling --name squad-2000

Each question goes through the service's own answer path (``QAService.ask``: retrieval, then the
answerer over the top passages); the answerer's last choice is read again, as ``evals.fit_combine``
reads it: every candidate sentence's feature score (``ExtractiveAnswerer.feature_score``), and the
answer model's logit for the first ``--depth`` of them by that score. A candidate is a *positive*
when it is from a gold document and holds a gold answer (``evals.metrics.contains_answer``).

The report says, at the service's shortlist (``QA_ANSWER_SHORTLIST``), what share of the questions

- is answered by a positive (the chooser, logit + the card's weight x feature score, ranks one first);
- has a positive in the shortlist that the chooser ranks below another sentence;
- has a positive among the candidates but outside the shortlist;
- has none among the candidates (the top passages hold no gold sentence: retrieval, or the answer is
  not a substring of any sentence);

and, for shortlists of 1 to ``--depth`` sentences, the share the chooser answers with a positive
beside the share whose shortlist holds one (what a perfect chooser over it would reach), and the
same for a sentence of a gold document (what citation precision counts). A shortlist of 1 is the
feature scorer alone. It needs a learned answer model (``QA_ANSWER_MODEL``), and measures the
model it loads; decisions belong on validation questions (``--articles
evals/answer_split.json:validation_articles``), not on the eval questions.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from evals import configs as configs_mod
from evals.data import load, read_list
from evals.harness import build_index, open_service
from evals.metrics import contains_answer
from qa.answer import ExtractiveAnswerer
from qa.config import Settings
from qa.service import QAService

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

REPORTS = Path(__file__).resolve().parent / "reports" / "answer-ceiling"
SHORTLISTS = (1, 2, 4, 8, 16)
BUCKETS = ("chosen", "misranked", "outside_shortlist", "no_candidate")


@contextmanager
def last_choice(answerer: ExtractiveAnswerer) -> Iterator[dict[str, Any]]:
    """While open, the dict it yields holds the answerer's last choice: the question, its candidates
    and a copy of their feature rows (``choose``'s input; an answer that chose again records the
    rows it chose with last). Clear it before each question."""
    last: dict[str, Any] = {}
    choose = answerer.choose

    def recording(question: str, cands: list[Any], rows: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        last.update(question=question, cands=cands, rows=rows.copy())
        return choose(question, cands, rows, *args, **kwargs)

    answerer.choose = recording  # type: ignore[method-assign]
    try:
        yield last
    finally:
        answerer.choose = choose  # type: ignore[method-assign]


def read_choices(svc: QAService, queries: Sequence[Any], depth: int) -> list[dict[str, Any]]:
    """Per question: its first ``depth`` candidates in feature-score order (the shortlist a model
    reading ``depth`` sentences gets), each with whether it is a positive, whether it holds a gold
    answer, whether it is from a gold document, its feature score and the model's logit; and
    whether any candidate at all is a positive.

    Raises:
        ValueError: the service has no answer model to read the shortlist.
    """
    answerer = svc.answerer
    model = answerer.model
    if model is None:
        raise ValueError("the service loads no answer model (QA_ANSWER_MODEL=features): nothing to measure")
    shortlist = answerer.shortlist
    out: list[dict[str, Any]] = []
    try:
        answerer.shortlist = depth
        with last_choice(answerer) as last:
            for q in queries:
                last.clear()
                svc.ask(q.question)
                if not last:  # no candidate sentence at all
                    out.append(
                        {
                            "qid": q.qid,
                            "positive": [],
                            "holds": [],
                            "gold_doc": [],
                            "base": [],
                            "logit": [],
                            "any": False,
                        }
                    )
                    continue
                cands = last["cands"]
                scores = answerer.feature_score(last["question"], cands, last["rows"])
                top, logits = answerer.read(last["question"], cands, scores)
                gold = [c.passage.doc_id in q.gold for c in cands]
                holds = [contains_answer(c.text, q.answers, q.language) for c in cands]
                positive = [h and g for h, g in zip(holds, gold, strict=True)]
                out.append(
                    {
                        "qid": q.qid,
                        "positive": [positive[i] for i in top],
                        "holds": [holds[i] for i in top],
                        "gold_doc": [gold[i] for i in top],
                        "base": [float(scores[i]) for i in top],
                        "logit": [float(v) for v in logits],
                        "any": any(positive),
                    }
                )
    finally:
        answerer.shortlist = shortlist
    return out


def first(group: dict[str, Any], n: int | None, weight: float) -> int | None:
    """The position the chooser ranks first among the first ``n`` candidates (None: all read): the
    model's logit plus ``weight`` x the feature score (``AnswerModel.combine``); None without
    candidates."""
    if not group["logit"]:
        return None
    logit = np.array(group["logit"][:n])
    base = np.array(group["base"][:n])
    with np.errstate(invalid="ignore"):  # a -inf feature score (not a defining entry) ranks last
        score = logit + weight * base
    return int(np.argmax(np.where(np.isnan(score), -np.inf, score)))


def chosen(groups: list[dict[str, Any]], n: int | None, weight: float, label: str = "positive") -> float:
    """The share of questions whose chooser over a shortlist of ``n`` picks a ``label`` candidate."""
    hits = [(at := first(g, n, weight)) is not None and bool(g[label][at]) for g in groups]
    return round(float(np.mean(hits)), 4) if hits else 0.0


def reachable(groups: list[dict[str, Any]], n: int | None, label: str = "positive") -> float:
    """The share of questions with a ``label`` candidate among the first ``n``: a perfect chooser's."""
    hits = [any(g[label][:n]) for g in groups]
    return round(float(np.mean(hits)), 4) if hits else 0.0


def buckets(groups: list[dict[str, Any]], n: int, weight: float) -> dict[str, float]:
    """Each question in one of ``BUCKETS`` at a shortlist of ``n`` (the module docstring); the shares
    add up to 1."""
    counts = dict.fromkeys(BUCKETS, 0)
    for g in groups:
        at = first(g, n, weight)
        if at is not None and g["positive"][at]:
            counts["chosen"] += 1
        elif any(g["positive"][:n]):
            counts["misranked"] += 1
        elif g["any"]:
            counts["outside_shortlist"] += 1
        else:
            counts["no_candidate"] += 1
    total = len(groups) or 1
    return {k: round(v / total, 4) for k, v in counts.items()}


@app.command()
def main(
    dataset: Annotated[Path, typer.Option(help="A shared dataset folder (corpus.jsonl, queries.jsonl).")],
    limit: Annotated[int | None, typer.Option(min=1, help="The first N chosen questions.")] = None,
    articles: Annotated[
        str | None,
        typer.Option(help="Only questions of these articles: FILE or FILE:KEY (evals.data.read_list)."),
    ] = None,
    config: Annotated[str, typer.Option(help="The eval configuration (evals.configs).")] = configs_mod.DEFAULT_CONFIG,
    depth: Annotated[int, typer.Option(min=1, max=64, help="Candidates the model reads per question.")] = 16,
    cache_dir: Annotated[Path, typer.Option(help="Where the eval indexes are kept.")] = Path("index"),
    threads: Annotated[int, typer.Option(min=1, help="torch threads.")] = 1,
    out: Annotated[Path, typer.Option(help="Report folder.")] = REPORTS,
    name: Annotated[str, typer.Option(help="The report's file name, without extension.")] = "report",
) -> None:
    """Where the answer step loses questions (see the module docstring)."""
    torch.set_num_threads(threads)
    try:
        chosen_articles = frozenset(read_list(articles)) if articles else None
        ds = load(dataset, limit, articles=chosen_articles)
    except (ValueError, FileNotFoundError) as e:
        raise typer.BadParameter(str(e)) from None
    svc, _ = open_service(ds, configs_mod.get(config), Settings(), cache_dir, None)
    build_index(svc, ds, cache_dir / f"{svc.settings.index_name}.build.json", None)
    t0 = time.perf_counter()
    try:
        groups = read_choices(svc, ds.queries, depth)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    model = svc.answerer.model
    assert model is not None  # read_choices refused otherwise
    weight = float(model.card.get("combine", {}).get("features", 0.0))
    shortlist = svc.answerer.shortlist
    sizes = sorted({*(n for n in SHORTLISTS if n <= depth), min(shortlist, depth), depth})
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "evals.answer_ceiling", *sys.argv[1:]]),
        "dataset": ds.name,
        "questions": len(groups),
        "model": model.name,
        "weight": weight,
        "shortlist": shortlist,
        "buckets": buckets(groups, min(shortlist, depth), weight),
        "by_shortlist": {
            str(n): {
                "chosen": chosen(groups, n, weight),
                "reachable": reachable(groups, n),
                "chosen_gold_doc": chosen(groups, n, weight, "gold_doc"),
                "reachable_gold_doc": reachable(groups, n, "gold_doc"),
            }
            for n in sizes
        },
        "any_candidate": round(float(np.mean([g["any"] for g in groups])), 4) if groups else 0.0,
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    svc.close()
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    b = report["buckets"]
    lines = [
        f"# Where the answer step loses: `{report['dataset']}`, {report['questions']} questions",
        "",
        f"`{report['command']}` ({report['date']}, load average {report['load_average']}, {report['seconds']} s).",
        f"Answer model {report['model']}, combined with {report['weight']} x the feature score; the service's",
        f"shortlist is {report['shortlist']}. A positive is a sentence of a gold document that holds a gold answer.",
        "",
        f"| at the shortlist of {report['shortlist']} | share |",
        "|---|---|",
        f"| answered by a positive | {b['chosen']} |",
        f"| a positive in the shortlist, another chosen | {b['misranked']} |",
        f"| a positive among the candidates, outside the shortlist | {b['outside_shortlist']} |",
        f"| no candidate is a positive (retrieval, or no sentence holds the answer) | {b['no_candidate']} |",
        "",
        "| shortlist | chosen is a positive | shortlist holds a positive | chosen is from a gold document "
        "| shortlist holds one |",
        "|---|---|---|---|---|",
    ]
    for n, row in report["by_shortlist"].items():
        label = f"{n} (the feature scorer alone)" if n == "1" else n
        cells = (row["chosen"], row["reachable"], row["chosen_gold_doc"], row["reachable_gold_doc"])
        lines.append(f"| {label} | " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        f"Some candidate (any rank) is a positive for {report['any_candidate']} of the questions.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    app()
