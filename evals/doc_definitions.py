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
from pathlib import Path
from typing import Any

from evals.generated import REPORTS, ask_all, python_doc_pages, revision, sphinx_entries, summary, write

MODULES = ("textwrap", "heapq", "bisect", "statistics", "random", "string", "glob", "fnmatch", "tempfile", "csv")


def questions(page: Path, limit: int) -> list[dict[str, str]]:
    """(question, gold first sentence, file) for the documented functions and methods of a page."""
    out = []
    for name, sentences in sphinx_entries(page, "dl.py.function, dl.py.method"):
        if len(sentences[0]) < 20:
            continue
        out.append({"question": f"What does {name} do?", "gold": sentences[0], "file": page.name})
        if len(out) >= limit:
            break
    return out


def run(modules: list[str], limit: int, answer_model: str) -> dict[str, Any]:
    pages = python_doc_pages(modules)
    qs = [q for p in pages for q in questions(p, limit)]
    rows, index_s = ask_all(pages, qs, prefix=50, answer_model=answer_model)
    command = f"python -m evals.doc_definitions --modules {' '.join(modules)} --limit-per-module {limit}"
    return summary(command, rows, index_s, code=revision(), answer_model=answer_model)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.doc_definitions", description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="+", default=list(MODULES))
    ap.add_argument("--limit-per-module", type=int, default=15)
    ap.add_argument("--answer-model", default="features")
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default="doc-definitions", help="report file name, without extension")
    args = ap.parse_args(argv)
    report = run(args.modules, args.limit_per_module, args.answer_model)
    write(
        report,
        args.out,
        args.name,
        "Definition questions over Python's HTML documentation",
        '"What does <function> do?", generated from the pages\' markup',
        "cited answer holds the definition's first sentence",
        (120, 80),
    )


if __name__ == "__main__":
    main()
