"""`python -m evals.arabic_normalization`: Lucene's Arabic orthographic normalization before Snowball's stemmer.

Arabic IR usually folds spelling variants before stemming (Lucene's ``ArabicNormalizationFilter``):
alef with madda or hamza above or below (آ أ إ) -> alef (ا), teh marbuta (ة) -> heh (ه), alef
maksura (ى) -> yeh (ي), tatweel (ـ) and the harakat (fathatan to sukun) removed. ``QA_LANGUAGE=ar``
stems with tantivy's Snowball Arabic stemmer, which does much of this itself. This measures, on
XQuAD Arabic (``../shared/datasets/xquad/ar/``):

- which spelling pairs each analysis makes one term (a fixed list of textbook variants, written for
  this eval, not taken from XQuAD);
- BM25 alone, each paragraph one document (``evals.cjk_segmentation.measure``), for qa's analysis
  (Snowball alone), Lucene's normalization before it, and each of its parts before it;
- how often each folded character occurs in the paragraphs.

Each variant is qa's ``ar`` analysis with the folding applied to its words (``Analyser(split=...)``),
the same on the index and the query. Writes ``report.json`` and ``report.md`` to ``--out``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from evals.cjk_segmentation import measure
from evals.report import run_info, run_line, table, write_report
from qa.language import Analyser, words

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad" / "ar"
ALEFS = {"\u0622": "\u0627", "\u0623": "\u0627", "\u0625": "\u0627"}
MARKS = dict.fromkeys("\u0640\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652")  # tatweel, harakat
MAKSURA = {"\u0649": "\u064a"}
MARBUTA = {"\u0629": "\u0647"}
# Lucene's ArabicNormalizer, in full, and its parts.
FOLDS: dict[str, dict[str, str | None]] = {
    "snowball (qa)": {},
    "lucene: all": ALEFS | MARKS | MAKSURA | MARBUTA,
    "alefs, tatweel, harakat": ALEFS | MARKS,
    "alef maksura": MAKSURA,
    "teh marbuta": MARBUTA,
}
# Spelling variants of one word (written for this eval): (variant, plain).
PAIRS = [
    ("أحمد", "احمد"),
    ("إسلام", "اسلام"),
    ("آمن", "امن"),
    ("الأمم", "الامم"),
    ("كتـــاب", "كتاب"),
    ("كِتَابٌ", "كتاب"),
    ("مُدَرِّسَة", "مدرسة"),
    ("مستشفى", "مستشفي"),
    ("مصطفى", "مصطفي"),
    ("على", "علي"),
    ("مدرسة", "مدرسه"),
    ("القاهرة", "القاهره"),
    ("جامعة", "جامعه"),
]

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def analyser(fold: dict[str, str | None]) -> Analyser:
    """qa's ``ar`` analysis with ``fold`` applied to each word before stemming."""
    if not fold:
        return Analyser("ar")
    table = str.maketrans(fold)
    split: Callable[[str], list[str]] = lambda text: [f for w in words(text) if (f := w.translate(table))]  # noqa: E731
    return Analyser("ar", split=split)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@app.command()
def main(
    dataset: Annotated[Path, typer.Option(help="XQuAD's Arabic folder (corpus.jsonl, queries.jsonl).")] = DATASET,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("evals/reports/arabic-normalization"),
) -> None:
    """BM25 alone on XQuAD Arabic: Snowball's stemmer alone, and with Lucene's normalization (or its parts) first."""
    corpus, queries = _read(dataset / "corpus.jsonl"), _read(dataset / "queries.jsonl")
    text = " ".join(d["title"] + " " + d["text"] for d in corpus)
    kinds = {"alefs": ALEFS, "tatweel and harakat": MARKS, "alef maksura": MAKSURA, "teh marbuta": MARBUTA}
    counts = {name: sum(text.count(c) for c in chars) for name, chars in kinds.items()}
    rows = []
    for name, fold in FOLDS.items():
        a = analyser(fold)
        r = measure(name, a, corpus, queries)
        r["pairs"] = [
            {"variant": x, "plain": y, "terms": [" ".join(sorted(a.terms(x))), " ".join(sorted(a.terms(y)))]}
            for x, y in PAIRS
        ]
        r["pairs_one_term"] = sum(p["terms"][0] == p["terms"][1] for p in r["pairs"])
        rows.append(r)
    report = {
        "dataset": str(dataset),
        **run_info("evals.arabic_normalization", load_average=True),
        "paragraphs": len(corpus),
        "questions": len(queries),
        "characters_folded": counts,
        "results": rows,
    }
    lines = [
        "# XQuAD Arabic: BM25 alone, Snowball's Arabic stemmer with and without Lucene's normalization first",
        "",
        run_line(report),
        f"- {len(corpus)} paragraphs (one document each), {len(queries)} questions; tantivy BM25 (qa's lexical "
        "index), no dense side. See the module docstring of evals/arabic_normalization.py.",
        f"- characters in the paragraphs: {', '.join(f'{k} {v:,}' for k, v in counts.items())}",
        "",
        *table(
            ["folded before stemming", "R@5", "nDCG@10", f"spelling pairs made one term (of {len(PAIRS)})"],
            [[r["analysis"], f"{r['recall@5']:.3f}", f"{r['ndcg@10']:.3f}", r["pairs_one_term"]] for r in rows],
        ),
    ]
    lines += ["", "Terms of each pair (variant / plain):", ""]
    lines += table(
        ["pair", *(r["analysis"] for r in rows)],
        [[f"{x} / {y}", *(" / ".join(r["pairs"][i]["terms"]) for r in rows)] for i, (x, y) in enumerate(PAIRS)],
    )
    write_report(out, report, lines)
    typer.echo("\n".join(lines[6:]))


if __name__ == "__main__":
    app(prog_name="python -m evals.arabic_normalization")
