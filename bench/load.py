"""Load test: many concurrent clients asking and searching a running `qa serve`, for a bounded time.

Each client is a coroutine on one aiohttp session (one keep-alive connection per client, on uvloop
when it is installed) that sends a request, waits for the answer, and sends the next one (closed
loop, no think time): a mix of `POST /v1/search` and
`POST /v1/ask`, questions drawn from a file, in a fixed-seed random order. Only loopback URLs are
accepted: this is a test of the service, not a tool to load someone else's.

``--mix`` adds live writes: ``--mix search=45,ask=45,ingest=8,delete=2`` also sends `POST
/v1/documents` (one JSON document of a few paragraphs, about 1,500 characters in three
paragraphs, made of words of the questions so each one is new to the embedding cache, under a
fresh id) and `DELETE /v1/documents/{id}` of a document this run added (a search while it has
added none). What the run added and did not delete is deleted after the timed part, untimed
(``--no-cleanup`` keeps it), so runs one after another see the same index.

    qa serve --port 8000 &
    python -m bench.load --url http://127.0.0.1:8000                        # 60 s, 32 clients
    python -m bench.load --url http://127.0.0.1:8000 --questions ../shared/datasets/scifact/queries.jsonl
    python -m bench.load --url http://127.0.0.1:8000 --mix search=45,ask=45,ingest=8,delete=2

Writes bench/results/load.json (throughput, latency percentiles per route, error rate, status
counts per route, load average) and bench/results/load.md. The client runs on the same machine as the
server, so the numbers are for the pair; the load average is recorded beside them. The client is
kept cheap for that reason: httpx's async client cost several ms of CPU per request here (dense
search at SciFact scale measured 17 ms p50 through it, against about 11 ms through a plain
synchronous client), which was charged to the server's latency and taken from its CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import numpy as np

from bench.machine import describe

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency of the project on Linux and macOS
    uvloop = None

OUT = Path(__file__).parent / "results" / "load"
JSON = {"content-type": "application/json"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Questions about the sample documents (examples/docs), used when no --questions file is given.
DEFAULT_QUESTIONS = [
    "Who met in Paris?",
    "What did the ministers discuss?",
    "How long should sourdough proof?",
    "What is a sourdough starter?",
    "What does FAISS do?",
    "Which index does exact inner product search?",
    "Which planet is the largest?",
    "How far is Mars from the sun?",
    "What is BM25?",
    "What is a glossary entry?",
]
ROUTES = ("search", "ask", "ingest", "delete")
# Success status of each route.
OK = {"search": 200, "ask": 200, "ingest": 201, "delete": 200}


def parse_mix(text: str) -> dict[str, float]:
    """``search=45,ask=45,ingest=8,delete=2`` as shares that sum to 1."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in ROUTES:
            raise ValueError(f"unknown route {name!r} in --mix; routes are {', '.join(ROUTES)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"--mix takes route=weight pairs (search=45,ask=45,...), not {part!r}") from None
        if not 0 <= weights[name] < float("inf"):
            raise ValueError(f"--mix weight of {name} must be a finite number >= 0, got {value!r}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("--mix weights must not all be 0")
    return {name: w / total for name, w in weights.items() if w > 0}


def document_text(words: list[str], rng: random.Random, paragraphs: int = 3) -> str:
    """A few paragraphs of sentences made of ``words``: about 1,500 characters, new each time."""
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(4, 6)):
            n = rng.randint(10, 18)
            sentence = " ".join(rng.choice(words) for _ in range(n))
            sentences.append(sentence[:1].upper() + sentence[1:] + ".")
        out.append(" ".join(sentences))
    return "\n\n".join(out)


@dataclass
class Results:
    started: float = 0.0
    finished: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {r: [] for r in ROUTES})
    statuses: Counter[str] = field(default_factory=Counter)
    route_statuses: dict[str, Counter[str]] = field(default_factory=lambda: {r: Counter() for r in ROUTES})
    errors: list[str] = field(default_factory=list)
    # Ids of the documents this run added and has not deleted.
    added: list[str] = field(default_factory=list)
    cleaned_up: int = 0


def load_questions(path: Path | None) -> list[str]:
    """Questions from a file: JSON Lines with `question` or `text`, or one question per line."""
    if path is None:
        return list(DEFAULT_QUESTIONS)
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            row = json.loads(line)
            q = row.get("question") or row.get("text")
            if q:
                out.append(str(q))
        else:
            out.append(line)
    if not out:
        raise SystemExit(f"error: no questions in {path}")
    return out


async def client(
    http: aiohttp.ClientSession,
    questions: list[str],
    mix: dict[str, float],
    k: int,
    deadline: float,
    max_requests: int,
    sent: list[int],
    rng: random.Random,
    results: Results,
    extra: dict[str, Any],
    words: list[str],
    prefix: str,
) -> None:
    routes, weights = list(mix), list(mix.values())
    n = 0
    while time.monotonic() < deadline and sent[0] < max_requests:
        sent[0] += 1
        route = rng.choices(routes, weights)[0]
        if route == "delete" and not results.added:
            route = "search"  # nothing of this run's to delete yet
        if route == "ingest":
            n += 1
            doc_id = f"{prefix}-{n}"
            body = {"id": doc_id, "title": f"Load test document {doc_id}", "text": document_text(words, rng)}
            request = http.post("/v1/documents", data=json.dumps(body).encode(), headers=JSON)
        elif route == "delete":
            doc_id = results.added.pop(rng.randrange(len(results.added)))
            request = http.delete(f"/v1/documents/{doc_id}")
        else:
            body = {"question": rng.choice(questions), "k": k, **extra}
            request = http.post(f"/v1/{route}", data=json.dumps(body).encode(), headers=JSON)
        t0 = time.perf_counter()
        try:
            async with request as r:
                status, payload = r.status, await r.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            results.statuses[type(exc).__name__] += 1
            results.route_statuses[route][type(exc).__name__] += 1
            results.errors.append(f"{route}: {type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - t0
        results.statuses[str(status)] += 1
        results.route_statuses[route][str(status)] += 1
        if status != OK[route]:
            results.errors.append(f"{route} {status}: {payload[:200].decode(errors='replace')}")
            continue
        if route == "ingest":
            results.added.append(doc_id)
        results.latencies[route].append(elapsed)


async def run_load(
    url: str,
    duration: float,
    clients: int,
    questions: list[str],
    ask_ratio: float = 0.5,
    k: int = 5,
    seed: int = 0,
    key: str | None = None,
    max_requests: int = 1_000_000,
    mode: str | None = None,
    rerank: bool | None = None,
    mix: dict[str, float] | None = None,
    cleanup: bool = True,
) -> tuple[Results, dict[str, Any]]:
    mix = mix or {"search": 1 - ask_ratio, "ask": ask_ratio}
    words = sorted({w.strip(".,;:?!()[]\"'").lower() for q in questions for w in q.split()} - {""})
    words = words if len(words) >= 20 else words + document_words()
    # Fresh ids: distinct between runs and clients.
    run = f"load-{os.getpid()}-{time.time_ns() % 10**9}"
    extra: dict[str, Any] = {"mode": mode} if mode else {}
    if rerank is not None:
        extra["rerank"] = rerank
    headers = {"authorization": f"Bearer {key}"} if key else {}
    results = Results()
    # One connection per client, kept alive; no cookies (the API sets none).
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    async with aiohttp.ClientSession(
        base_url=url,
        connector=connector,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=120),
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as http:
        async with http.get("/v1/stats", raise_for_status=True) as r:
            stats = await r.json()
        # One of each first: the server's first answer may load what it loads lazily.
        for route in ("search", "ask"):
            body = {"question": questions[0], "k": k, **extra}
            async with http.post(f"/v1/{route}", json=body, raise_for_status=True) as r:
                await r.read()
        sent = [0]
        results.started = time.monotonic()
        deadline = results.started + duration
        await asyncio.gather(
            *(
                client(
                    http,
                    questions,
                    mix,
                    k,
                    deadline,
                    max_requests,
                    sent,
                    random.Random(seed + i),
                    results,
                    extra,
                    words,
                    f"{run}-{i}",
                )
                for i in range(clients)
            )
        )
        results.finished = time.monotonic()
        if cleanup:
            # Untimed: leave the index as the run found it.
            while results.added:
                async with http.delete(f"/v1/documents/{results.added.pop()}") as r:
                    await r.read()
                    results.cleaned_up += r.status == 200
    return results, stats


def document_words() -> list[str]:
    """Words for documents when the questions hold too few."""
    return [w.strip("?").lower() for q in DEFAULT_QUESTIONS for w in q.split()]


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    a = np.asarray(values) * 1000
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "mean_ms": round(float(a.mean()), 1),
        "max_ms": round(float(a.max()), 1),
    }


def report(
    results: Results, stats: dict[str, Any], args: dict[str, Any], load_before: tuple[float, ...]
) -> dict[str, Any]:
    elapsed = results.finished - results.started
    ok = sum(len(v) for v in results.latencies.values())
    total = ok + len(results.errors)
    return {
        "benchmark": "load",
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        **args,
        "index": {"documents": stats.get("documents"), "chunks": stats.get("chunks"), "model": stats.get("model")},
        "elapsed_s": round(elapsed, 2),
        "requests": total,
        "ok": ok,
        "errors": len(results.errors),
        "error_rate": round(len(results.errors) / total, 6) if total else None,
        "throughput_rps": round(ok / elapsed, 2) if elapsed > 0 else None,
        "latency": {
            "all": percentiles([x for v in results.latencies.values() for x in v]),
            **{
                route: {"requests": len(v), **percentiles(v)}
                for route, v in results.latencies.items()
                if route in args["mix"] or v
            },
        },
        "statuses": dict(results.statuses),
        "route_statuses": {r: dict(c) for r, c in results.route_statuses.items() if c},
        "cleaned_up": results.cleaned_up,
        "first_errors": results.errors[:5],
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": describe(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
    }


def markdown(rep: dict[str, Any]) -> str:
    lat = rep["latency"]
    m = rep["machine"]
    lines = [
        "# Load test",
        "",
        f"{rep['date']}: `python -m bench.load` against {rep['url']}, {rep['clients']} clients for "
        f"{rep['duration_s']} s, mix " + ", ".join(f"{r} {round(w * 100, 1):g}%" for r, w in rep["mix"].items()) + ", "
        f"k = {rep['k']}, mode {rep.get('mode', 'server default')}, {rep['questions']} distinct questions. "
        f"Index: {rep['index']['documents']} documents, "
        f"{rep['index']['chunks']} chunks.",
        "",
        f"**{rep['throughput_rps']} requests/s**, {rep['requests']} requests, {rep['errors']} errors "
        f"(error rate {rep['error_rate']}).",
        "",
        "| route | requests | p50 ms | p95 ms | p99 ms | mean ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("all", *(r for r in ROUTES if r in lat)):
        row = lat[name]
        n = row.get("requests", rep["ok"])
        cells = [row[c] for c in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")]
        lines.append(f"| {name} | {n} | " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    lines += [
        "",
        f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}; load average (1, 5, 15 min) "
        f"{m['load_average_before']} before, {m['load_average_after']} after. The clients run on the same "
        "machine as the server and share its CPUs.",
        "",
        f"Status counts: {rep['statuses']}; per route: {rep['route_statuses']}.",
    ]
    if rep["cleaned_up"]:
        lines += ["", f"Deleted after the timed part (untimed): {rep['cleaned_up']} documents this run added."]
    if rep["first_errors"]:
        lines += ["", "First errors:", ""] + [f"- `{e}`" for e in rep["first_errors"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="a running `qa serve` (loopback only)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--ask-ratio", type=float, default=0.5, help="share of /v1/ask among requests (default 0.5)")
    parser.add_argument(
        "--mix",
        help="route weights, e.g. search=45,ask=45,ingest=8,delete=2 (routes: search, ask, ingest, delete); "
        "replaces --ask-ratio",
    )
    parser.add_argument(
        "--cleanup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="delete what the run added and did not delete, after the timed part (default on)",
    )
    parser.add_argument("-k", type=int, default=5, help="passages per request (default 5)")
    parser.add_argument("--questions", type=Path, help="JSON Lines (`question` or `text`) or one question a line")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["dense", "lexical", "hybrid"], help="mode sent (default: the server's)")
    parser.add_argument(
        "--rerank", action=argparse.BooleanOptionalAction, default=None, help="second stage on/off (default: server's)"
    )
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many requests too")
    parser.add_argument("--out", type=Path, default=OUT, help="report path without extension (.json and .md)")
    args = parser.parse_args(argv)
    host = urlparse(args.url).hostname or ""
    if host not in LOOPBACK:
        parser.error(f"--url must be on this machine (127.0.0.1, localhost or ::1), not {host!r}")
    if not (0 < args.duration <= 3600 and 1 <= args.clients <= 1024 and 0 <= args.ask_ratio <= 1):
        parser.error("--duration must be in (0, 3600], --clients in 1..1024, --ask-ratio in [0, 1]")
    try:
        mix = parse_mix(args.mix) if args.mix else {"search": 1 - args.ask_ratio, "ask": args.ask_ratio}
    except ValueError as exc:
        parser.error(str(exc))
    mix = {r: round(w, 4) for r, w in mix.items() if w > 0}
    questions = load_questions(args.questions)
    key = os.environ.get("BENCH_API_KEY") or None  # a Bearer key, when the server needs one for reads
    load_before = os.getloadavg()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
        results, stats = runner.run(
            run_load(
                args.url,
                args.duration,
                args.clients,
                questions,
                args.ask_ratio,
                args.k,
                args.seed,
                key,
                args.max_requests,
                args.mode,
                args.rerank,
                mix,
                args.cleanup,
            )
        )
    rep = report(
        results,
        stats,
        {
            "url": args.url,
            "duration_s": args.duration,
            "clients": args.clients,
            "ask_ratio": mix.get("ask", 0.0),
            "mix": mix,
            "k": args.k,
            "mode": (args.mode or "server default")
            + ("" if args.rerank is None else f", rerank {str(args.rerank).lower()}"),
            "questions": len(set(questions)),
            "seed": args.seed,
        },
        load_before,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rep, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(rep))
    per_route = "; ".join(
        f"{r} p50/p99 {rep['latency'][r]['p50_ms']}/{rep['latency'][r]['p99_ms']} ms"
        for r in ROUTES
        if r in rep["latency"]
    )
    print(
        f"{rep['throughput_rps']} req/s, p50 {rep['latency']['all']['p50_ms']} ms, "
        f"p95 {rep['latency']['all']['p95_ms']} ms, p99 {rep['latency']['all']['p99_ms']} ms ({per_route}), "
        f"error rate {rep['error_rate']}; wrote {args.out.with_suffix('.json')} and .md"
    )
    return 0 if rep["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
