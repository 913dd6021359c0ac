"""`python -m evals` (alias `qa eval`): run the harness with a progress bar, print a summary, gate on scores."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from evals import harness
from qa.config import Settings

err = Console(stderr=True, soft_wrap=True)
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SUMMARY = ("recall@1", "recall@10", "mrr@10", "ndcg@10", "answer_in_passages@5", "f1", "citation_exactness")


@contextmanager
def _progress(show: bool) -> Iterator[harness.Progress]:
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not show,
    )

    def start(label: str, total: int) -> Callable[[int], None]:
        task = bar.add_task(label, total=total)
        return lambda n: bar.update(task, advance=n)

    with bar:
        yield start


def command_line(argv: Sequence[str]) -> str:
    """The command as a user would type it again: `qa eval ...` (or `python -m evals ...`)."""
    args = list(argv[1:])
    prog = "python -m evals" if argv and argv[0].endswith("__main__.py") else "qa"
    if prog == "python -m evals" and args[:1] == ["eval"]:
        args = args[1:]
    return shlex.join([*prog.split(), *args])


def run_eval(
    base: Settings,
    dataset: Path,
    limit: int | None,
    corpus_limit: int | None,
    k: int,
    config: list[str] | None,
    out: Path | None,
    cache_dir: Path | None,
    check: bool,
    pin: bool,
    as_json: bool,
    argv: Sequence[str] = (),
    answers: bool = True,
    threads: int | None = None,
) -> int:
    """Run, report, optionally pin and check. Returns the exit code (1 when the gate fails)."""
    if not (dataset / "queries.jsonl").is_file():
        err.print(f"error: {dataset} has no queries.jsonl; pass a directory like ../shared/datasets/scifact")
        return 2
    configs = tuple(config or [harness.configs_mod.DEFAULT_CONFIG])
    spec = harness.Spec(dataset, limit, corpus_limit, k, configs, answers=answers, threads=threads)
    name = dataset.resolve().name
    out = out or Path("evals/reports") / (name if limit is None else f"{name}-n{limit}")
    try:
        with _progress(show=not as_json and sys.stderr.isatty()) as progress:
            report = harness.evaluate(
                spec, base, out, cache_dir=cache_dir, progress=progress, command=command_line(argv)
            )
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False)
        return 2
    code = 0
    result: dict[str, Any] = {"out": str(out), "report": report}
    if pin:
        result["pinned"] = str(harness.pin(report))
    if check:
        try:
            failures = harness.check(report)
        except ValueError as exc:
            err.print(f"error: {exc}", markup=False)
            return 2
        result["check"] = {"passed": not failures, "failures": failures}
        code = 1 if failures else 0
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        return code
    for cname, c in report["configs"].items():
        mt = c["metrics"]
        parts = ", ".join(f"{key} {mt[key]:.3f}" for key in SUMMARY if mt.get(key) is not None)
        ask = f", ask p50 {mt['ask_ms_p50']} ms" if mt.get("ask_ms_p50") is not None else ""
        print(f"{cname}: {parts}; search p50 {mt['search_ms_p50']} ms{ask}")
    print(f"report: {out / 'report.md'}")
    if pin:
        print(f"pinned scores: {result['pinned']}")
    if check:
        if code:
            print("check FAILED:\n  " + "\n  ".join(result["check"]["failures"]))
        else:
            print("check passed")
    return code


@app.command()
def main(
    dataset: Annotated[Path, typer.Option(help="Dataset directory: corpus.jsonl + queries.jsonl.")],
    limit: Annotated[int | None, typer.Option(min=1, help="Score only the first N queries.")] = None,
    corpus_limit: Annotated[
        int | None, typer.Option(min=1, help="Index N documents: the queries' gold ones, then others in order.")
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Passages `ask` answers from.")] = 10,
    answers: Annotated[
        bool, typer.Option(help="Also run `ask` (answer + citation metrics); --no-answers scores retrieval only.")
    ] = True,
    config: Annotated[
        list[str] | None, typer.Option(help="Configuration to score (repeatable); see evals/configs.py.")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads (1 is faster on a busy machine).")] = None,
    out: Annotated[Path | None, typer.Option(help="Report directory (default: evals/reports/<dataset>).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Where eval indexes live (default: --index-dir).")] = None,
    check: Annotated[bool, typer.Option(help="Exit 1 when a score drops below evals/expected/<dataset>.json.")] = False,
    pin: Annotated[bool, typer.Option(help="Write this run's scores into evals/expected/<dataset>.json.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Score retrieval, answers and citations on a dataset; write a run file and reports (evals/README.md)."""
    code = run_eval(
        Settings(),
        dataset,
        limit,
        corpus_limit,
        k,
        config,
        out,
        cache_dir,
        check,
        pin,
        as_json,
        sys.argv,
        answers=answers,
        threads=threads,
    )
    raise typer.Exit(code)
