"""Questions generated from documents' own structure (``evals.doc_definitions``,
``evals.man_options``): index the files through qa's own parser, ask every question, judge the
cited answer against the gold text, and write the JSON and Markdown reports.

A question is a dict with ``question``, ``gold`` (the text that answers it) and ``file`` (the name of
the file that holds it). An answer is right when it holds the first ``prefix`` letters and digits of
the gold text, so the pages' markup splitting words from punctuation ("text , and") does not count.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPORTS = Path(__file__).resolve().parent / "reports"
PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html/library")


def python_doc_pages(modules: list[str]) -> list[Path]:
    """The library pages of Python's HTML documentation (Debian's python3-doc) for ``modules``.

    Raises:
        SystemExit: a page is missing (one line: what to install).
    """
    pages = [PYTHON_DOCS / f"{m}.html" for m in modules]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install python3-doc")
    return pages


def norm(text: str) -> str:
    """Letters and digits only: the page's markup splits words from punctuation ("text , and")."""
    return re.sub(r"[\W_]+", "", text.lower())


def sphinx_entries(page: Path, selector: str) -> list[tuple[str, list[str]]]:
    """The documented objects of a Sphinx HTML page that match ``selector`` ("dl.py.function"):
    each one's id and the sentences of its description's first paragraph (white space collapsed),
    for those that have both."""
    from bs4 import BeautifulSoup

    from qa.sentences import split_sentences

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    out = []
    for dl in soup.select(selector):
        dt, dd = dl.find("dt"), dl.find("dd")
        p = dd.find("p") if dd else None
        if not dt or not dt.get("id") or not p:
            continue
        text = " ".join(p.get_text(" ").split())
        sentences = [text[s:e] for s, e in split_sentences(text)]
        if sentences:
            out.append((str(dt["id"]), sentences))
    return out


def revision() -> str:
    """The checkout's short commit, or "" outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip()
    except OSError:
        return ""


def ask_all(
    paths: list[Path], questions: list[dict[str, str]], prefix: int, **settings: Any
) -> tuple[list[dict[str, Any]], float]:
    """Index ``paths`` into a throwaway index and ask every question; the judged rows, and the
    seconds indexing took."""
    from qa.config import Settings
    from qa.service import QAService

    with tempfile.TemporaryDirectory() as tmp:
        svc = QAService(Settings(index_dir=Path(tmp) / "index", index_name="generated", **settings))
        t0 = time.perf_counter()
        svc.index_paths(paths)
        index_s = time.perf_counter() - t0
        rows = []
        for q in questions:
            ans = svc.ask(q["question"])
            got = norm(ans.answer) if ans.found else ""
            rows.append(
                {
                    **q,
                    "answer": ans.answer if ans.found else "",
                    "found": ans.found,
                    "right": bool(got) and norm(q["gold"])[:prefix] in got,
                    "right_doc": bool(ans.citations) and ans.citations[0].doc_id.endswith(q["file"]),
                }
            )
        svc.close()
    return rows, index_s


def summary(command: str, rows: list[dict[str, Any]], index_s: float, **extra: Any) -> dict[str, Any]:
    """The report: shares of answered, right and right-page answers, and every row."""
    n = len(rows) or 1
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        **extra,
        "questions": len(rows),
        "right": round(sum(r["right"] for r in rows) / n, 4),
        "right_document": round(sum(r["right_doc"] for r in rows) / n, 4),
        "answered": round(sum(r["found"] for r in rows) / n, 4),
        "index_seconds": round(index_s, 1),
        "load_average": os.getloadavg()[0],
        "rows": rows,
    }


def write(
    report: dict[str, Any], out: Path, name: str, title: str, asked: str, judged: str, widths: tuple[int, int]
) -> None:
    """``out/name.json`` and ``out/name.md`` (its headline and the first ten wrong answers, the
    answer and the gold cut to ``widths``); print the headline."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    wrong = [r for r in report["rows"] if not r["right"]][:10]
    answer_w, gold_w = widths
    lines = [
        f"# {title}",
        "",
        f"`{report['command']}` ({report['date']}, load average {report['load_average']:.1f}):",
        f"{report['questions']} questions {asked}.",
        "",
        f"| answered | {judged} | first citation in the right page |",
        "|---|---|---|",
        f"| {report['answered']} | **{report['right']}** | {report['right_document']} |",
        "",
        "First wrong answers:",
        "",
        *[f"- {r['question']} -> {r['answer'][:answer_w]!r} (gold: {r['gold'][:gold_w]!r})" for r in wrong],
    ]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:8]))
