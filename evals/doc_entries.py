"""Term questions over the definition lists of real documentation: "What is allow_abbrev?" asked of
Python's own HTML docs (Debian's python3-doc), answered right when the cited answer holds the start
of that term's entry, its first sentence or its first 40 letters and digits ("allow_abbrev - Allows
long options to be abbreviated if ...").

    python -m evals.doc_entries [--modules dataclasses lzma ...] [--limit-per-module 10]

The questions and their gold come from the pages' list items that are one term's entry: the term
(quoted or not, a parameter's type in parentheses allowed), a dash or a colon, then its description
of 12 characters or more (``qa.answer``'s ``TERM_ENTRY`` shape: what ``is_term_entry`` looks for).
A term with entries on more than one chosen page, or twice on one, is left out: its question has no
single answer. No one writes or picks them; the pages are indexed through qa's own parser like any
user's. The default modules are ones no hand check of this project used (the user checks asked
about shutil, json, functools, pathlib, argparse, os.path, itertools, logging, subprocess and
collections). Writes ``evals/reports/doc-entries.{json,md}``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from evals.generated import REPORTS, ask_all, python_doc_pages, revision, summary, write

MODULES = (
    "dataclasses",
    "datetime",
    "hashlib",
    "lzma",
    "sqlite3",
    "string",
    "sysconfig",
    "unittest.mock",
    "venv",
    "xml.etree.elementtree",
)
MIN_DESCRIPTION = 12


def entries(page: Path) -> list[tuple[str, str]]:
    """(term, the entry's first sentence) for the list items of ``page`` that are one term's entry,
    in page order: items without a list inside (not a table of contents), white space collapsed."""
    from bs4 import BeautifulSoup

    from qa.answer import TERM_ENTRY
    from qa.sentences import split_sentences

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    out = []
    for li in soup.select("div.body li"):
        if li.find(["ul", "ol"]):
            continue
        p = li.find("p")
        text = " ".join((p or li).get_text(" ").split())
        m = TERM_ENTRY.match(text)
        if m and len(text) - m.end() >= MIN_DESCRIPTION:
            s, e = split_sentences(text)[0]
            out.append((m.group("term"), text[s:e]))
    return out


def questions(pages: list[Path], limit: int) -> list[dict[str, str]]:
    """Up to ``limit`` questions per page, one per term with a single entry among ``pages``."""
    found = {p: entries(p) for p in pages}
    counts = Counter(term for items in found.values() for term, _ in items)
    out = []
    for page, items in found.items():
        for term, text in [(t, x) for t, x in items if counts[t] == 1][:limit]:
            out.append({"question": f"What is {term}?", "gold": text, "file": page.name})
    return out


def run(modules: list[str], limit: int, answer_model: str) -> dict[str, Any]:
    pages = python_doc_pages(modules)
    qs = questions(pages, limit)
    rows, index_s = ask_all(pages, qs, prefix=40, answer_model=answer_model)
    command = f"python -m evals.doc_entries --modules {' '.join(modules)} --limit-per-module {limit}"
    if answer_model != "bundled":
        command += f" --answer-model {answer_model}"
    return summary(command, rows, index_s, code=revision(), answer_model=answer_model)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.doc_entries", description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="+", default=list(MODULES))
    ap.add_argument("--limit-per-module", type=int, default=10)
    ap.add_argument("--answer-model", default="bundled")
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default="doc-entries", help="report file name, without extension")
    args = ap.parse_args(argv)
    report = run(args.modules, args.limit_per_module, args.answer_model)
    write(
        report,
        args.out,
        args.name,
        "Term questions over the definition lists of Python's HTML documentation",
        '"What is <term>?", generated from the pages\' list items',
        "cited answer holds the start of the term's entry (its first sentence, up to 40 letters)",
        (120, 80),
    )


if __name__ == "__main__":
    main()
