"""The harness: index a dataset's corpus, run every query through the service, score, report.

Queries go through ``QAService.search`` and ``QAService.ask``, the code behind ``/v1/search``
and ``/v1/ask``. Each configuration gets its own index under the cache directory, named by a
hash of the corpus, the model and everything that shapes chunks; an unchanged corpus and
configuration reuse it (the build statistics of the original build are reported, marked
``reused``).

Outputs (in ``out``): ``run.<config>.trec`` (TREC run file), ``queries.<config>.jsonl`` (one
record a query), ``report.json``, ``report.md`` and ``recall_at_k.png``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals import abstention as abst
from evals import configs as configs_mod
from evals import metrics as m
from evals.data import Dataset, Query, load
from qa.config import Settings
from qa.embed import Embedder, load_embedder
from qa.service import QAService

HARNESS_VERSION = 1
# Chunks fetched per query to rank documents: chunks of one document collapse into one entry,
# so the top 20 documents need more than 20 chunks.
SEARCH_DEPTH = 50
CURVE_K = 20
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
DEFAULT_TOLERANCE = 0.02
# Metrics the regression gate compares; latency and memory depend on the machine, so they are reported only.
GATED = (
    "recall@1",
    "recall@5",
    "recall@10",
    "all_recall@10",
    "mrr@10",
    "ndcg@10",
    "answer_in_passages@5",
    "em",
    "f1",
    "short_em",
    "citation_precision",
    "citation_exactness",
)
# A citation whose quote is not the source text at its offsets is a bug, not a quality dip.
EXACT = frozenset({"citation_exactness"})

Progress = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class Spec:
    """What to run: the dataset subset and the configurations."""

    dataset: Path
    limit: int | None = None
    corpus_limit: int | None = None
    k: int = 10
    configs: tuple[str, ...] = (configs_mod.DEFAULT_CONFIG,)
    answers: bool = True  # False: retrieval only, no `ask` (answer and citation metrics left out)
    # torch intra-op threads (None: torch's default). On a loaded machine 1 thread embeds the small
    # batches of `ask` several times faster than 2 that wait on each other.
    threads: int | None = None
    # Which queries: those listed (qids, or gold documents' articles), the first `skip` dropped.
    skip: int = 0
    qids: frozenset[str] | None = None
    articles: frozenset[str] | None = None
    selection: str | None = None  # how the qids/articles were given, for the report
    # Ask each question in the words of its namesake in this dataset (``evals.data.load``).
    questions_from: Path | None = None
    # Abstention (evals/abstention.py): ask every question again with its gold documents removed,
    # and the off-topic questions; `thresholds` go into the sweep beside the calibrated ones.
    abstention: bool = False
    thresholds: tuple[float, ...] = ()
    min_answered: float = abst.MIN_ANSWERED
    # Compare the gold-removed answers of the first N questions with real indexes built without them.
    verify_exclusion: int = 0


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 if platform.system() == "Darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


# Settings that say where things are, not how they are computed (and may hold a password).
_NOT_REPORTED = {"index_dir", "index_name", "host", "port", "store"}


def effective_settings(settings: Settings) -> dict[str, Any]:
    """The settings a configuration ran with, for the report."""
    return {k: v for k, v in settings.model_dump(mode="json").items() if k not in _NOT_REPORTED}


def index_key(docs: Sequence[Any], signature: str) -> str:
    """Hash of the corpus and of everything that shapes its chunks and vectors."""
    h = hashlib.sha256(f"eval-index:v{HARNESS_VERSION}:{signature}\n".encode())
    for d in docs:
        h.update(json.dumps([d.id, d.title, d.text], ensure_ascii=False).encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


def open_service(
    ds: Dataset, config: configs_mod.EvalConfig, base: Settings, cache_dir: Path, embedder: Embedder | None
) -> tuple[QAService, str]:
    overrides = {**base.model_dump(), **config.settings, "index_dir": cache_dir, "index_name": "probe"}
    probe = QAService(Settings(**overrides), embedder=embedder)  # store and model load lazily: nothing opens
    key = index_key(ds.corpus, probe.chunker_signature)
    name = f"eval-{ds.name}-{key[:16]}"
    return QAService(Settings(**{**overrides, "index_name": name}), embedder=embedder), name


def build_index(svc: QAService, ds: Dataset, marker: Path, progress: Progress | None) -> dict[str, Any]:
    """Index the corpus unless a finished build with the same key exists; return build statistics."""
    if marker.is_file():
        done = json.loads(marker.read_text())
        # The index may have been deleted or changed by hand since: trust the marker only if it matches.
        if svc.stats().get("chunks") == done.get("chunks"):
            return {**done, "reused": True}
        marker.unlink()
    advance = progress("indexing", len(ds.corpus)) if progress else None
    t0 = time.perf_counter()
    results = svc.add_documents(ds.corpus, progress=advance)
    secs = time.perf_counter() - t0
    written = sum(r.chunks for r in results if r.status != "unchanged")
    stats = svc.stats()
    build = {
        "documents": stats["documents"],
        "chunks": stats["chunks"],
        "chunks_written": written,
        "build_seconds": round(secs, 2),
        "chunks_per_second": round(written / secs, 1) if secs > 0 and written else None,
        "resumed": any(r.status == "unchanged" for r in results),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cpu_count": os.cpu_count(),
    }
    marker.write_text(json.dumps(build, indent=2))
    return {**build, "reused": False}


def run_query(svc: QAService, q: Query, k: int, answers: bool = True) -> dict[str, Any]:
    """One query through search and (unless ``answers`` is False) ask, with what is needed to score it."""
    t0 = time.perf_counter()
    passages = svc.search(q.question, min(SEARCH_DEPTH, svc.settings.max_k))
    t1 = time.perf_counter()
    answer = svc.ask(q.question, k) if answers else None
    t2 = time.perf_counter()
    best: dict[str, float] = {}
    for p in passages:
        best.setdefault(p.doc_id, p.score)
    ranked = m.collapse(p.doc_id for p in passages)[:CURVE_K]
    citations = []
    for c in answer.citations if answer else ():
        # Read the source back from the store: the quote must be exactly its text at the offsets.
        text = svc.store.get_text(c.doc_id)
        citations.append(
            {
                "doc_id": c.doc_id,
                "start": c.start,
                "end": c.end,
                "quote": c.quote,
                "exact": text is not None and text[c.start : c.end] == c.quote,
                "gold": c.doc_id in q.gold,
            }
        )
    return {
        "qid": q.qid,
        "question": q.question,
        "gold": sorted(q.gold),
        "answers": list(q.answers),
        **({"language": q.language} if q.language != "en" else {}),
        "retrieved": ranked,
        "scores": [round(best[d], 5) for d in ranked],
        "answer_in_passages@5": m.contains_answer(" ".join(p.text for p in passages[:5]), q.answers, q.language)
        if q.answers
        else None,
        "asked": answer is not None,
        "answer": answer.answer if answer and answer.found else "",
        "short": answer.short.text if answer and answer.short else None,
        "found": answer.found if answer else None,
        # Unrounded: the abstention sweep compares it with thresholds, as the answerer does.
        "answer_score": answer.score if answer else None,
        # What the score came from (qa.answerability): evals.fit_answerability fits on them.
        "answer_signals": abst.signals_record(answer),
        "citations": citations,
        "search_ms": round((t1 - t0) * 1000, 2),
        "ask_ms": round((t2 - t1) * 1000, 2) if answer else None,
    }


def _lang(record: dict[str, Any]) -> str:
    """A record's language for the answer metrics (English's SQuAD normalization unless it says)."""
    return str(record.get("language", "en"))


def score(records: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], list[float]]:
    """Aggregate metrics over per-query records, and the mean Recall@k curve for k = 1..CURVE_K."""
    judged = [r for r in records if r["gold"]]
    out: dict[str, Any] = {"queries": len(records), "queries_with_gold": len(judged)}
    for name, fn, k in [
        ("recall@1", m.recall_at, 1),
        ("recall@5", m.recall_at, 5),
        ("recall@10", m.recall_at, 10),
        ("all_recall@10", m.all_recall_at, 10),
        ("mrr@10", m.mrr_at, 10),
        ("ndcg@10", m.ndcg_at, 10),
    ]:
        out[name] = m.mean([fn(r["retrieved"], set(r["gold"]), k) for r in judged]) if judged else None
    curve = [m.mean([m.recall_at(r["retrieved"], set(r["gold"]), k) for r in judged]) for k in range(1, CURVE_K + 1)]
    with_answers = [r for r in records if r["answers"]]
    answered = [r for r in with_answers if r.get("asked", True)]
    asked = [r for r in records if r.get("asked", True)]
    out["queries_with_answers"] = len(with_answers)
    out["answer_in_passages@5"] = (
        m.mean([float(r["answer_in_passages@5"]) for r in with_answers]) if with_answers else None
    )
    if answered:
        # EM and F1 score the short answer where the service gives one, else the whole sentence.
        out["em"] = m.mean([m.exact_match(_prediction(r), r["answers"], _lang(r)) for r in answered])
        out["f1"] = m.mean([m.f1_score(_prediction(r), r["answers"], _lang(r)) for r in answered])
        out["short_answers"] = m.mean([float(bool(r.get("short"))) for r in answered])
        # How often a short answer, where one is shown, is exactly right.
        shorts = [r for r in answered if r.get("short")]
        out["short_em"] = (
            m.mean([m.exact_match(r["short"], r["answers"], _lang(r)) for r in shorts]) if shorts else None
        )
        # The service answers with a whole sentence; this says how often that sentence holds the answer.
        out["answer_contains_gold"] = m.mean(
            [float(m.contains_answer(r["answer"], r["answers"], _lang(r))) for r in answered]
        )
    else:
        out.update({"em": None, "f1": None, "short_answers": None, "short_em": None, "answer_contains_gold": None})
    cites = [c for r in records for c in r["citations"]]
    out["answered"] = m.mean([float(r["found"]) for r in asked]) if asked else None
    out["citations"] = len(cites)
    out["citation_precision"] = m.mean([float(c["gold"]) for c in cites]) if cites and judged else None
    out["citation_exactness"] = m.mean([float(c["exact"]) for c in cites]) if cites else None
    for field in ("search_ms", "ask_ms"):
        values = [r[field] for r in records if r.get(field) is not None]
        out[f"{field}_p50"] = round(m.percentile(values, 50), 1) if values else None
        out[f"{field}_p95"] = round(m.percentile(values, 95), 1) if values else None
    return out, curve


def _prediction(record: dict[str, Any]) -> str:
    return str(record.get("short") or record["answer"])


def write_run_file(path: Path, records: Sequence[dict[str, Any]], tag: str) -> None:
    """TREC format: ``qid Q0 doc_id rank score tag``, one line per retrieved document."""
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            for rank, (doc_id, s) in enumerate(zip(r["retrieved"], r["scores"], strict=True), 1):
                # TREC tools split on whitespace; ids with spaces (Wikipedia titles) get underscores.
                fh.write(f"{r['qid']} Q0 {doc_id.replace(' ', '_')} {rank} {s:.5f} {tag}\n")


def evaluate(
    spec: Spec,
    base: Settings,
    out: Path,
    cache_dir: Path | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Score every configuration of ``spec`` and write the outputs to ``out``; return the report."""
    import torch

    chosen = [configs_mod.get(name) for name in spec.configs]
    threads_before = torch.get_num_threads()
    if spec.threads:
        torch.set_num_threads(spec.threads)
    try:
        return _evaluate(spec, chosen, base, out, cache_dir, embedder, progress, command)
    finally:
        torch.set_num_threads(threads_before)


def _evaluate(
    spec: Spec,
    chosen: list[configs_mod.EvalConfig],
    base: Settings,
    out: Path,
    cache_dir: Path | None,
    embedder: Embedder | None,
    progress: Progress | None,
    command: str,
) -> dict[str, Any]:
    import torch

    from evals.report import write_markdown, write_plot

    if (spec.abstention or spec.verify_exclusion) and not spec.answers:
        raise ValueError("abstention needs answers: drop --no-answers")
    ds = load(spec.dataset, spec.limit, spec.corpus_limit, spec.skip, spec.qids, spec.articles, spec.questions_from)
    if not ds.queries:
        chosen_by = " of that selection" if spec.selection or spec.skip else ""
        raise ValueError(f"{spec.dataset}/queries.jsonl holds no queries{chosen_by}")
    offtopic = abst.load_offtopic() if spec.abstention else []
    cache_dir = cache_dir or base.index_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    embedders: dict[tuple[str, int, str], Embedder] = {}
    report: dict[str, Any] = {
        "dataset": ds.name,
        "dataset_dir": str(spec.dataset),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "limit": spec.limit,
        "corpus_limit": spec.corpus_limit,
        "skip": spec.skip or None,
        "selection": spec.selection,
        "questions_from": str(spec.questions_from) if spec.questions_from else None,
        "selected_queries": ds.selected_queries,
        "k": spec.k,
        "answers": spec.answers,
        "abstention": spec.abstention,
        "search_depth_chunks": SEARCH_DEPTH,
        "queries": len(ds.queries),
        "total_queries": ds.total_queries,
        "corpus_docs": len(ds.corpus),
        "total_docs": ds.total_docs,
        "missing_gold": ds.missing_gold,
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "configs": {},
    }
    for config in chosen:
        settings_over = {**base.model_dump(), **config.settings}
        model_key = (settings_over["model"], settings_over["embed_batch_size"], settings_over["embed_backend"])
        emb = embedder if embedder is not None else embedders.get(model_key)
        if emb is None:
            emb = embedders[model_key] = load_embedder(Settings(**settings_over))
        svc, name = open_service(ds, config, base, cache_dir, emb)
        try:
            build = build_index(svc, ds, cache_dir / f"{name}.build.json", progress)
            advance = progress(f"querying ({config.name})", len(ds.queries)) if progress else None
            records = []
            seconds: dict[str, float] = {}
            t0 = time.perf_counter()
            for q in ds.queries:
                records.append(run_query(svc, q, spec.k, spec.answers))
                if advance:
                    advance(1)
            seconds["queries"] = round(time.perf_counter() - t0, 1)
            extra = _abstention(spec, ds, svc, config.name, records, offtopic, out, progress, seconds)
        finally:
            svc.close()
        scores, curve = score(records)
        with (out / f"queries.{config.name}.jsonl").open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        write_run_file(out / f"run.{config.name}.trec", records, f"qa-{config.name}")
        report["configs"][config.name] = {
            "description": config.description,
            "overrides": dict(config.settings),
            "settings": effective_settings(svc.settings),
            "chunker": svc.chunker_signature,
            "index": {"name": name, **build},
            "metrics": scores,
            "recall_curve": curve,
            "seconds": seconds,
            **extra,
        }
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    report["plot"] = write_plot(report, out / "recall_at_k.png")
    write_markdown(report, out / "report.md")
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report


def _abstention(
    spec: Spec,
    ds: Dataset,
    svc: QAService,
    name: str,
    records: list[dict[str, Any]],
    offtopic: list[Query],
    out: Path,
    progress: Progress | None,
    seconds: dict[str, float],
) -> dict[str, Any]:
    """The gold-removed and off-topic passes and the exclusion check, as ``spec`` asks; their
    records written beside the others, their metrics returned for the report."""
    result: dict[str, Any] = {}
    corpus_ids = [d.id for d in ds.corpus]
    judged = [q for q in ds.queries if q.gold]
    if spec.abstention:
        t0 = time.perf_counter()
        advance = progress(f"gold removed ({name})", len(ds.queries)) if progress else None
        scratch = Path(svc.settings.index_dir) / f"gold-removed-{os.getpid()}"
        removed, how = abst.removed_pass(svc, ds.queries, spec.k, scratch, advance)
        seconds["gold_removed"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        advance = progress(f"off-topic ({name})", len(offtopic)) if progress else None
        off = abst.offtopic_pass(svc, offtopic, spec.k, advance)
        seconds["offtopic"] = round(time.perf_counter() - t0, 1)
        for kind, rows in (("abstention", removed), ("offtopic", off)):
            with (out / f"{kind}.{name}.jsonl").open("w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        answerable = [r for r in records if r["gold"]]
        result["abstention"] = {
            # The threshold the answerer applies (QA_MIN_ANSWER_SCORE, or its default for the chooser).
            **abst.score(answerable, removed, off, svc.answerer.min_score, spec.thresholds, spec.min_answered),
            **how,
        }
    if spec.verify_exclusion:
        # Spread over the questions: neighbours often share their gold documents (SQuAD asks
        # several questions of each paragraph), and each distinct gold set is one index to build.
        chosen = judged[:: max(1, len(judged) // spec.verify_exclusion)][: spec.verify_exclusion]
        advance = progress(f"exclusion check ({name})", len(chosen)) if progress else None
        # Beside the eval indexes (the cache directory), removed afterwards.
        work = Path(svc.settings.index_dir) / f"exclusion-check-{os.getpid()}"
        try:
            check = abst.verify_exclusion(svc, chosen, corpus_ids, spec.k, work, advance)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        with (out / f"exclusion_check.{name}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in check.pop("rows"))
        seconds["exclusion_check"] = check["seconds"]
        result["exclusion_check"] = check
    return result


# -- regression gate ------------------------------------------------------------------------


def expected_path(dataset: str, directory: Path = EXPECTED_DIR) -> Path:
    return directory / f"{dataset}.json"


def _same_spec(entry: dict[str, Any], report: dict[str, Any]) -> bool:
    # skip and selection are absent (None) from entries pinned before they existed.
    fields = ("limit", "corpus_limit", "k", "skip", "selection")
    same_answers = entry.get("answers", True) == report.get("answers", True)
    return same_answers and all(entry.get(f) == report.get(f) for f in fields)


def _spec_args(entry: dict[str, Any]) -> str:
    parts = [f"--limit {entry['limit']}" if entry.get("limit") else "", f"--k {entry.get('k')}"]
    if entry.get("skip"):
        parts.append(f"--skip {entry['skip']}")
    if entry.get("selection"):
        parts.append(str(entry["selection"]))
    if entry.get("corpus_limit"):
        parts.append(f"--corpus-limit {entry['corpus_limit']}")
    if not entry.get("answers", True):
        parts.append("--no-answers")
    return " ".join(p for p in parts if p)


def check(report: dict[str, Any], directory: Path = EXPECTED_DIR) -> list[str]:
    """Compare the default configuration's scores with the pinned ones; return what dropped.

    Raises:
        ValueError: no scores are pinned for this dataset and subset (pin them with --pin).
    """
    path = expected_path(report["dataset"], directory)
    if not path.is_file():
        raise ValueError(f"no pinned scores at {path}; run with --pin to create them")
    expected = json.loads(path.read_text())
    entry = next((e for e in expected["runs"] if _same_spec(e, report)), None)
    if entry is None:
        known = "; ".join(_spec_args(e) for e in expected["runs"]) or "none"
        raise ValueError(
            f"{path} pins no scores for limit={report['limit']} corpus_limit={report['corpus_limit']} "
            f"k={report['k']}; pinned runs: {known}"
        )
    config = expected.get("config", configs_mod.DEFAULT_CONFIG)
    if config not in report["configs"]:
        raise ValueError(f"the pinned scores are for configuration {config!r}; add --config {config}")
    got = report["configs"][config]["metrics"]
    # A small subset may set a wider tolerance of its own: one query is a bigger share of it.
    tolerance = float(entry.get("tolerance", expected.get("tolerance", DEFAULT_TOLERANCE)))
    failures = []
    for name, want in entry["metrics"].items():
        have = got.get(name)
        floor = want if name in EXACT else want - tolerance
        if want is not None and (have is None or have < floor - 1e-9):
            failures.append(f"{name}: {have} < {want} (tolerance {0 if name in EXACT else tolerance})")
    return failures


def pin(report: dict[str, Any], directory: Path = EXPECTED_DIR, tolerance: float | None = None) -> Path:
    """Write the default configuration's scores as the expected ones for this dataset and subset."""
    path = expected_path(report["dataset"], directory)
    expected = (
        json.loads(path.read_text())
        if path.is_file()
        else {"dataset": report["dataset"], "config": configs_mod.DEFAULT_CONFIG, "tolerance": DEFAULT_TOLERANCE}
    )
    if tolerance is not None:
        expected["tolerance"] = tolerance
    config = expected.get("config", configs_mod.DEFAULT_CONFIG)
    if config not in report["configs"]:
        raise ValueError(f"pinning needs configuration {config!r} in the run; add --config {config}")
    metrics = report["configs"][config]["metrics"]
    entry = {
        "limit": report["limit"],
        "corpus_limit": report["corpus_limit"],
        **{f: report[f] for f in ("skip", "selection") if report.get(f) is not None},
        "k": report["k"],
        "answers": report.get("answers", True),
        "date": report["date"],
        "command": report["command"],
        "metrics": {n: round(metrics[n], 4) for n in GATED if metrics.get(n) is not None},
    }
    # A subset's own (wider) tolerance survives re-pinning.
    for old in expected.get("runs", []):
        if _same_spec(old, report) and "tolerance" in old:
            entry["tolerance"] = old["tolerance"]
    expected["runs"] = [e for e in expected.get("runs", []) if not _same_spec(e, report)] + [entry]
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")
    return path
