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
import json
import os
import re
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COMMANDS = ("sort", "uniq", "head", "tail", "wc", "cut", "cp", "mv", "rm", "mkdir", "du", "df")
REPORTS = Path(__file__).resolve().parent / "reports"
# "       -r, --reverse" or "       -k, --key=KEYDEF" or "       -n     description on the same line"
_OPTION_LINE = re.compile(r"^ {7}(-[A-Za-z0-9])(?:, --[\w-]+(?:=\S+)?)?(?: {2,}(\S.*))?$")


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


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
    from qa.config import Settings
    from qa.service import QAService

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "man"
        folder.mkdir()
        qs = []
        for c in commands:
            text = page(c)
            (folder / f"{c}.1.txt").write_text(text, encoding="utf-8")
            qs += questions(c, text, limit)
        svc = QAService(Settings(index_dir=Path(tmp) / "index", index_name="man"))
        t0 = time.perf_counter()
        svc.index_paths([folder])
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
                    "right": bool(got) and _norm(q["gold"])[:30] in got,
                    "right_doc": bool(ans.citations) and ans.citations[0].doc_id.endswith(q["file"]),
                }
            )
        svc.close()
    n = len(rows) or 1
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"python -m evals.man_options --commands {' '.join(commands)} --limit-per-command {limit}",
        "questions": len(rows),
        "right": round(sum(r["right"] for r in rows) / n, 4),
        "right_document": round(sum(r["right_doc"] for r in rows) / n, 4),
        "answered": round(sum(r["found"] for r in rows) / n, 4),
        "index_seconds": round(index_s, 1),
        "load_average": os.getloadavg()[0],
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.man_options", description=__doc__.splitlines()[0])
    ap.add_argument("--commands", nargs="+", default=list(COMMANDS))
    ap.add_argument("--limit-per-command", type=int, default=12)
    ap.add_argument("--out", type=Path, default=REPORTS)
    ap.add_argument("--name", default="man-options")
    args = ap.parse_args(argv)
    report = run(args.commands, args.limit_per_command)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    wrong = [r for r in report["rows"] if not r["right"]][:10]
    lines = [
        "# Option questions over man pages",
        "",
        f"`{report['command']}` ({report['date']}, load average {report['load_average']:.1f}):",
        f'{report["questions"]} questions "What does <command> <option> do?", generated from the pages.',
        "",
        "| answered | cited answer holds the option's description | first citation in the right page |",
        "|---|---|---|",
        f"| {report['answered']} | **{report['right']}** | {report['right_document']} |",
        "",
        "First wrong answers:",
        "",
        *[f"- {r['question']} -> {r['answer'][:100]!r} (gold: {r['gold'][:60]!r})" for r in wrong],
    ]
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:8]))


if __name__ == "__main__":
    main()
