"""Render a harness report as Markdown and as a Recall@k plot (PNG)."""

from __future__ import annotations

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


def write_markdown(report: dict[str, Any], path: Path) -> None:
    subset = f"first {report['queries']} of {report['total_queries']} queries" if report["limit"] else "all queries"
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
