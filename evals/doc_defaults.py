"""Default-value questions over real generated documentation: "What is the default value of
csv.Dialect.delimiter?" asked of Python's own HTML docs (Debian's python3-doc), answered right when
the cited answer holds the sentence that states that default.

    python -m evals.doc_defaults [--modules csv ssl ...] [--answer-model bundled]

The questions and their gold come from the pages' markup (Sphinx's ``dl.py.attribute`` and
``dl.py.data`` entries: the entry's id, and the first sentence of its first paragraph after the
first that states a default: "It defaults to ','.", "The default value is "month"."), only for
entries whose first sentence does not state it: a reference entry that says what a setting is,
then its default, in a sentence of its own. So no one writes or picks them; the pages are indexed
through qa's own parser like any user's. By default every page of the library reference with
such an entry (23 pages, 58 entries in Python 3.11's). Writes ``evals/reports/doc-defaults.{json,md}``.

This is the case ``qa.answer.default_after`` was written for (from a user check on LaTeX's font
guide, session 15, not from these pages): the sentence that says what the setting is matches the
question best; the one after it says the value.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from evals.generated import PYTHON_DOCS, REPORTS, ask_all, python_doc_pages, revision, sphinx_entries, summary, write

_DEFAULT = re.compile(r"\bdefaults?\b", re.IGNORECASE)
# A sentence that states the default: "It defaults to ','.", "The default is 9.", "Defaults to
# False.", "By default, 128 statements."
_STATES = re.compile(r"(?:it\s+defaults\s+to|defaults\s+to|the\s+default\b|by\s+default\b)", re.IGNORECASE)


def questions(page: Path) -> list[dict[str, str]]:
    """(question, gold default sentence, file) for a page's attributes and data whose default is
    stated in a sentence of its own, after the first."""
    out = []
    for name, sentences in sphinx_entries(page, "dl.py.attribute, dl.py.data"):
        if _DEFAULT.search(sentences[0]):
            continue
        stated = [s for s in sentences[1:] if _STATES.match(s)]
        if stated:
            out.append({"question": f"What is the default value of {name}?", "gold": stated[0], "file": page.name})
    return out


def pages_with_questions(docs: Path = PYTHON_DOCS) -> list[str]:
    """The library pages that have at least one such entry, by module name."""
    return [p.stem for p in sorted(docs.glob("*.html")) if questions(p)]


def run(modules: list[str], answer_model: str) -> dict[str, Any]:
    pages = python_doc_pages(modules)
    qs = [q for p in pages for q in questions(p)]
    rows, index_s = ask_all(pages, qs, prefix=50, answer_model=answer_model)
    command = f"python -m evals.doc_defaults --modules {' '.join(modules)} --answer-model {answer_model}"
    return summary(command, rows, index_s, code=revision(), answer_model=answer_model)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.doc_defaults", description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="+", help="library pages by module name (default: every page with a question)")
    ap.add_argument("--answer-model", default="bundled")
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default="doc-defaults", help="report file name, without extension")
    args = ap.parse_args(argv)
    if not PYTHON_DOCS.is_dir():
        raise SystemExit(f"missing {PYTHON_DOCS}: apt-get install python3-doc")
    report = run(args.modules or pages_with_questions(), args.answer_model)
    write(
        report,
        args.out,
        args.name,
        "Default-value questions over Python's HTML documentation",
        '"What is the default value of <attribute>?", generated from the pages\' markup',
        "cited answer holds the sentence that states the default",
        (120, 80),
    )


if __name__ == "__main__":
    main()
