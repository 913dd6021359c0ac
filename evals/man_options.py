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
OPTION_LINE = re.compile(r"^ {7}(-[A-Za-z0-9])(?:, --[\w-]+(?:=\S+)?)?(?: {2,}(\S.*))?$")
# A format conversion's line: "       %a     permission bits in octal" (stat), indented once more
# under an option (find's -printf: "              %a     File's last access time ...").
CONVERSION_LINE = re.compile(r"^ {7}(?: {7})?(%[A-Za-z])(?: {2,}(\S.*))$")


def page(command: str) -> str:
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"}
    out = subprocess.run(["man", "-P", "cat", command], capture_output=True, text=True, env=env, timeout=60)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"no man page for {command!r}: apt-get install man-db coreutils")
    return re.sub(r".\x08", "", out.stdout)  # overstrike bold and underline, as `col -b` removes them


def questions(command: str, text: str, limit: int, entry: re.Pattern[str] = OPTION_LINE) -> list[dict[str, str]]:
    """Up to ``limit`` questions on ``command``'s page: one per entry line (``entry``: an option's, or
    with ``--conversions`` a format conversion's) whose description has 12 characters or more."""
    lines = text.splitlines()
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        m = entry.match(line)
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


def run(commands: list[str], limit: int, conversions: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "man"
        folder.mkdir()
        qs = []
        for c in commands:
            text = page(c)
            (folder / f"{c}.1.txt").write_text(text, encoding="utf-8")
            qs += questions(c, text, limit, CONVERSION_LINE if conversions else OPTION_LINE)
        rows, index_s = ask_all([folder], qs, prefix=30)
    command = f"python -m evals.man_options --commands {' '.join(commands)} --limit-per-command {limit}"
    command += " --conversions" if conversions else ""
    return summary(command, rows, index_s)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.man_options", description=__doc__.splitlines()[0])
    ap.add_argument("--commands", nargs="+", default=list(COMMANDS))
    ap.add_argument("--limit-per-command", type=int, default=12)
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default=None, help="report name (default man-options, or man-conversions)")
    ap.add_argument(
        "--conversions",
        action="store_true",
        help='ask about format conversions ("What does stat %%a do?") instead of options; e.g. --commands stat find',
    )
    args = ap.parse_args(argv)
    report = run(args.commands, args.limit_per_command, args.conversions)
    what = "format conversion" if args.conversions else "option"
    write(
        report,
        args.out,
        args.name or ("man-conversions" if args.conversions else "man-options"),
        f"{what.capitalize()} questions over man pages",
        f'"What does <command> <{what}> do?", generated from the pages',
        f"cited answer holds the {what}'s description",
        (100, 60),
    )


if __name__ == "__main__":
    main()
