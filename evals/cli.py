"""`python -m evals` (alias `qa eval`): run the harness with a progress bar, print a summary, gate on scores."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from evals import harness
from evals.data import dataset_language, read_list
from evals.report import qa_settings
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


def command_line(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The command as a user would type it again: `qa eval ...` (or `python -m evals ...`), after
    the ``QA_*`` settings it ran with (``QA_LANGUAGE=de``: they shape the run as much as its
    options), but for secrets and addresses."""
    args = list(argv[1:])
    prog = "python -m evals" if argv and argv[0].endswith("__main__.py") else "qa"
    if prog == "python -m evals" and args[:1] == ["eval"]:
        args = args[1:]
    return " ".join([*qa_settings(environ), shlex.join([*prog.split(), *args])])


def language_note(collection: str, documents: str, questions: str) -> str | None:
    """A warning when the collection's ``QA_LANGUAGE`` is not its documents' (German paragraphs in
    an English collection are analysed as English, and German questions of them take the path for
    questions across languages), else None; a ``multilingual`` collection suits any."""
    if collection in (documents, "multilingual"):
        return None
    path = "across languages" if questions != collection else "in the collection's language"
    return (
        f"note: the documents are in {documents} but the collection's language is {collection} "
        f"(QA_LANGUAGE), so questions in {questions} take the path for questions {path}; "
        f"set QA_LANGUAGE={documents} to evaluate a {documents} collection"
    )


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
    skip: int = 0,
    qids: str | None = None,
    articles: str | None = None,
    abstention: bool = False,
    thresholds: Sequence[float] = (),
    min_answered: float = harness.abst.MIN_ANSWERED,
    verify_exclusion: int = 0,
    questions_from: Path | None = None,
) -> int:
    """Run, report, optionally pin and check. Returns the exit code (1 when the gate fails)."""
    if not (dataset / "queries.jsonl").is_file():
        err.print(f"error: {dataset} has no queries.jsonl; pass a directory like ../shared/datasets/scifact")
        return 2
    configs = tuple(config or [harness.configs_mod.DEFAULT_CONFIG])
    try:
        qid_list = frozenset(read_list(qids)) if qids else None
        article_list = frozenset(read_list(articles)) if articles else None
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False)
        return 2
    if questions_from is not None and not (questions_from / "queries.jsonl").is_file():
        err.print(f"error: {questions_from} has no queries.jsonl; pass one language of ../shared/datasets/xquad")
        return 2
    note = language_note(base.language, dataset_language(dataset), dataset_language(questions_from or dataset))
    if note:
        err.print(note, markup=False)
    selection = " ".join(f"--{opt} {value}" for opt, value in (("qids", qids), ("articles", articles)) if value)
    spec = harness.Spec(
        dataset,
        limit,
        corpus_limit,
        k,
        configs,
        answers=answers,
        threads=threads,
        skip=skip,
        qids=qid_list,
        articles=article_list,
        selection=selection or None,
        abstention=abstention,
        thresholds=tuple(thresholds),
        min_answered=min_answered,
        verify_exclusion=verify_exclusion,
        questions_from=questions_from,
    )
    name = dataset.resolve().name
    default = default_out(name, limit, skip, selection)
    if questions_from is not None:  # English questions of German paragraphs: xquad-de-questions-en
        default += f"-questions-{questions_from.resolve().name}"
    out = out or Path("evals/reports") / default
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
        if c.get("abstention"):
            print(f"  {abstention_summary(c['abstention'])}")
        if c.get("exclusion_check"):
            x = c["exclusion_check"]
            print(
                f"  exclusion check: {x['same_answer']}/{x['questions']} same answers as an index without the "
                f"gold documents, {x['same_passages']}/{x['questions']} same passages (bare doc_id filter: "
                f"{x['filter_same_answer']}, {x['filter_same_passages']})"
            )
    print(f"report: {out / 'report.md'}")
    if pin:
        print(f"pinned scores: {result['pinned']}")
    if check:
        if code:
            print("check FAILED:\n  " + "\n  ".join(result["check"]["failures"]))
        else:
            print("check passed")
    return code


def default_out(name: str, limit: int | None, skip: int, selection: str) -> str:
    """``<dataset>[-s<skip>][-n<limit>]``, with ``-selected`` for a qids/articles selection."""
    return name + ("-selected" if selection else "") + (f"-s{skip}" if skip else "") + (f"-n{limit}" if limit else "")


def abstention_summary(a: dict[str, Any]) -> str:
    """One line: the abstention numbers at the current threshold and the calibrated one."""

    def share(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    line = (
        f"abstention at threshold {a['threshold']}: answered {share(a['answered'])} of {a['answerable']} answerable, "
        f"not found {share(a['not_found'])} of {a['gold_removed']} gold-removed, "
        f"{share(a['offtopic_not_found'])} of {a['offtopic']} off-topic; F1 of found {share(a['f1'])}"
    )
    cal = a.get("calibrated")
    if cal:
        met = "target met" if a["target_met"] else "target not met"
        line += (
            f"; calibrated threshold {cal['threshold']} (>= {cal['min_answered']:.0%} answered): answered "
            f"{share(cal['answered'])}, not found {share(cal['not_found'])} ({met})"
        )
    return line


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
    skip: Annotated[int, typer.Option(min=0, help="Drop the first N chosen queries (before --limit).")] = 0,
    qids: Annotated[
        str | None, typer.Option(help="Only these queries: FILE (one qid a line, or a JSON array) or FILE:KEY.")
    ] = None,
    articles: Annotated[
        str | None,
        typer.Option(
            help="Only queries whose gold documents' articles (id before '#') are listed: FILE or FILE:KEY, "
            "e.g. evals/answer_split.json:validation_articles."
        ),
    ] = None,
    abstention: Annotated[
        bool,
        typer.Option(
            help="Also ask every question with its gold documents removed, and the off-topic questions "
            "(evals/offtopic.jsonl): 'not found' shares, a threshold sweep and a calibrated threshold."
        ),
    ] = False,
    threshold: Annotated[
        list[float] | None,
        typer.Option(
            help="A threshold on the answer score to add to the sweep (repeatable), e.g. one calibrated elsewhere."
        ),
    ] = None,
    min_answered: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Calibration: share of answerable questions still answered.")
    ] = harness.abst.MIN_ANSWERED,
    verify_exclusion: Annotated[
        int,
        typer.Option(
            min=0,
            help="Check the gold-removed answers of N questions (spread over the chosen ones) against real "
            "indexes built without their gold documents.",
        ),
    ] = 0,
    questions_from: Annotated[
        Path | None,
        typer.Option(
            help="Ask each question in the words of its namesake (same qid) in this dataset, e.g. "
            "--dataset ../shared/datasets/xquad/de --questions-from ../shared/datasets/xquad/en: English "
            "questions of German paragraphs, answered in German."
        ),
    ] = None,
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
        skip=skip,
        qids=qids,
        articles=articles,
        abstention=abstention,
        thresholds=threshold or (),
        min_answered=min_answered,
        verify_exclusion=verify_exclusion,
        questions_from=questions_from,
    )
    raise typer.Exit(code)
