"""Render a harness report as Markdown and as a Recall@k plot (PNG); write the one-off evals' reports."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COLUMNS = [
    ("recall@1", "R@1"),
    ("recall@5", "R@5"),
    ("recall@10", "R@10"),
    ("all_recall@10", "all-gold R@10"),
    ("mrr@10", "MRR@10"),
    ("ndcg@10", "nDCG@10"),
    ("answer_in_passages@5", "answer in top-5 passages"),
    ("em", "EM"),
    ("f1", "F1"),
    ("answer_contains_gold", "answer sentence holds gold"),
    ("short_answers", "short answers given"),
    ("short_em", "EM where short given"),
    ("citation_precision", "citation precision"),
    ("citation_exactness", "citation exactness"),
]


SUBSET_NOTE = " (all gold documents of the queries, plus the first others in corpus order)"


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# Settings in the environment that a run's command line does not repeat: secrets and addresses.
_UNSHOWN = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|URL|DSN")


def qa_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """The environment's ``QA_*`` settings as ``NAME=value`` words to start a run's command line
    with (``QA_LANGUAGE=de``, ``QA_MIN_ANSWER_SCORE=0``: they shape a run as much as its options),
    but for secrets and addresses."""
    env = os.environ if environ is None else environ
    return [f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.startswith("QA_") and not _UNSHOWN.search(k)]


def run_info(module: str, load_average: bool = False) -> dict[str, Any]:
    """The ``command`` (the ``QA_*`` settings, ``python -m <module>`` and this process's arguments)
    and UTC ``date`` of a run, and with ``load_average`` the machine's 1, 5 and 15 minute load averages."""
    info: dict[str, Any] = {
        "command": " ".join([*qa_settings(), shlex.join(["python", "-m", module, *sys.argv[1:]])]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if load_average:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def run_line(report: dict[str, Any]) -> str:
    """The Markdown line of ``run_info``'s fields in ``report``."""
    line = f"- command: `{report['command']}`; date {report['date']}"
    return line + (f"; load average {report['load_average']}" if "load_average" in report else "")


def table(columns: Sequence[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    """A Markdown table: the header line, the separator, one line per row (cells through ``str``)."""
    return [
        "| " + " | ".join(columns) + " |",
        "|---" * len(columns) + "|",
        *("| " + " | ".join(map(str, row)) + " |" for row in rows),
    ]


def write_report(out: Path, report: dict[str, Any], lines: list[str], name: str = "report") -> None:
    """``<name>.json`` (``report``) and ``<name>.md`` (``lines``) in ``out``, made if missing."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_markdown(report: dict[str, Any], path: Path) -> None:
    subset = f"first {report['queries']} of {report['total_queries']} queries" if report["limit"] else "all queries"
    if report.get("skip") or report.get("selection"):
        chosen = (
            f", chosen by `{report['selection']}` ({report['selected_queries']} match)"
            if report.get("selection")
            else ""
        )
        skipped = f", the first {report['skip']} of them skipped" if report.get("skip") else ""
        subset = f"{report['queries']} of {report['total_queries']} queries{chosen}{skipped}"
    lines = [
        f"# `{report['dataset']}`: {report['queries']} queries over {report['corpus_docs']} documents",
        "",
        f"- command: `{report['command']}`" if report["command"] else "- command: (library call)",
        f"- date: {report['date']}; {report['machine']['cpu_count']} CPUs; peak RSS {report['peak_rss_mb']} MB",
        f"- {subset}; corpus: {report['corpus_docs']} of {report['total_docs']} documents"
        + (SUBSET_NOTE if report["corpus_limit"] else "")
        + (f"; {report['missing_gold']} gold ids not in the corpus" if report["missing_gold"] else ""),
        f"- retrieval scored at document level over the top {report['search_depth_chunks']} chunks of "
        f"`search` (chunks of one document collapse to its best rank); "
        + (f"answers from `ask` with k={report['k']}" if report.get("answers", True) else "no `ask` (--no-answers)"),
        "",
        "## Quality",
        "",
        "| config | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for name, c in report["configs"].items():
        lines.append(f"| {name} | " + " | ".join(fmt(c["metrics"].get(key)) for key, _ in COLUMNS) + " |")
    lines += [
        "",
        "## Cost",
        "",
        "| config | chunks | index build s | chunks/s | index reused | search p50 / p95 ms | ask p50 / p95 ms |"
        " answered | citations |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in report["configs"].items():
        ix, mt = c["index"], c["metrics"]
        reused = ("yes" if ix["reused"] else "no") + (" (build resumed)" if ix.get("resumed") else "")
        lines.append(
            f"| {name} | {ix['chunks']} | {fmt(ix['build_seconds'], 1)} | {fmt(ix['chunks_per_second'], 1)} | "
            f"{reused} | {fmt(mt['search_ms_p50'], 1)} / {fmt(mt['search_ms_p95'], 1)} | "
            f"{fmt(mt['ask_ms_p50'], 1)} / {fmt(mt['ask_ms_p95'], 1)} | {fmt(mt['answered'])} | {mt['citations']} |"
        )
    lines += abstention_lines(report)
    lines += ["", "Configurations:", ""]
    for name, c in report["configs"].items():
        lines.append(f"- `{name}`: {c['description']} (chunker `{c['chunker']}`, index `{c['index']['name']}`)")
    if report.get("plot"):
        lines += ["", f"![Recall@k, k=1..20]({Path(report['plot']).name})"]
    lines += [
        "",
        "Metric definitions: evals/README.md. Index build figures come from the build that made the index;"
        " a reused index keeps them. A resumed build (an earlier one was interrupted) counts only the chunks"
        " it wrote itself.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def share(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def abstention_lines(report: dict[str, Any]) -> list[str]:
    """The abstention section: gold-removed and off-topic "not found", the sweep, the calibration,
    and the check of the exclusion against real indexes built without the gold documents."""
    runs = {n: c["abstention"] for n, c in report["configs"].items() if c.get("abstention")}
    checks = {n: c["exclusion_check"] for n, c in report["configs"].items() if c.get("exclusion_check")}
    if not runs and not checks:
        return []
    lines = ["", "## Abstention", ""]
    if runs:
        lines += [
            "Every question with gold documents is asked again with them removed (the service's `doc_id` filter "
            'leaves every other document: evals/abstention.py), where the right answer is "not found"; '
            "the off-topic questions are hand-written ones no shared corpus answers (evals/offtopic.jsonl). "
            '"found" as a classifier: positives the answerable questions, negatives the same questions gold-removed.',
            "",
            "| config | threshold | answered (answerable) | not found (gold removed) | not found (off-topic) |"
            " precision of found | recall | F1 | gold removed: gold answer in the answerer's passages |"
            " ... answered with a sentence holding it | not found where no passage held it | gold leaks |",
            "|---" * 12 + "|",
        ]
        for name, a in runs.items():
            lines.append(
                f"| {name} | {a['threshold']} | {share(a['answered'])} ({a['answerable']}) | "
                f"{share(a['not_found'])} ({a['gold_removed']}) | "
                f"{share(a['offtopic_not_found'])} ({a['offtopic']}) | "
                f"{share(a['precision'])} | {share(a['recall'])} | {share(a['f1'])} | "
                f"{a['removed_answer_in_passages']} of {a['removed_with_answers']} | "
                f"{a['removed_answered_with_gold']} | "
                f"{share(a['not_found_without_answer_in_passages'])} | {a['gold_leaks']} |"
            )
        for name, a in runs.items():
            lines += ["", f"### `{name}`: the threshold on the answer score", ""]
            t = a["target"]
            cal, tgt = a.get("calibrated"), a.get("for_target_not_found")
            if cal:
                lines.append(
                    f"- calibrated on these questions (the highest threshold answering >= {t['min_answered']:.0%} "
                    f"of the answerable ones): **{cal['threshold']}**, answered {share(cal['answered'])}, not found "
                    f"{share(cal['not_found'])} gold-removed; target (>= {t['min_not_found']:.0%} not found at >= "
                    f"{t['min_answered']:.0%} answered) {'met' if a['target_met'] else 'not met'}"
                )
            if tgt:
                lines.append(
                    f"- lowest threshold with >= {t['min_not_found']:.0%} not found gold-removed: {tgt['threshold']}, "
                    f"answering {share(tgt['answered'])} of the answerable questions"
                )
            if "exact" in a:
                how = (
                    "dense through the `doc_id` filter, BM25 rebuilt without the removed chunks"
                    if a["exact"]
                    else "the bare `doc_id` filter (not the embedded store: BM25 statistics of the whole index)"
                )
                lines.append(
                    f"- gold removed by {how}; {a.get('lexical_rebuilds', 0)} lexical rebuilds in "
                    f"{a.get('rebuild_seconds', 0)} s"
                )
            secs = report["configs"][name].get("seconds", {})
            if secs:
                lines.append(
                    "- run time: "
                    + ", ".join(f"{k.replace('_', ' ')} {v} s" for k, v in secs.items())
                    + " (questions asked one after the other, the model loaded once)"
                )
            if a.get("found_disagrees_with_score"):
                lines.append(
                    f"- **{a['found_disagrees_with_score']} answers' `found` disagree with score >= threshold**: "
                    "the sweep assumes the answerer abstains exactly below its threshold"
                )
            marks: dict[float, list[str]] = {}
            marks.setdefault(a["threshold"], []).append("current")
            for x in a.get("given_thresholds", []):
                marks.setdefault(x, []).append("given")
            if cal:
                marks.setdefault(cal["threshold"], []).append(f"calibrated (>= {t['min_answered']:.0%} answered)")
            if tgt:
                marks.setdefault(tgt["threshold"], []).append(f">= {t['min_not_found']:.0%} not found")
            lines += [
                "",
                "| threshold | answered (answerable) | not found (gold removed) | not found (off-topic) |"
                " precision of found | F1 | |",
                "|---|---|---|---|---|---|---|",
            ]
            for row in a["sweep"]:
                lines.append(
                    f"| {row['threshold']} | {share(row['answered'])} | {share(row['not_found'])} | "
                    f"{share(row['offtopic_not_found'])} | {share(row['precision'])} | {share(row['f1'])} | "
                    f"{', '.join(marks.get(row['threshold'], []))} |"
                )
    if checks:
        lines += [
            "",
            "### The gold-removed view against real indexes without the gold documents",
            "",
            "Questions spread over the run, asked gold-removed three ways: through the view the gold-removed pass "
            "uses (dense through the `doc_id` filter, BM25 rebuilt without the removed chunks), through the bare "
            "`doc_id` filter (BM25 statistics of the whole index), and on an index built without their gold "
            "documents (imported from an export of the eval index in its build order: same chunks and vectors, "
            "fresh FAISS and BM25). Counts are of questions whose answer matches the rebuilt index's.",
            "",
            "| config | questions | indexes built | view: same answer and citation | view: same passages, same order |"
            ' view: largest score difference | bare filter: same answer | same "found" |'
            " same passages, same order | same passages, any order | largest score difference | seconds |",
            "|---" * 12 + "|",
        ]
        for name, x in checks.items():
            view = "" if x.get("exact", True) else " (not exact: not the embedded store)"
            lines.append(
                f"| {name} | {x['questions']} | {x['indexes_built']} | {x['same_answer']}{view} | "
                f"{x['same_passages']} | {x['max_score_difference']:.2g} | {x['filter_same_answer']} | "
                f"{x['filter_same_found']} | {x['filter_same_passages']} | {x['filter_same_passage_set']} | "
                f"{x['filter_max_score_difference']:.2g} | {x['seconds']} |"
            )
    return lines


def write_plot(report: dict[str, Any], path: Path) -> str | None:
    """Recall@k for k = 1..20, one line per configuration. Returns the path, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        import sys

        print("note: no plot: matplotlib is not installed (pip install -e '.[test]')", file=sys.stderr)
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for name, c in report["configs"].items():
        curve = c["recall_curve"]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=name)
    ax.set_xlabel("k (documents)")
    ax.set_ylabel("Recall@k")
    ax.set_xticks(range(1, 21))
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(f"{report['dataset']}: {report['queries']} queries, {report['corpus_docs']} docs", fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)
