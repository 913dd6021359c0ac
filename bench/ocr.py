"""OCR engines on scanned pages made here: character accuracy, word recall and seconds per page.

Real pages of Debian's manuals (the gnuplot manual, LaTeX's class and user guides, a two-column
LaTeX News page) are rendered to greyscale bitmaps with PDFium, as a scanner would see them:
``clean-300`` (300 dpi), ``clean-200`` (200 dpi) and ``scan-300`` (300 dpi turned by 0.8
degrees, blurred, with grain, saved as a JPEG of quality 50, like a photocopy scanned to JPEG).
Each engine reads each bitmap; what it reads is compared with the page's own text layer (the
truth), both with ligatures resolved and every run of white space made one space:

- character accuracy: 1 - (edit distance / characters of the truth), floored at 0; a reading
  order that differs from the text layer's (two columns read across) costs here too;
- word recall: share of the truth's words (as a multiset) found in what the engine read;
- seconds per page: the median over the pages of one call on one bitmap, the engine loaded
  (its load time is reported apart).

The engines: Debian's tesseract (5.3, ``tesseract-ocr-eng``'s fast English model) through
pytesseract, one process per page on one thread (``OMP_THREAD_LIMIT=1``, as qa runs it);
tesserocr (the same engine as a library, 5.5 from its wheel, Debian's model); and rapidocr
(PP-OCRv4 ONNX models shipped in the ``rapidocr-onnxruntime`` wheel, run by onnxruntime). An
engine that is not installed is reported as such. ``pip install -e '.[bench-ocr]'`` adds the
two that are not qa's.

Then qa itself, end to end: the six pages as one image-only PDF (their 200 dpi bitmaps, as a
scanner writes them) parsed the way ``qa index`` and uploads parse a file (a worker process with
the default limits; each page rendered at 300 dpi, read by tesseract on one thread, the pages
cleaned by ``qa.parse.pdfclean``): OCR pages/s, and the character accuracy of the stored text
against what the same pipeline stores from the pages' text layers.

    python -m bench.ocr                     # every engine and variant, and qa's pipeline
    python -m bench.ocr --engines tesseract --variants clean-300
    python -m bench.ocr --engines rapidocr --update   # keep the other engines' rows from the last run

qa's pipeline is measured where qa imports (its own virtualenv); ``--update`` keeps the rows of
what this run does not measure from the last report.

Writes bench/results/ocr.json and bench/results/ocr.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import re
import statistics
import subprocess
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe, load_avg

OUT = Path(__file__).parent / "results"
LATEX = Path("/usr/share/doc/texlive-doc/latex/base")
# (file, 0-based page): prose, prose with code, a list of options, a two-column page.
PAGES = [
    (Path("/usr/share/doc/gnuplot/gnuplot.pdf"), 20),
    (Path("/usr/share/doc/gnuplot/gnuplot.pdf"), 60),
    (Path("/usr/share/doc/gnuplot/gnuplot.pdf"), 150),
    (LATEX / "clsguide.pdf", 2),
    (LATEX / "usrguide.pdf", 1),
    (LATEX / "ltnews.pdf", 20),
]
VARIANTS = ("clean-300", "clean-200", "scan-300")
ENGINES = ("tesseract", "tesserocr", "rapidocr")
TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
# The Debian packages tesseract needs (dpkg's Installed-Size of each) and the Python ones of each engine.
APT = {
    "tesseract": ["tesseract-ocr", "libtesseract5", "liblept5", "tesseract-ocr-eng"],
    "tesserocr": ["tesseract-ocr-eng"],
}
PIP = {
    "tesseract": ["pytesseract"],
    "tesserocr": ["tesserocr"],
    "rapidocr": ["rapidocr-onnxruntime", "opencv-python", "shapely", "pyclipper", "pyyaml", "six", "tqdm"],
}
SPACE = re.compile(r"\s+")
WORD = re.compile(r"\w+")


# -- pages --------------------------------------------------------------------------------------


def render(path: Path, index: int, dpi: int) -> tuple[Any, str]:
    """The page as a greyscale PIL image at ``dpi``, and its text layer."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    try:
        page = doc[index]
        image = page.render(scale=dpi / 72, grayscale=True).to_pil()
        textpage = page.get_textpage()
        truth = textpage.get_text_range()
        textpage.close()
        page.close()
    finally:
        doc.close()
    return image, truth


def scanned(image: Any, seed: int) -> Any:
    """``image`` as a cheap scan: turned 0.8 degrees, softened, grainy, a JPEG of quality 50."""
    from PIL import Image, ImageFilter

    turned = image.rotate(0.8, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    soft = turned.filter(ImageFilter.GaussianBlur(0.7))
    pixels = np.asarray(soft, dtype=np.float32)
    grain = np.random.default_rng(seed).normal(0, 14, pixels.shape)
    noisy = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    noisy.save(buf, "JPEG", quality=50)
    buf.seek(0)
    return Image.open(buf).convert("L")


def variant_image(path: Path, index: int, variant: str) -> tuple[Any, str]:
    kind, dpi = variant.split("-")
    image, truth = render(path, index, int(dpi))
    if kind == "scan":
        image = scanned(image, seed=index)
    return image, truth


# -- scoring ------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Ligatures resolved (NFKC), PDFium's line-end hyphen mark a hyphen, white space one space."""
    text = unicodedata.normalize("NFKC", text.replace("\ufffe", "-"))
    text = "".join(c for c in text if c.isprintable() or c.isspace())
    return SPACE.sub(" ", text).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row at a time.

    A row's insertions depend on the cell before; ``row[j] = min_k<=j (tmp[k] + j - k)`` is a
    running minimum of ``tmp - arange`` plus ``arange``, so each row is a few vector operations.
    Written here: no edit-distance library is among our dependencies, and this is 20 lines.
    """
    if not a or not b:
        return max(len(a), len(b))
    bv = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    cols = np.arange(len(b) + 1, dtype=np.int64)
    prev = cols.copy()
    av = np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32)
    for i in range(1, len(av) + 1):
        sub = prev[:-1] + (bv != av[i - 1])
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, sub)
        prev = np.minimum.accumulate(tmp - cols) + cols
    return int(prev[-1])


def score(read: str, truth: str) -> dict[str, float]:
    read_n, truth_n = normalize(read), normalize(truth)
    dist = edit_distance(read_n, truth_n)
    truth_words = Counter(w.lower() for w in WORD.findall(truth_n))
    read_words = Counter(w.lower() for w in WORD.findall(read_n))
    found = sum((truth_words & read_words).values())
    return {
        "char_accuracy": max(0.0, 1 - dist / max(1, len(truth_n))),
        "word_recall": found / max(1, sum(truth_words.values())),
        "truth_chars": len(truth_n),
    }


# -- engines ------------------------------------------------------------------------------------


def tesseract_engine() -> Callable[[Any], str]:
    import pytesseract

    # One thread per page: on a busy 2-core machine tesseract's OpenMP threads spin against each
    # other (3.4 s a page on one thread, 15 s on two at load average 8, measured here).
    os.environ["OMP_THREAD_LIMIT"] = "1"
    pytesseract.get_tesseract_version()  # fails here if the binary is missing

    def read(image: Any) -> str:
        return str(pytesseract.image_to_string(image, lang="eng"))

    return read


def tesserocr_engine() -> Callable[[Any], str]:
    import tesserocr

    api = tesserocr.PyTessBaseAPI(path=str(TESSDATA) + "/", lang="eng")

    def read(image: Any) -> str:
        api.SetImage(image)
        return str(api.GetUTF8Text())

    return read


def rapidocr_engine() -> Callable[[Any], str]:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def read(image: Any) -> str:
        result, _ = engine(np.asarray(image.convert("RGB")))
        # One entry per text line found, top to bottom and left to right.
        return "\n".join(str(r[1]) for r in result or [])

    return read


LOADERS: dict[str, Callable[[], Callable[[Any], str]]] = {
    "tesseract": tesseract_engine,
    "tesserocr": tesserocr_engine,
    "rapidocr": rapidocr_engine,
}


def engine_version(name: str) -> str:
    try:
        if name == "tesseract":
            out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=True).stdout
            return f"tesseract {out.split()[1]} (Debian), pytesseract {importlib.metadata.version('pytesseract')}"
        if name == "tesserocr":
            import tesserocr

            return f"tesserocr {importlib.metadata.version('tesserocr')} ({tesserocr.tesseract_version().split()[1]})"
        return f"rapidocr-onnxruntime {importlib.metadata.version('rapidocr-onnxruntime')}, onnxruntime " + (
            importlib.metadata.version("onnxruntime")
        )
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return f"unavailable ({type(e).__name__})"


def install_cost(name: str) -> dict[str, Any]:
    """What the engine adds: MB of Debian packages (Installed-Size) and of Python distributions."""
    apt_kb = 0
    for pkg in APT.get(name, []):
        out = subprocess.run(["dpkg-query", "-W", "-f=${Installed-Size}", pkg], capture_output=True, text=True)
        apt_kb += int(out.stdout or 0)
    pip_bytes = 0
    for dist in PIP[name]:
        try:
            files = importlib.metadata.distribution(dist).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for f in files:
            try:
                pip_bytes += os.path.getsize(f.locate())
            except OSError:
                pass
    return {"apt_mb": round(apt_kb / 1024, 1), "pip_mb": round(pip_bytes / 1e6, 1), "apt": APT.get(name, [])}


# -- the run ------------------------------------------------------------------------------------


def available_pages() -> list[tuple[Path, int]]:
    return [(p, i) for p, i in PAGES if p.exists()]


def run(engines: list[str], variants: list[str]) -> dict[str, Any]:
    pages = available_pages()
    results: dict[str, Any] = {}
    images = {(str(p), i, v): variant_image(p, i, v) for p, i in pages for v in variants}
    for name in engines:
        row: dict[str, Any] = {"version": engine_version(name), "install": install_cost(name)}
        try:
            t0 = time.perf_counter()
            read = LOADERS[name]()
            row["load_s"] = round(time.perf_counter() - t0, 2)
        except Exception as e:  # noqa: BLE001 - an engine that is not installed is a result
            row["error"] = f"{type(e).__name__}: {e}"
            results[name] = row
            print(f"{name}: {row['error']}", flush=True)
            continue
        for variant in variants:
            per_page = []
            for path, index in pages:
                image, truth = images[(str(path), index, variant)]
                t0 = time.perf_counter()
                text = read(image)
                seconds = time.perf_counter() - t0
                s = score(text, truth)
                per_page.append({"page": f"{path.name}:{index + 1}", "seconds": round(seconds, 2), **s})
                print(
                    f"{name} {variant} {path.name}:{index + 1} {seconds:.2f}s acc {s['char_accuracy']:.3f}", flush=True
                )
            secs = [p["seconds"] for p in per_page]
            row[variant] = {
                "char_accuracy": round(statistics.mean(p["char_accuracy"] for p in per_page), 4),
                "word_recall": round(statistics.mean(p["word_recall"] for p in per_page), 4),
                "median_s_per_page": round(statistics.median(secs), 2),
                "pages_per_s": round(len(secs) / sum(secs), 3),
                "load_average": load_avg(),
                "pages": per_page,
            }
        results[name] = row
    return {"pages": [f"{p}:{i + 1}" for p, i in pages], "engines": results}


def qa_pipeline(pages: list[tuple[Path, int]]) -> dict[str, Any]:
    """qa's own reading of a scanned PDF of ``pages`` (see the module docstring)."""
    from PIL import Image

    from qa.parse.pdfclean import clean_pages
    from qa.parse.worker import ParseLimits, parse_limited

    rendered = [render(p, i, 200) for p, i in pages]
    images: list[Image.Image] = [image for image, _ in rendered]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=200)
    data = buf.getvalue()
    limits = ParseLimits()
    parse_limited(b"warm up the worker", "warm.txt", limits)
    t0 = time.perf_counter()
    doc = parse_limited(data, "scan.pdf", limits)[0]
    seconds = time.perf_counter() - t0
    truth = clean_pages([text for _, text in rendered]).text
    s = score(doc.text, truth)
    return {
        "pages": len(pages),
        "seconds": round(seconds, 2),
        "pages_per_s": round(len(pages) / seconds, 3),
        "char_accuracy": round(s["char_accuracy"], 4),
        "word_recall": round(s["word_recall"], 4),
        "ocr_pages": doc.metadata.get("ocr_pages"),
        "load_average": load_avg(),
    }


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "ocr.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# OCR engines on rendered pages",
        "",
        f"Machine: {report['machine']}. Load average before {report['load_average_before']}, "
        f"after {report['load_average_after']} (a shared machine: seconds are upper bounds).",
        "",
        "Pages (rendered here with PDFium, truth = the page's text layer): "
        + ", ".join(f"`{Path(p).name}`" for p in report["pages"])
        + ". Command: `"
        + report["command"]
        + "`.",
        "",
        "| engine | variant | char accuracy | word recall | s/page (median) | pages/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["engines"].items():
        if "error" in row:
            lines.append(f"| {name} | - | not available: {row['error']} | | | |")
            continue
        for variant in report["variants"]:
            v = row.get(variant)
            if v:
                lines.append(
                    f"| {name} | {variant} | {v['char_accuracy']:.3f} | {v['word_recall']:.3f} | "
                    f"{v['median_s_per_page']:.2f} | {v['pages_per_s']:.2f} |"
                )
    qa = report.get("qa")
    if qa:
        lines += [
            "",
            f"qa end to end (`qa.parse.worker.parse_limited`, default limits, tesseract on one thread): an "
            f"image-only PDF of the {qa['pages']} pages at 200 dpi read in {qa['seconds']} s, "
            f"**{qa['pages_per_s']:.2f} OCR pages/s** on one core; the stored text against what qa stores from "
            f"the pages' text layers: character accuracy {qa['char_accuracy']:.3f}, word recall "
            f"{qa['word_recall']:.3f} (load average {qa['load_average']}).",
        ]
    elif "qa_error" in report:
        lines += ["", f"qa end to end: not measured ({report['qa_error']})."]
    lines += [
        "",
        "| engine | version | load s | Debian packages (MB installed) | Python packages (MB) |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["engines"].items():
        inst = row["install"]
        apt = f"{', '.join(inst['apt'])} ({inst['apt_mb']})" if inst["apt"] else "none"
        lines.append(f"| {name} | {row['version']} | {row.get('load_s', '-')} | {apt} | {inst['pip_mb']} |")
    for name, row in report["engines"].items():
        if row.get("earlier_run"):
            loads = [row[v]["load_average"] for v in report["variants"] if v in row]
            lines += ["", f"The {name} rows are from an earlier run (`--update`), at load average {loads}."]
    lines += [
        "",
        "Threads: tesseract one per page (`OMP_THREAD_LIMIT=1`, as qa runs it), tesserocr its build's default, "
        "rapidocr onnxruntime's default (every core). rapidocr returns text lines top to bottom: on the "
        "two-column page it interleaves the columns, and elsewhere it drops spaces between words and misses "
        "stretches of long lines (up to 220 characters in one piece on gnuplot.pdf:21, clean-300).",
    ]
    lines += ["", "Per page (char accuracy, seconds):", ""]
    for name, row in report["engines"].items():
        for variant in report["variants"]:
            v = row.get(variant)
            if v:
                cells = ", ".join(f"{p['page']} {p['char_accuracy']:.3f} {p['seconds']:.1f}s" for p in v["pages"])
                lines.append(f"- {name} {variant}: {cells}")
    (out / "ocr.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--update", action="store_true", help="keep what this run does not measure from the last report"
    )
    parser.add_argument("--no-qa", action="store_true", help="do not measure qa's own pipeline")
    args = parser.parse_args()
    previous: dict[str, Any] = {}
    if args.update and (args.out / "ocr.json").exists():
        previous = json.loads((args.out / "ocr.json").read_text())
    report: dict[str, Any] = {
        "machine": describe(),
        "load_average_before": load_avg(),
        "variants": args.variants,
        "command": "python -m bench.ocr"
        + (f" --engines {' '.join(args.engines)}" if args.engines != list(ENGINES) else "")
        + (f" --variants {' '.join(args.variants)}" if args.variants != list(VARIANTS) else "")
        + (" --update" if args.update else "")
        + (" --no-qa" if args.no_qa else ""),
    }
    report.update(run(args.engines, args.variants))
    for name, row in previous.get("engines", {}).items():
        if name not in args.engines:
            report["engines"][name] = {**row, "earlier_run": True}
    if not args.no_qa:
        try:
            report["qa"] = qa_pipeline(available_pages())
        except ImportError as e:
            report["qa_error"] = f"qa does not import here: {e}"
    if "qa" not in report and "qa" in previous:
        report["qa"] = previous["qa"]
    report["load_average_after"] = load_avg()
    write_report(report, args.out)
    print((args.out / "ocr.md").read_text())


if __name__ == "__main__":
    main()
