"""`python -m evals.hindi_stemming`: BM25 alone on XQuAD Hindi, with and without Snowball's Hindi stemmer.

tantivy ships no Hindi stemmer; Snowball has one (the light suffix stripper of Ramanathan and Rao,
2003), which qa runs in Python (``snowballstemmer``) on each word before tantivy sees it, the same on
the index, the query and the answerer's terms (``qa.language``). This measures what it changes, on
the lexical side alone, where it acts:

- ``en``: English's analysis (before languages: "हिन्दी" cut at its virama and vowel signs);
- ``multilingual``: qa's words, no stemming;
- ``hi-unstemmed``: ``QA_LANGUAGE=hi`` as it was before the stemmer (``QA_LEXICAL_STEMMER=none``);
- ``hi``: ``QA_LANGUAGE=hi`` with Snowball's Hindi stemmer.

Each paragraph is one document of a tantivy index built by ``qa.store.embedded.lexical``; every
question is a BM25 query of its terms (``evals.cjk_segmentation.measure``). Also times the stemmer
on the corpus's distinct words, pure Python (``snowballstemmer``) and C (PyStemmer, if installed).
Writes ``report.json`` and ``report.md`` to ``--out``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from evals.cjk_segmentation import measure, results_table
from evals.report import run_info, run_line, table, write_report
from qa.language import Analyser, words

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad" / "hi"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def analysers() -> dict[str, Analyser]:
    return {
        "en": Analyser("en"),
        "multilingual": Analyser("multilingual"),
        "hi-unstemmed": Analyser("hi", "none"),
        "hi": Analyser("hi"),
    }


def stemmer_speed(corpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct words stemmed per second (no cache), pure Python and C."""
    distinct = sorted({w for d in corpus for w in words(d["text"])})
    out = []
    from snowballstemmer.hindi_stemmer import HindiStemmer

    engines: list[tuple[str, Any]] = [("snowballstemmer (pure Python)", HindiStemmer())]
    try:
        import Stemmer

        engines.append(("PyStemmer (C)", Stemmer.Stemmer("hindi", 0)))
    except ImportError:
        pass
    for name, stemmer in engines:
        t0 = time.perf_counter()
        stems = [stemmer.stemWord(w) for w in distinct]
        seconds = time.perf_counter() - t0
        out.append(
            {
                "engine": name,
                "distinct_words": len(distinct),
                "distinct_stems": len(set(stems)),
                "words_per_second": round(len(distinct) / seconds),
            }
        )
    return out


@app.command()
def main(
    dataset: Annotated[Path, typer.Option(help="XQuAD's Hindi folder (corpus.jsonl, queries.jsonl).")] = DATASET,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("evals/reports/hindi-stemming"),
) -> None:
    """BM25 alone on XQuAD Hindi: English's analysis, qa's words unstemmed, and Snowball's Hindi stemmer."""
    read = lambda name: [json.loads(x) for x in (dataset / name).read_text(encoding="utf-8").splitlines() if x]  # noqa: E731
    corpus, queries = read("corpus.jsonl"), read("queries.jsonl")
    results = [measure(name, a, corpus, queries, per_question=True) for name, a in analysers().items()]
    each = {r["analysis"]: r.pop("recall@5_each") for r in results}
    # Paired: the questions the stemmer puts into the top 5, and those it pushes out of it.
    paired = {
        "gained": sum(a > b for a, b in zip(each["hi"], each["hi-unstemmed"], strict=True)),
        "lost": sum(a < b for a, b in zip(each["hi"], each["hi-unstemmed"], strict=True)),
    }
    speed = stemmer_speed(corpus)
    report = {
        "dataset": str(dataset),
        **run_info("evals.hindi_stemming"),
        "paragraphs": len(corpus),
        "questions": len(queries),
        "results": results,
        "stemmed_vs_unstemmed_r5": paired,
        "stemmer_speed": speed,
    }
    lines = [
        "# XQuAD Hindi: BM25 alone, with and without Snowball's Hindi stemmer",
        "",
        run_line(report),
        f"- {len(corpus)} paragraphs (one document each), {len(queries)} questions; tantivy BM25 (qa's lexical "
        "index), no dense side, no second stage. See the module docstring of evals/hindi_stemming.py.",
        "",
        *results_table(results),
    ]
    lines += [
        "",
        f"Stemmed against unstemmed, question by question: {paired['gained']} questions gain their gold paragraph "
        f"in the top 5, {paired['lost']} lose it.",
    ]
    lines += [""]
    lines += table(
        ["stemmer", "distinct words", "distinct stems", "words/s (no cache)"],
        [[s["engine"], s["distinct_words"], s["distinct_stems"], f"{s['words_per_second']:,}"] for s in speed],
    )
    write_report(out, report, lines)
    typer.echo("\n".join(lines[6:]))


if __name__ == "__main__":
    app(prog_name="python -m evals.hindi_stemming")
