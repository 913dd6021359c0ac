"""Option questions over real man pages: "What does sort -r do?" asked of the formatted man pages
of coreutils commands (``man -P cat``), answered right when the cited answer holds the start of that
option's description.

    python -m evals.man_options [--commands sort uniq ...] [--limit-per-command 12]

Questions and gold come from the pages themselves (an option line ``-r, --reverse`` and the
indented description under it), so no one writes or picks them; the pages are indexed as plain
text through qa's own parser. The default commands are ones no hand check of this project used
(the checks asked about ls, grep, ssh and date). Writes ``evals/reports/man-options.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from evals.generated import REPORTS, ask_all, summary, write

COMMANDS = ("sort", "uniq", "head", "tail", "wc", "cut", "cp", "mv", "rm", "mkdir", "du", "df")
# "       -r, --reverse" or "       -k, --key=KEYDEF" or "       -n     description on the same line"
_OPTION_LINE = re.compile(r"^ {7}(-[A-Za-z0-9])(?:, --[\w-]+(?:=\S+)?)?(?: {2,}(\S.*))?$")


def page(command: str) -> str:
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"}
    out = subprocess.run(["man", "-P", "cat", command], capture_output=True, text=True, env=env, timeout=60)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"no man page for {command!r}: apt-get install man-db coreutils")
    return re.sub(r".\x08", "", out.stdout)  # overstrike bold and underline, as `col -b` removes them


def questions(command: str, text: str, limit: int) -> list[dict[str, str]]:
    lines = text.splitlines()
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        m = _OPTION_LINE.match(line)
        if not m or m.group(1) in seen:
            continue
        desc = m.group(2) or (lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith(" " * 14) else "")
        if len(desc) < 12:
            continue
        seen.add(m.group(1))
        out.append({"question": f"What does {command} {m.group(1)} do?", "gold": desc, "file": f"{command}.1.txt"})
        if len(out) >= limit:
            break
    return out


def run(commands: list[str], limit: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "man"
        folder.mkdir()
        qs = []
        for c in commands:
            text = page(c)
            (folder / f"{c}.1.txt").write_text(text, encoding="utf-8")
            qs += questions(c, text, limit)
        rows, index_s = ask_all([folder], qs, prefix=30)
    command = f"python -m evals.man_options --commands {' '.join(commands)} --limit-per-command {limit}"
    return summary(command, rows, index_s)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.man_options", description=__doc__.splitlines()[0])
    ap.add_argument("--commands", nargs="+", default=list(COMMANDS))
    ap.add_argument("--limit-per-command", type=int, default=12)
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default="man-options")
    args = ap.parse_args(argv)
    report = run(args.commands, args.limit_per_command)
    write(
        report,
        args.out,
        args.name,
        "Option questions over man pages",
        '"What does <command> <option> do?", generated from the pages',
        "cited answer holds the option's description",
        (100, 60),
    )


if __name__ == "__main__":
    main()
