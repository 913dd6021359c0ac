"""PDF text extraction: pypdf, pypdfium2 and pdfplumber on real PDFs, speed and quality, raw and cleaned.

Real documentation PDFs from Debian's packages (``apt-get install texlive-latex-base-doc
gnuplot-doc``): the gnuplot manual (311 pages, one column, running heads), LaTeX News (85
pages, two columns), and LaTeX's class, font and user guides (TOCs with dot leaders, footnotes,
TeX hyphenation). For each library: pages/s (median of ``--runs``, whole file each run), and
what its text needs from ``qa.parse.pdfclean``: ligature glyphs, broken characters (U+FFFD,
private use, control codes), words hyphenated at line ends, TOC dot-leader lines, words run
together (a token of 20+ letters: missing spaces), and probe phrases that span line breaks
(found only when the reading order and the spaces are right). Quality is counted on the raw
page texts and again after ``clean_pages``.

``--ingest FILE --before CHECKOUT`` also times the whole ingestion of one PDF (parse, chunk,
embed, write) with this checkout and another, interleaved, ``--runs`` each, in fresh processes.

    python -m bench.pdf_extract --runs 3
    python -m bench.pdf_extract --runs 3 --ingest /usr/share/doc/gnuplot/gnuplot.pdf --before /work/main

Writes bench/results/pdf-extract.json and bench/results/pdf-extract.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.machine import describe, load_avg
from qa.parse.pdfclean import clean_pages

OUT = Path(__file__).parent / "results"
LATEX = Path("/usr/share/doc/texlive-doc/latex")
FILES = [
    Path("/usr/share/doc/gnuplot/gnuplot.pdf"),
    LATEX / "base/ltnews.pdf",
    LATEX / "base/clsguide.pdf",
    LATEX / "base/usrguide.pdf",
    LATEX / "base/fntguide.pdf",
    LATEX / "amsmath/amsldoc.pdf",
]
# Phrases that run over a line break in the PDF, compared on lowercase letters and digits only:
# found when the words come in reading order, with their spaces, and hyphenated words joined.
PROBES = {
    "gnuplot.pdf": [
        "it is important to note that if the program recognizes that a field is truly missing",
        "can also be plotted by name in splot commands with plot styles dots points or isosurface",
        "this is useful when the name of the variable is itself held in a string variable",
    ],
    "ltnews.pdf": [
        "accompanies the fifth release of the new standard",
        "the inputenc package now supports the ibm codepage 852 used in eastern europe",
        "previously the use of the nofiles command could change the vertical spacing in a document",
    ],
    "clsguide.pdf": [
        "is in the commands used to write packages and classes",
        "enables the document writer to concentrate on the contents of their text",
        "this very large document also includes an index",
    ],
}

LIGATURE = re.compile("[\ufb00-\ufb06]")
BROKEN = re.compile("[\ufffd\ufffe\ue000-\uf8ff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
LINE_HYPHEN = re.compile(r"[^\W\d_][-\u00ad\ufffe]\r?\n?[a-z]")
LEFT_HYPHEN = re.compile(r"[^\W\d_]-\s+[a-z]")  # a hyphen break left in cleaned text
LEADER = re.compile(r"(?:\.\s?){3,}\s*(?:\d+|[ivxlc]+)\s*$", re.MULTILINE)
WORD = re.compile(r"[^\W\d_]+")


def pypdf_pages(data: bytes) -> list[str]:
    import pypdf

    return [p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(data)).pages]


def pdfium_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        out = []
        for i in range(len(doc)):
            page = doc[i]
            tp = page.get_textpage()
            out.append(tp.get_text_range())
            tp.close()
            page.close()
        return out
    finally:
        doc.close()


def pdfplumber_pages(data: bytes) -> list[str]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


LIBRARIES: dict[str, Callable[[bytes], list[str]]] = {
    "pypdf": pypdf_pages,
    "pypdfium2": pdfium_pages,
    "pdfplumber": pdfplumber_pages,
}


NOTES = [
    "## Choice: pypdfium2",
    "",
    "- Speed: PDFium reads these manuals one to two orders of magnitude faster than the pure-Python"
    " readers (see pages/s), so a 300-page manual parses in well under a second instead of seconds"
    " (pypdf) or a minute (pdfplumber).",
    "- Reading order: pypdf and PDFium follow the content stream, which TeX writes column by column, so"
    " LaTeX News' two-column pages come out in order (its probes are found); pdfplumber's default"
    " `extract_text` sorts lines by position across both columns and interleaves them (0 probes).",
    "- Spaces: pdfplumber drops the spaces of tightly justified lines (words run together, several times"
    " the others' rate); PDFium and pypdf keep them (the rest of that column is long TeX macro names).",
    "- Hyphens: PDFium marks a line-end hyphen it joined (U+FFFE), which `pdfclean` decides like any"
    " other; ligatures come out as letters from all three on these files (their fonts map them), and"
    " `pdfclean` resolves them where a PDF does not.",
    "- Licence and install: pypdfium2 is Apache-2.0/BSD-3-Clause, PDFium BSD-3-Clause, with prebuilt"
    " wheels (no compiler). pymupdf (AGPL-3.0) is out for an MIT project. PDFium is native code, so"
    " parsing stays in the killable, memory-capped parse workers (QA_PARSE_TIMEOUT, QA_PARSE_MEMORY_MB).",
]

LIBRARY_MODULE = {"pypdf": "pypdf", "pypdfium2": "pypdfium2", "pdfplumber": "pdfplumber"}


def version(lib: str) -> str:
    from importlib.metadata import version as v

    return v(lib)


def squash(text: str) -> str:
    """Lowercase letters and digits with single spaces: what probes are compared on."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("\ufffe", "").replace("\u00ad", "")))


def quality(text: str, name: str, cleaned: bool) -> dict[str, Any]:
    words = WORD.findall(text)
    probes = PROBES.get(name, [])
    flat = squash(text)
    return {
        "ligatures": len(LIGATURE.findall(text)),
        "broken_chars": len(BROKEN.findall(text.replace("\ufffe", "") if not cleaned else text)),
        "hyphen_breaks": len((LEFT_HYPHEN if cleaned else LINE_HYPHEN).findall(text)),
        "toc_leader_lines": len(LEADER.findall(text)),
        "glued_per_10k_words": round(10_000 * sum(len(w) >= 20 for w in words) / max(1, len(words)), 1),
        "probes_found": f"{sum(p in flat for p in probes)}/{len(probes)}" if probes else "",
    }


def measure(path: Path, lib: str, runs: int) -> dict[str, Any]:
    data = path.read_bytes()
    extract = LIBRARIES[lib]
    times, pages = [], []
    for _ in range(runs):
        t = time.perf_counter()
        pages = extract(data)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    cleaned = clean_pages(pages)
    clean_s = time.perf_counter() - t
    raw = "\n".join(pages)
    return {
        "file": path.name,
        "library": lib,
        "pages": len(pages),
        "seconds_runs": [round(x, 3) for x in times],
        "pages_per_s": round(len(pages) / statistics.median(times), 1),
        "clean_pages_per_s": round(len(pages) / max(clean_s, 1e-9), 1),
        "raw": quality(raw, path.name, cleaned=False),
        "cleaned": quality(cleaned.text, path.name, cleaned=True),
        "load_average": load_avg(),
    }


INGEST = r"""
import json, sys, tempfile, time
from pathlib import Path
from qa.config import Settings
from qa.parse import parse_bytes
from qa.service import QAService
path = Path(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    svc = QAService(Settings(index_dir=tmp, index_name="bench"))
    svc.warm()
    data = path.read_bytes()
    t0 = time.perf_counter()
    docs = parse_bytes(data, path.name)
    t1 = time.perf_counter()
    res = svc.add_documents(docs)
    t2 = time.perf_counter()
    print(json.dumps({"parse_s": t1 - t0, "ingest_s": t2 - t1, "total_s": t2 - t0,
                      "chars": sum(len(d.text) for d in docs), "chunks": sum(r.chunks for r in res)}))
    svc.close()
"""


def ingest_runs(path: Path, checkouts: dict[str, Path], runs: int) -> dict[str, Any]:
    """Parse + ingest ``path`` with each checkout in a fresh process, interleaved, ``runs`` each."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in checkouts}
    env = dict(os.environ)
    env.setdefault("QA_ONNX_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "onnx"))
    for _ in range(runs):
        for name, root in checkouts.items():
            proc = subprocess.run(
                [sys.executable, "-c", INGEST, str(path)],
                env={**env, "PYTHONPATH": str(root)},
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["load_average"] = load_avg()
            out[name].append(row)
    summary: dict[str, Any] = {"file": str(path), "runs": runs, "checkouts": {k: str(v) for k, v in checkouts.items()}}
    for name, rows in out.items():
        summary[name] = {
            "runs": rows,
            **{
                f"{key}_median": round(statistics.median(r[key] for r in rows), 2)
                for key in ("parse_s", "ingest_s", "total_s")
            },
            "chars": rows[0]["chars"],
            "chunks": rows[0]["chunks"],
        }
    return summary


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pdf-extract.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# PDF text extraction: pypdf, pypdfium2, pdfplumber",
        "",
        f"`python -m bench.pdf_extract --runs {report['runs']}`, {report['date']}; {report['machine']}; "
        f"load average {' '.join(map(str, report['load_average_before']))} before, "
        f"{' '.join(map(str, report['load_average_after']))} after.",
        "",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ". pymupdf is not measured:"
        " it is AGPL-3.0 (or commercial), which this MIT project cannot ship as a dependency.",
        "",
        "pages/s: whole file, median of the runs. Quality is counted on the extractor's page texts (raw) and"
        " after `qa.parse.pdfclean.clean_pages` (cleaned): ligature glyphs (ﬁ ﬂ ...); broken characters"
        " (U+FFFD, private use, C0 and C1 control codes); hyphen breaks (raw: a word hyphenated at a line end; cleaned:"
        " a hyphen still followed by a space and a lowercase word); TOC dot-leader lines; words run together"
        " (tokens of 20+ letters per 10,000 words: missing spaces); probe phrases that run over line breaks"
        " (found only with the right reading order, spaces and hyphenation).",
        "",
        "| file | pages | library | pages/s | clean pages/s | ligatures | broken chars | hyphen breaks raw → cleaned"
        " | TOC leader lines raw → cleaned | glued /10k words raw → cleaned | probes raw → cleaned |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        raw, cl = r["raw"], r["cleaned"]
        lines.append(
            f"| {r['file']} | {r['pages']} | {r['library']} | {r['pages_per_s']} | {r['clean_pages_per_s']} "
            f"| {raw['ligatures']} → {cl['ligatures']} | {raw['broken_chars']} → {cl['broken_chars']} "
            f"| {raw['hyphen_breaks']} → {cl['hyphen_breaks']} | {raw['toc_leader_lines']} → {cl['toc_leader_lines']} "
            f"| {raw['glued_per_10k_words']} → {cl['glued_per_10k_words']} "
            f"| {raw['probes_found'] or '-'} → {cl['probes_found'] or '-'} |"
        )
    for note in report.get("missing", []):
        lines.append(f"\nNot found (skipped): {note}")
    if report.get("notes"):
        lines += ["", *report["notes"]]
    ing = report.get("ingest")
    if ing:
        lines += [
            "",
            f"## Ingesting {Path(ing['file']).name} ({ing['runs']} interleaved runs per checkout, fresh processes)",
            "",
            *([note[:1].upper() + note[1:] + ".", ""] if (note := report.get("ingest_note")) else []),
            "| checkout | parse s | parse + chunk + embed + write s | of which ingest s | chars | chunks |",
            "|---|---|---|---|---|---|",
        ]
        for name in ing["checkouts"]:
            row = ing[name]
            lines.append(
                f"| {name} ({ing['checkouts'][name]}) | {row['parse_s_median']} | {row['total_s_median']} "
                f"| {row['ingest_s_median']} | {row['chars']:,} | {row['chunks']:,} |"
            )
        loads = [r["load_average"][0] for name in ing["checkouts"] for r in ing[name]["runs"]]
        lines.append(f"\nLoad average (1 min) after each run: {', '.join(map(str, loads))}.")
    (out / "pdf-extract.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", nargs="+", type=Path, default=FILES)
    ap.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=list(LIBRARIES))
    ap.add_argument("--ingest", type=Path, help="Also time the ingestion of this PDF (with --before).")
    ap.add_argument("--before", type=Path, help="Another checkout of qa to compare ingestion with.")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    missing_libs = [lib for lib in args.libraries if importlib.util.find_spec(LIBRARY_MODULE[lib]) is None]
    args.libraries = [lib for lib in args.libraries if lib not in missing_libs]
    report: dict[str, Any] = {
        "runs": args.runs,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": describe(),
        "versions": {lib: version(lib) for lib in args.libraries},
        "load_average_before": load_avg(),
        "results": [],
        "missing": [f"{lib} (not installed: pip install -e '.[bench-pdf]')" for lib in missing_libs],
    }
    for path in args.files:
        if not path.exists():
            report["missing"].append(str(path))
            continue
        for lib in args.libraries:
            row = measure(path, lib, args.runs)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            report["results"].append(row)
    if args.ingest:
        checkouts = {"this": Path(__file__).resolve().parents[1]}
        if args.before:
            checkouts = {"before": args.before.resolve(), **checkouts}
        with tempfile.TemporaryDirectory():
            report["ingest"] = ingest_runs(args.ingest, checkouts, args.runs)
    report["notes"] = NOTES
    report["load_average_after"] = load_avg()
    write_report(report, args.out)
    print(f"wrote {args.out / 'pdf-extract.md'}")


if __name__ == "__main__":
    main()
