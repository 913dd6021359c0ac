"""Definition questions over real generated documentation: "What does textwrap.wrap do?" asked of
Python's own HTML docs (Debian's python3-doc), answered right when the cited answer holds the first
sentence of that function's description.

    python -m evals.doc_definitions [--modules textwrap heapq ...] [--limit-per-module 15]

The questions and their gold come from the pages' markup (Sphinx's ``dl.py.function`` /
``dl.py.method``: the signature's id, and the first sentence of its first paragraph), so no one
writes or picks them; the pages are indexed through qa's own parser like any user's. The default
modules are ones no hand check of this project used (the user checks asked about shutil, json,
functools, pathlib, argparse, os.path, itertools, logging, subprocess and collections). Writes
``evals/reports/doc-definitions.{json,md}``.

The default modules were the development set of the answer rules for documentation (the line
above a sentence as its subject; the sentence under the asked name's own signature); they were then
checked once on ten other modules (``--modules copy shlex zlib gzip base64 hashlib secrets operator
pprint calendar --name doc-definitions-heldout``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DOCS = Path("/usr/share/doc/python3-doc/html/library")
MODULES = ("textwrap", "heapq", "bisect", "statistics", "random", "string", "glob", "fnmatch", "tempfile", "csv")
REPORTS = Path(__file__).resolve().parent / "reports"


def _norm(text: str) -> str:
    """Letters and digits only: the page's markup splits words from punctuation ("text , and")."""
    return re.sub(r"[\W_]+", "", text.lower())


def questions(page: Path, limit: int) -> list[dict[str, str]]:
    """(question, gold first sentence, file) for the documented functions and methods of a page."""
    from bs4 import BeautifulSoup

    from qa.sentences import split_sentences

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    out = []
    for dl in soup.select("dl.py.function, dl.py.method"):
        dt, dd = dl.find("dt"), dl.find("dd")
        p = dd.find("p") if dd else None
        if not dt or not dt.get("id") or not p:
            continue
        text = " ".join(p.get_text(" ").split())
        spans = split_sentences(text)
        if not spans:
            continue
        gold = text[spans[0][0] : spans[0][1]]
        if len(gold) < 20:
            continue
        out.append({"question": f"What does {dt['id']} do?", "gold": gold, "file": page.name})
        if len(out) >= limit:
            break
    return out


def _revision() -> str:
    import subprocess

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


def run(modules: list[str], limit: int, answer_model: str) -> dict[str, Any]:
    from qa.config import Settings
    from qa.service import QAService

    pages = [DOCS / f"{m}.html" for m in modules]
    missing = [str(p) for p in pages if not p.is_file()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install python3-doc")
    qs = [q for p in pages for q in questions(p, limit)]
    with tempfile.TemporaryDirectory() as tmp:
        svc = QAService(Settings(index_dir=Path(tmp), index_name="docdefs", answer_model=answer_model))
        t0 = time.perf_counter()
        svc.index_paths(pages)
        index_s = time.perf_counter() - t0
        rows = []
        for q in qs:
            ans = svc.ask(q["question"])
            got = _norm(ans.answer) if ans.found else ""
            rows.append(
                {
                    **q,
                    "answer": ans.answer if ans.found else "",
                    "found": ans.found,
                    "right": bool(got) and _norm(q["gold"])[:50] in got,
                    "right_doc": bool(ans.citations) and ans.citations[0].doc_id.endswith(q["file"]),
                }
            )
        svc.close()
    n = len(rows) or 1
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"python -m evals.doc_definitions --modules {' '.join(modules)} --limit-per-module {limit}",
        "code": _revision(),
        "answer_model": answer_model,
        "questions": len(rows),
        "right": round(sum(r["right"] for r in rows) / n, 4),
        "right_document": round(sum(r["right_doc"] for r in rows) / n, 4),
        "answered": round(sum(r["found"] for r in rows) / n, 4),
        "index_seconds": round(index_s, 1),
        "load_average": os.getloadavg()[0],
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.doc_definitions", description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="+", default=list(MODULES))
    ap.add_argument("--limit-per-module", type=int, default=15)
    ap.add_argument("--answer-model", default="features")
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default="doc-definitions", help="report file name, without extension")
    args = ap.parse_args(argv)
    report = run(args.modules, args.limit_per_module, args.answer_model)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    wrong = [r for r in report["rows"] if not r["right"]][:10]
    lines = [
        "# Definition questions over Python's HTML documentation",
        "",
        f"`{report['command']}` ({report['date']}, load average {report['load_average']:.1f}):",
        f'{report["questions"]} questions "What does <function> do?", generated from the pages\' markup.',
        "",
        "| answered | cited answer holds the definition's first sentence | first citation in the right page |",
        "|---|---|---|",
        f"| {report['answered']} | **{report['right']}** | {report['right_document']} |",
        "",
        "First wrong answers:",
        "",
        *[f"- {r['question']} -> {r['answer'][:120]!r} (gold: {r['gold'][:80]!r})" for r in wrong],
    ]
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:8]))


if __name__ == "__main__":
    main()
