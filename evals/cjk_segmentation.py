"""`python -m evals.cjk_segmentation`: BM25 alone on XQuAD Chinese with each way of cutting Chinese into terms.

qa's Chinese analysis (``QA_LANGUAGE=zh``, ``qa.language``) makes overlapping character bigrams of
every Han run, as Lucene's CJKAnalyzer does; the alternative is a dictionary segmenter, jieba
(here rjieba, the maintained Rust port: ``pip install rjieba``). Both were decided between on
principle (qa/language.py says why), not on these numbers: XQuAD is an eval set. This measures
what the choice costs or gains, on the lexical side alone, where it acts:

- ``en``: English's analysis (before languages: a whole clause between punctuation is one term);
- ``bigrams``: ``QA_LANGUAGE=zh``;
- ``jieba``: jieba's precise mode for documents and questions;
- ``jieba-search``: jieba's search mode (a long word and its parts) for both.

Each paragraph is one document of a tantivy index built by ``qa.store.embedded.lexical`` (the
eval harness's chunking is left out: the comparison is of analyses); every question is a BM25
query of its terms (``Analyser.query_terms``). Writes ``report.json`` and ``report.md`` to ``--out``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from evals.metrics import ndcg_at, recall_at
from evals.report import run_info, run_line, table, write_report
from qa.language import Analyser, words
from qa.store.embedded.lexical import LexicalIndex

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad" / "zh"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def jieba_words(search: bool) -> Any:
    """qa's words with each Han run cut by jieba instead of into bigrams."""
    try:
        import rjieba
    except ImportError:
        raise SystemExit("the jieba analyses need rjieba: pip install rjieba") from None
    cut = rjieba.cut_for_search if search else rjieba.cut
    return lambda text: words(text, lambda run: [t for t in cut(run) if t.strip()])


def analysers() -> dict[str, Analyser]:
    return {
        "en": Analyser("en"),
        "bigrams": Analyser("zh"),
        "jieba": Analyser("zh", split=jieba_words(False)),
        "jieba-search": Analyser("zh", split=jieba_words(True)),
    }


def measure(
    name: str,
    analyser: Analyser,
    corpus: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    per_question: bool = False,
) -> dict[str, Any]:
    """BM25 alone with ``analyser``; ``per_question``: with each question's R@5 too (``recall@5_each``)."""
    with tempfile.TemporaryDirectory() as tmp:
        index = LexicalIndex(Path(tmp), "auto", analyser.language.code, analyser=analyser)
        t0 = time.perf_counter()
        index.rebuild(1, ((i, d["title"], d["text"], ["*"]) for i, d in enumerate(corpus)))
        build = time.perf_counter() - t0
        recall, ndcg, times = [], [], []
        for q in queries:
            t0 = time.perf_counter()
            hits = index.search(analyser.query_terms(q["question"]), 10)
            times.append((time.perf_counter() - t0) * 1000)
            ranked = [corpus[i]["doc_id"] for i, _ in hits]
            gold = set(q["gold_doc_ids"])
            recall.append(recall_at(ranked, gold, 5))
            ndcg.append(ndcg_at(ranked, gold, 10))
    out = {
        "analysis": name,
        "recall@5": round(statistics.mean(recall), 3),
        "ndcg@10": round(statistics.mean(ndcg), 3),
        "build_seconds": round(build, 2),
        "query_ms_p50": round(statistics.median(times), 2),
        "terms_of_first_question": analyser.query_terms(queries[0]["question"]),
    }
    if per_question:
        out["recall@5_each"] = recall
    return out


def results_table(results: list[dict[str, Any]]) -> list[str]:
    """``measure``'s results as a Markdown table, one row per analysis."""
    return table(
        ["analysis", "R@5", "nDCG@10", "build s", "query p50 ms", "first question's terms"],
        [
            [
                r["analysis"],
                f"{r['recall@5']:.3f}",
                f"{r['ndcg@10']:.3f}",
                r["build_seconds"],
                r["query_ms_p50"],
                " ".join(r["terms_of_first_question"]),
            ]
            for r in results
        ],
    )


@app.command()
def main(
    dataset: Annotated[Path, typer.Option(help="XQuAD's Chinese folder (corpus.jsonl, queries.jsonl).")] = DATASET,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("evals/reports/cjk-segmentation"),
) -> None:
    """BM25 alone on XQuAD Chinese: English's analysis, character bigrams (qa's), jieba (evals/README.md)."""
    read = lambda name: [json.loads(x) for x in (dataset / name).read_text(encoding="utf-8").splitlines() if x]  # noqa: E731
    corpus, queries = read("corpus.jsonl"), read("queries.jsonl")
    results = [measure(name, a, corpus, queries) for name, a in analysers().items()]
    report = {
        "dataset": str(dataset),
        **run_info("evals.cjk_segmentation"),
        "paragraphs": len(corpus),
        "questions": len(queries),
        "results": results,
    }
    lines = [
        "# XQuAD Chinese: BM25 alone per way of cutting Chinese into terms",
        "",
        run_line(report),
        f"- {len(corpus)} paragraphs (one document each), {len(queries)} questions; tantivy BM25 (qa's lexical "
        "index), no dense side, no second stage. See the module docstring of evals/cjk_segmentation.py.",
        "- qa ships `bigrams` for `QA_LANGUAGE=zh`, chosen on principle (qa/language.py), not on these numbers.",
        "",
        *results_table(results),
    ]
    write_report(out, report, lines)
    typer.echo("\n".join(lines[-len(results) - 2 :]))


if __name__ == "__main__":
    app(prog_name="python -m evals.cjk_segmentation")
