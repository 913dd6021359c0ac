"""HTML main-content extraction on real generated documentation: what is kept, what is dropped, how fast.

Each page of ``bench/html_pages.json`` (Debian's python3-doc, gnuplot-doc, valgrind, libxslt1-dev and
nodejs-doc HTML, and man pages through ``man -Thtml``) lists text checked by eye: sentences and
signatures that must be kept, code lines that must stay on lines of their own, and navigation that
must go (sidebars, previous/next links, tables of contents, permalink marks). Every extractor gets
the same bytes and is scored on the same lists; speed is pages/s over all pages, the median of
``--runs`` runs (qa's two alternate run by run), with the load average before and after (these
machines are shared).

Extractors: ``qa`` (``qa.parse.html``), ``qa-before`` (``qa/parse/html.py`` at ``--before REV``,
loaded from git), and ``trafilatura``, ``readability-lxml`` and ``jusText`` with their defaults.
The last three are not dependencies of qa: give ``--others-python`` an interpreter that has them
(``python -m venv /tmp/ex && /tmp/ex/bin/pip install trafilatura readability-lxml justext``).

    python -m bench.html_extract --before main --others-python /tmp/ex/bin/python

Writes bench/results/html-extract.json and bench/results/html-extract.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OTHERS = ("trafilatura", "readability-lxml", "justext")


# -- third-party extractors (run in --others-python; imports nothing of qa or bench) -----------------


def _other(name: str) -> Any:
    """A function bytes -> text for one third-party extractor, with its default settings."""
    if name == "trafilatura":
        import trafilatura

        return lambda data: trafilatura.extract(data.decode("utf-8", "replace")) or ""
    if name == "readability-lxml":
        import lxml.html
        from readability import Document

        def readability(data: bytes) -> str:
            summary = Document(data.decode("utf-8", "replace")).summary(html_partial=True)
            return str(lxml.html.fromstring(summary).text_content())

        return readability
    if name == "justext":
        import justext

        stop = justext.get_stoplist("English")
        return lambda data: "\n".join(p.text for p in justext.justext(data, stop) if not p.is_boilerplate)
    raise ValueError(name)


def _time_all(extract: Any, files: list[Path], runs: int) -> dict[str, Any]:
    """Extract every file ``runs`` times: the texts of the last run and each run's seconds."""
    data = [f.read_bytes() for f in files]
    seconds, texts = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        texts = [extract(d) for d in data]
        seconds.append(time.perf_counter() - t0)
    return {"texts": texts, "seconds": seconds}


def _worker(name: str, folder: str, runs: int) -> None:
    files = sorted(Path(folder).glob("*.html"))
    json.dump(_time_all(_other(name), files, runs), sys.stdout)


# -- qa's extractors -----------------------------------------------------------------------------


def _qa_before(rev: str) -> Any:
    """``qa.parse.html.parse_html`` as it was at git revision ``rev``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:qa/parse/html.py"], cwd=HERE.parent, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType("qa_parse_html_before")
    exec(compile(source, f"{rev}:qa/parse/html.py", "exec"), module.__dict__)
    return lambda data: module.parse_html(data, "page.html")[0]


def _qa() -> Any:
    from qa.parse.html import parse_html

    return lambda data: parse_html(data, "page.html")[0]


# -- scoring -------------------------------------------------------------------------------------


def _squash(s: str) -> str:
    return " ".join(s.split())


def _code_kept(text: str, lines: list[str]) -> bool:
    """The code lines are in ``text`` one after the other, each on a line of its own."""
    pattern = r"\n[ \t]*".join(re.escape(ln.strip()) for ln in lines)
    return re.search(rf"(?:^|\n)[ \t]*{pattern}[ \t]*(?:\n|$)", text) is not None


def score(text: str, page: dict[str, Any], family: dict[str, Any]) -> dict[str, Any]:
    """Shares of the page's checks an extracted text passes."""
    flat = _squash(text)
    keep = [k for k in page["keep"] if _squash(k) not in flat]
    drops = [*family.get("drop", []), *page.get("drop", [])]
    kept_drops = [d["text"] for d in drops if flat.count(_squash(d["text"])) > d.get("max", 0)]
    code = [c for c in page["code"] if not _code_kept(text, c)]
    return {
        "keep": 1 - len(keep) / len(page["keep"]),
        "drop": 1 - len(kept_drops) / len(drops) if drops else 1.0,
        "code": 1 - len(code) / len(page["code"]) if page["code"] else None,
        "missed": keep + [" / ".join(c) for c in code],
        "left": kept_drops,
        "chars": len(text),
    }


def materialize(pages: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Each page's HTML as a file in ``folder`` (man pages rendered by ``man -Thtml``)."""
    files = []
    for i, page in enumerate(pages):
        f = folder / f"{i:02d}.html"
        path = page["path"]
        if path.startswith("man:"):
            html = subprocess.run(["man", "-Thtml", path[4:]], capture_output=True, check=True).stdout
            f.write_bytes(html)
        else:
            f.write_bytes(Path(path).read_bytes())
        files.append(f)
    return files


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=Path, default=HERE / "html_pages.json", help="the pages and their checks")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per extractor (the median is reported)")
    ap.add_argument("--before", default=None, help="also score qa/parse/html.py at this git revision")
    ap.add_argument("--others-python", default=None, help="a Python with trafilatura, readability-lxml, justext")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="folder for html-extract.json and .md")
    args = ap.parse_args()

    from bench.machine import describe

    spec = json.loads(args.pages.read_text())
    pages, families = spec["pages"], spec["families"]
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = materialize(pages, Path(tmp))
        local = {"qa": _qa()}
        if args.before:
            local = {f"qa-before ({args.before})": _qa_before(args.before), **local}
        # qa and qa-before alternate run by run, so a change of load hits both alike.
        for _ in range(args.runs):
            for name, fn in local.items():
                r = _time_all(fn, files, 1)
                results.setdefault(name, {"texts": r["texts"], "seconds": []})["seconds"] += r["seconds"]
        if args.others_python:
            for name in OTHERS:
                r = subprocess.run(
                    [args.others_python, __file__, "--worker", name, tmp, str(args.runs)],
                    capture_output=True,
                    text=True,
                )
                if r.returncode:
                    print(f"{name}: failed: {r.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                    continue
                results[name] = json.loads(r.stdout)
    load_after = os.getloadavg()

    report: dict[str, Any] = {
        "machine": describe(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "runs": args.runs,
        "pages": [p["name"] for p in pages],
        "extractors": {},
    }
    for name, r in results.items():
        scores = [score(t, p, families[p["family"]]) for t, p in zip(r["texts"], pages, strict=True)]
        codes = [s["code"] for s in scores if s["code"] is not None]
        report["extractors"][name] = {
            "keep": statistics.mean(s["keep"] for s in scores),
            "drop": statistics.mean(s["drop"] for s in scores),
            "code": statistics.mean(codes) if codes else None,
            "pilcrows": sum(t.count("¶") for t in r["texts"]),
            "pages_per_s": len(pages) / statistics.median(r["seconds"]),
            "seconds": r["seconds"],
            "per_page": {p["name"]: s for p, s in zip(pages, scores, strict=True)},
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "html-extract.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    (args.out / "html-extract.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: one summary row per extractor, then what each one missed or left."""
    lines = [
        "# HTML main-content extraction on Debian's generated documentation",
        "",
        f"`python -m bench.html_extract`, {len(report['pages'])} pages ({', '.join(report['pages'])}).",
        f"Machine: {report['machine']}; load average before {report['load_average_before'][0]:.2f}, "
        f"after {report['load_average_after'][0]:.2f}. Speed: pages/s over all pages, median of {report['runs']} runs.",
        "",
        "kept: share of the sentences checked by eye that are in the text; dropped: share of the navigation"
        " checked by eye that is gone; code: share of code examples whose lines stay lines; ¶: permalink marks left.",
        "",
        "| extractor | kept | dropped | code | ¶ | pages/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, e in report["extractors"].items():
        code = f"{e['code']:.2f}" if e["code"] is not None else "-"
        lines.append(
            f"| {name} | {e['keep']:.2f} | {e['drop']:.2f} | {code} | {e['pilcrows']} | {e['pages_per_s']:.1f} |"
        )
    for name, e in report["extractors"].items():
        lines += ["", f"## {name}", ""]
        for page, s in e["per_page"].items():
            if s["missed"] or s["left"]:
                missed = "; ".join(f"`{m[:60]}`" for m in s["missed"]) or "-"
                left = "; ".join(f"`{m[:40]}`" for m in s["left"]) or "-"
                lines.append(f"- {page}: missed {missed}; left {left}")
        if not any(s["missed"] or s["left"] for s in e["per_page"].values()):
            lines.append("- every check passed")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
