"""`python -m evals.stopwords`: BM25 alone on XQuAD with and without the language's stop words in the questions.

Stop words are dropped from BM25 queries and from the answerer's overlap and kept in the index
(``qa.language``), so the index is the same either way: per language this builds one tantivy index
of XQuAD's paragraphs (``../shared/datasets/xquad/<lang>/``, each paragraph one document) with its
own analysis (``QA_LANGUAGE``) and asks every question twice, its stop words kept
(``query_terms(stopwords=False)``, as ``QA_LEXICAL_STOPWORDS=false``) and dropped (the default).
The answers' side of the change needs the service: ``evals.xquad`` (evals/README.md). Writes
``report.json`` and ``report.md`` to ``--out``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from evals.metrics import ndcg_at, recall_at
from evals.report import run_info, run_line, table, write_report
from qa.language import Analyser
from qa.store.embedded.lexical import LexicalIndex

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def measure(code: str, corpus: list[dict[str, Any]], queries: list[dict[str, Any]]) -> dict[str, Any]:
    """R@5 and nDCG@10 of BM25 alone with the questions' stop words kept and dropped."""
    analyser = Analyser(code)
    out: dict[str, Any] = {"language": code, "spec": analyser.spec}
    with tempfile.TemporaryDirectory() as tmp:
        index = LexicalIndex(Path(tmp), "auto", code)
        index.rebuild(1, ((i, d["title"], d["text"], ["*"]) for i, d in enumerate(corpus)))
        for name, drop in (("kept", False), ("dropped", True)):
            recall, ndcg, n_terms = [], [], []
            for q in queries:
                terms = analyser.query_terms(q["question"], stopwords=drop)
                ranked = [corpus[i]["doc_id"] for i, _ in index.search(terms, 10)]
                gold = set(q["gold_doc_ids"])
                recall.append(recall_at(ranked, gold, 5))
                ndcg.append(ndcg_at(ranked, gold, 10))
                n_terms.append(len(terms))
            out[name] = {
                "recall@5": round(statistics.mean(recall), 3),
                "ndcg@10": round(statistics.mean(ndcg), 3),
                "terms_per_question": round(statistics.mean(n_terms), 2),
                "each": recall,
            }
    kept, dropped = out["kept"].pop("each"), out["dropped"].pop("each")
    out["gained"] = sum(b > a for a, b in zip(kept, dropped, strict=True))
    out["lost"] = sum(b < a for a, b in zip(kept, dropped, strict=True))
    out["first_question"] = {
        "kept": analyser.query_terms(queries[0]["question"], stopwords=False),
        "dropped": analyser.query_terms(queries[0]["question"]),
    }
    return out


@app.command()
def main(
    datasets: Annotated[Path, typer.Option(help="XQuAD directory, one folder per language.")] = DATASETS,
    langs: Annotated[str, typer.Option(help="Languages, comma-separated.")] = "ar",
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("evals/reports/stopwords"),
) -> None:
    """BM25 alone on XQuAD, the questions' stop words kept and dropped (evals/README.md)."""
    rows = []
    for code in [c.strip() for c in langs.split(",") if c.strip()]:
        corpus = _read(datasets / code / "corpus.jsonl")
        rows.append(measure(code, corpus, _read(datasets / code / "queries.jsonl")))
    report = {**run_info("evals.stopwords", load_average=True), "results": rows}
    columns = ["language", "kept: R@5", "nDCG@10", "terms/question", "dropped: R@5", "nDCG@10", "terms/question"]
    columns += ["R@5 gained", "lost", "first question, dropped"]
    cells = []
    for r in rows:
        k, d, first = r["kept"], r["dropped"], r["first_question"]
        cells.append(
            [r["language"], f"{k['recall@5']:.3f}", f"{k['ndcg@10']:.3f}", k["terms_per_question"]]
            + [f"{d['recall@5']:.3f}", f"{d['ndcg@10']:.3f}", d["terms_per_question"], r["gained"], r["lost"]]
            + [" ".join(w for w in first["kept"] if w not in first["dropped"])]
        )
    lines = [
        "# XQuAD: BM25 alone, the questions' stop words kept and dropped",
        "",
        run_line(report),
        "- each language's own analysis; each paragraph one document; see evals/stopwords.py.",
        "",
        *table(columns, cells),
    ]
    write_report(out, report, lines, name="bm25")
    typer.echo("\n".join(lines[5:]))


if __name__ == "__main__":
    app(prog_name="python -m evals.stopwords")
