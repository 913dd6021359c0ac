"""`python -m evals.case_probe`: does "what does -V do" find the -V passage first?

Questions whose answer is told apart only by case or a leading dash ("-v" / "-V", "-l" / "-L",
"%d" / "%D"), asked of the manual page written for the tests (tests/data/arcs.1.txt) and, when
installed, real manual pages (`man -P cat grep`, ssh, date, ls). Each question is searched with a
filter on its page (k 10) in every mode; the rank of the first passage that holds the answering
line is scored (rank 1 count, MRR), and for the default mode whether `ask` cites that line.
Writes ``report.json`` and ``report.md`` to ``--out``.

Run it on another checkout by putting that checkout first on PYTHONPATH:
``PYTHONPATH=../other python evals/case_probe.py --out /tmp/probe-before``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.service import QAService
from qa.types import Document

ROOT = Path(__file__).resolve().parents[1]
ARCS = ROOT / "tests" / "data" / "arcs.1.txt"
MODES = ("hybrid", "lexical", "dense")

# (question, page, the start of the line that answers it), in pairs that differ by case.
QUESTIONS: list[tuple[str, str, str]] = [
    ("What does -V do?", "arcs", "-V, --version"),
    ("What does -v do?", "arcs", "-v, --verbose"),
    ("What does arcs -l do?", "arcs", "-l     Use a long"),
    ("What does -L do?", "arcs", "-L, --dereference"),
    ("What does -R do?", "arcs", "-R, --recursive"),
    ("What does -r do?", "arcs", "-r, --reverse"),
    ("What does -S do?", "arcs", "-S     Sort"),
    ("What does -s do?", "arcs", "-s, --size"),
    ("What does -z do?", "arcs", "-z, --gzip"),
    ("What does -Z do?", "arcs", "-Z, --zstd"),
    ("What does -c do?", "arcs", "-c, --check"),
    ("What does -C do?", "arcs", "-C DIR"),
    ("What does -x do?", "arcs", "-x PATTERN"),
    ("What does -X do?", "arcs", "-X FILE"),
    ("What does %D print?", "arcs", "%D     the date"),
    ("What does %d print?", "arcs", "%d     day of the month"),
    ("What does %Y print?", "arcs", "%Y     the full year"),
    ("What does %y print?", "arcs", "%y     last two"),
    ("What does %S print?", "arcs", "%S     second"),
    ("What does %s print?", "arcs", "%s     seconds since"),
    ("What does %M print?", "arcs", "%M     minute"),
    ("What does %m print?", "arcs", "%m     month"),
    ("What does grep -v do?", "grep", "-v, --invert-match"),
    ("What does grep -V do?", "grep", "-V, --version"),
    ("What does grep -l do?", "grep", "-l, --files-with-matches"),
    ("What does grep -L do?", "grep", "-L, --files-without-match"),
    ("What does grep -h do?", "grep", "-h, --no-filename"),
    ("What does grep -H do?", "grep", "-H, --with-filename"),
    ("What does grep -e do?", "grep", "-e PATTERNS, --regexp"),
    ("What does grep -E do?", "grep", "-E, --extended-regexp"),
    ("What does grep -i do?", "grep", "-i, --ignore-case"),
    ("What does grep -I do?", "grep", "-I     Process a binary"),
    ("What does ssh -v do?", "ssh", "-v     Verbose mode"),
    ("What does ssh -V do?", "ssh", "-V     Display the version"),
    ("What does ssh -l do?", "ssh", "-l login_name"),
    ("What does ssh -L do?", "ssh", "-L [bind_address:]port"),
    ("What does ssh -a do?", "ssh", "-a     Disables forwarding of the authentication"),
    ("What does ssh -A do?", "ssh", "-A     Enables forwarding"),
    ("What does ssh -x do?", "ssh", "-x     Disables X11"),
    ("What does ssh -X do?", "ssh", "-X     Enables X11"),
    ("What does date %d print?", "date", "%d     day of month"),
    ("What does date %D print?", "date", "%D     date; same as %m/%d/%y"),
    ("What does ls -r do?", "ls", "-r, --reverse"),
    ("What does ls -R do?", "ls", "-R, --recursive"),
    ("What does ls -s do?", "ls", "-s, --size"),
    ("What does ls -S do?", "ls", "-S     sort by file size"),
]


def man_page(name: str) -> str:
    """The manual page as plain text, 80 columns wide; empty when it is not installed."""
    try:
        r = subprocess.run(
            ["man", "-P", "cat", name],
            capture_output=True,
            text=True,
            env={"MANWIDTH": "80", "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout if r.returncode == 0 else ""


def line_at(text: str, start: str) -> int | None:
    m = re.search(re.escape(start).replace(r"\ ", r"\s+"), text)
    return m.start() if m else None


def probe(pages: dict[str, str], index_dir: Path) -> dict[str, Any]:
    svc = QAService(Settings(index_dir=index_dir, index_name="case-probe"))
    try:
        svc.add_documents([Document(id=name, title=f"{name}(1)", text=text) for name, text in pages.items()])
        rows = []
        for question, page, line in QUESTIONS:
            if page not in pages or (pos := line_at(pages[page], line)) is None:
                continue
            row: dict[str, Any] = {"question": question, "page": page, "line": line}
            for mode in MODES:
                ps = svc.search(question, k=10, filters={"doc_id": page}, mode=mode)  # type: ignore[arg-type]
                row[mode] = next((i for i, p in enumerate(ps, 1) if p.start <= pos < p.end), None)
            a = svc.ask(question, k=5, filters={"doc_id": page})
            row["ask_cites_line"] = any(c.start <= pos + len(line) // 2 < c.end for c in a.citations)
            rows.append(row)
    finally:
        svc.close()
    summary = {
        mode: {
            "rank1": sum(r[mode] == 1 for r in rows),
            "mrr": round(sum(1 / r[mode] for r in rows if r[mode]) / len(rows), 3) if rows else 0.0,
        }
        for mode in MODES
    }
    summary["ask_cites_line"] = {"count": sum(r["ask_cites_line"] for r in rows)}
    return {"questions": len(rows), "pages": sorted(pages), "summary": summary, "rows": rows}


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    out = [
        "# Case probe: options and conversions that differ by case",
        "",
        f"`{report['command']}`, {report['date']}, code `{report['code']}`; {report['questions']} questions over "
        f"{', '.join(report['pages'])} (k 10, filtered to the question's page).",
        "",
        "| mode | rank 1 | MRR |",
        "|---|---|---|",
        *(f"| {m} | {s[m]['rank1']}/{report['questions']} | {s[m]['mrr']:.3f} |" for m in MODES),
        "",
        f"`ask` (default mode) cites the answering line: {s['ask_cites_line']['count']}/{report['questions']}.",
        "",
        "| question | hybrid | lexical | dense | ask cites it |",
        "|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        out.append(
            f"| {r['question']} | {r['hybrid'] or '-'} | {r['lexical'] or '-'} | {r['dense'] or '-'} "
            f"| {'yes' if r['ask_cites_line'] else 'no'} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--man", nargs="*", default=["grep", "ssh", "date", "ls"], help="manual pages to add")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "reports" / "case-probe")
    args = parser.parse_args()
    pages = {"arcs": ARCS.read_text(encoding="utf-8")}
    pages.update({name: text for name in args.man if (text := man_page(name))})
    with tempfile.TemporaryDirectory(prefix="case-probe-") as tmp:
        report = probe(pages, Path(tmp))
    import qa.service

    report = {
        "command": "python -m evals.case_probe --man " + " ".join(args.man),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "code": str(Path(qa.service.__file__).resolve().parents[1]),
        "load_average": os.getloadavg(),
        **report,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
