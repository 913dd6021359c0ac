"""`python -m evals.long_words`: the words the long-word limit drops, counted in bytes (before) and characters (now).

The lexical analysis drops words of ``MAX_TOKEN_CHARS`` (40) or more, meant for hashes and base64.
It was tantivy's ``remove_long``, which counts UTF-8 bytes: a character of Devanagari or Thai is 3
bytes, of Cyrillic, Arabic or Greek 2, so ordinary words of 14 and 20 characters vanished from the
index and from questions. ``qa.language`` now drops them in Python, counted in characters (English
keeps its analysis, bytes and all: its indexes are not rebuilt).

For each XQuAD language but English (``../shared/datasets/xquad/<lang>/``; the same 240 paragraphs
in each), with the language's own analysis (``QA_LANGUAGE``): the words of the paragraphs and
questions, how many each limit drops, and BM25 alone (each paragraph one document,
``evals.cjk_segmentation.measure``) with the limit in bytes (the analysis as it was: its words of
40 bytes or more left out, exactly what tantivy dropped) and in characters (as it is). Writes
``report.json`` and ``report.md`` to ``--out``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from evals.cjk_segmentation import measure
from evals.report import run_info, run_line, table, write_report
from qa.language import MAX_TOKEN_CHARS, Analyser

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad"
LANGS = ("hi", "ar", "ru", "zh", "de", "es")

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def in_bytes(code: str) -> Analyser:
    """``code``'s analysis with the limit in UTF-8 bytes, as tantivy's ``remove_long`` applied it."""
    own = Analyser(code)
    return Analyser(code, split=lambda text: [w for w in own.split(text) if len(w.encode()) < MAX_TOKEN_CHARS])


def dropped(analyser: Analyser, texts: list[str]) -> dict[str, Any]:
    """How many of the words of ``texts`` each limit drops, and the commonest words only bytes drop."""
    counts = Counter(w for t in texts for w in analyser.split(t))
    by_bytes = {w: n for w, n in counts.items() if len(w.encode()) >= MAX_TOKEN_CHARS}
    by_chars = {w: n for w, n in counts.items() if len(w) >= MAX_TOKEN_CHARS}
    regained = Counter({w: n for w, n in by_bytes.items() if w not in by_chars})
    return {
        "words": sum(counts.values()),
        "dropped_bytes": sum(by_bytes.values()),
        "dropped_chars": sum(by_chars.values()),
        "distinct_dropped_bytes": len(by_bytes),
        "distinct_dropped_chars": len(by_chars),
        "examples_now_kept": [f"{w} ({len(w)} chars, {len(w.encode())} bytes)" for w, _ in regained.most_common(3)],
    }


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@app.command()
def main(
    datasets: Annotated[Path, typer.Option(help="XQuAD directory, one folder per language.")] = DATASETS,
    langs: Annotated[str, typer.Option(help="Languages, comma-separated.")] = ",".join(LANGS),
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("evals/reports/long-words"),
) -> None:
    """Words dropped as too long, in bytes and in characters, and BM25 alone both ways (evals/README.md)."""
    rows = []
    for code in [c.strip() for c in langs.split(",") if c.strip()]:
        corpus, queries = _read(datasets / code / "corpus.jsonl"), _read(datasets / code / "queries.jsonl")
        analyser = Analyser(code)
        row: dict[str, Any] = {"language": code, "paragraphs": len(corpus), "questions": len(queries)}
        row["corpus"] = dropped(analyser, [d["title"] + " " + d["text"] for d in corpus])
        row["questions_words"] = dropped(analyser, [q["question"] for q in queries])
        row["bm25_bytes"] = measure("bytes", in_bytes(code), corpus, queries)
        row["bm25_chars"] = measure("chars", analyser, corpus, queries)
        rows.append(row)
        typer.echo(f"{code}: {row['corpus']['dropped_bytes']} -> {row['corpus']['dropped_chars']} words dropped")
    report = {**run_info("evals.long_words", load_average=True), "max_token_chars": MAX_TOKEN_CHARS, "results": rows}
    columns = ["language", "corpus words", "dropped: bytes", "dropped: chars", "question words", "dropped: bytes"]
    columns += ["dropped: chars", "BM25 R@5 bytes", "chars", "nDCG@10 bytes", "chars", "commonest words now kept"]
    cells = []
    for r in rows:
        c, q, b, n = r["corpus"], r["questions_words"], r["bm25_bytes"], r["bm25_chars"]
        cells.append(
            [r["language"], f"{c['words']:,}", f"{c['dropped_bytes']} ({c['distinct_dropped_bytes']} distinct)"]
            + [c["dropped_chars"], f"{q['words']:,}", q["dropped_bytes"], q["dropped_chars"]]
            + [f"{b['recall@5']:.3f}", f"{n['recall@5']:.3f}", f"{b['ndcg@10']:.3f}", f"{n['ndcg@10']:.3f}"]
            + ["; ".join(c["examples_now_kept"])]
        )
    lines = [
        f"# XQuAD: words dropped as too long ({MAX_TOKEN_CHARS} or more), in UTF-8 bytes (before) and characters (now)",
        "",
        run_line(report),
        "- each language's own analysis (`QA_LANGUAGE`); words of paragraphs (title and text) and of questions; "
        "BM25 alone, each paragraph one document (see the module docstring of evals/long_words.py).",
        "",
        *table(columns, cells),
    ]
    write_report(out, report, lines)
    typer.echo("\n".join(lines[5:]))


if __name__ == "__main__":
    app(prog_name="python -m evals.long_words")
