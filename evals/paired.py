"""`python -m evals.paired BEFORE AFTER`: two harness runs of the same questions, question by question.

``BEFORE`` and ``AFTER`` are run directories of ``evals.harness`` (``queries.<config>.jsonl``
inside; ``evals.xquad`` writes them in ``<out>/runs/<lang>-<embedder>-<language>/``). For R@5 and
"answer sentence holds gold" (``evals.metrics.contains_answer``, the language's normalization):
each run's mean and how many questions the change gained and lost. Writes ``--out`` (JSON) and
the same name with ``.md``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from evals import metrics as m

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def records(run: Path) -> dict[str, dict[str, Any]]:
    """The run's per-question records by question id (its one ``queries.*.jsonl``)."""
    files = sorted(run.glob("queries.*.jsonl"))
    if len(files) != 1:
        raise typer.BadParameter(f"{run} holds {len(files)} queries.*.jsonl files; give a run directory with one")
    return {r["qid"]: r for r in map(json.loads, files[0].read_text(encoding="utf-8").splitlines()) if r}


def outcomes(r: dict[str, Any]) -> dict[str, float]:
    lang = r.get("language") or "en"
    out = {"recall@5": m.recall_at(r["retrieved"], set(r["gold"]), 5)}
    if r["answers"] and r.get("asked", True):
        out["answer_contains_gold"] = float(m.contains_answer(r["answer"], r["answers"], lang))
    return out


def compare(before: Path, after: Path, common: bool = False) -> dict[str, Any]:
    """``common``: compare the questions both runs hold (a run of the first N against a full one)."""
    a, b = records(before), records(after)
    if common:
        shared = a.keys() & b.keys()
        if not shared:
            raise typer.BadParameter(f"{before} and {after} hold no question in common")
        a, b = {q: a[q] for q in a if q in shared}, {q: b[q] for q in a if q in shared}
    if a.keys() != b.keys():
        raise typer.BadParameter(f"{before} and {after} hold different questions (--common compares those of both)")
    result: dict[str, Any] = {"before": str(before), "after": str(after), "questions": len(a)}
    for metric in ("recall@5", "answer_contains_gold"):
        pairs = [(outcomes(a[q]).get(metric), outcomes(b[q]).get(metric)) for q in a]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        result[metric] = {
            "before": round(sum(x for x, _ in pairs) / len(pairs), 3),
            "after": round(sum(y for _, y in pairs) / len(pairs), 3),
            "gained": sum(y > x for x, y in pairs),
            "lost": sum(y < x for x, y in pairs),
        }
    return result


@app.command()
def main(
    before: Annotated[Path, typer.Argument(help="Run directory before the change.")],
    after: Annotated[Path, typer.Argument(help="Run directory after it.")],
    out: Annotated[
        Path | None, typer.Option(help="Report file (JSON; the Markdown beside it). Without it, only printed.")
    ] = None,
    common: Annotated[
        bool, typer.Option(help="Compare only the questions both runs hold (a run of the first N against a full one).")
    ] = False,
) -> None:
    """R@5 and 'answer sentence holds gold' of two runs, question by question (gained, lost)."""
    result = {"command": shlex.join(["python", "-m", "evals.paired", *sys.argv[1:]]), **compare(before, after, common)}
    lines = [
        f"- command: `{result['command']}`; {result['questions']} questions",
        "",
        "| metric | before | after | questions gained | lost |",
        "|---|---|---|---|---|",
    ]
    for metric in ("recall@5", "answer_contains_gold"):
        r = result[metric]
        lines.append(f"| {metric} | {r['before']:.3f} | {r['after']:.3f} | {r['gained']} | {r['lost']} |")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    app(prog_name="python -m evals.paired")
