"""16 clients search and ask over real HTTP for 60 seconds while another adds, replaces and
deletes documents. Zero errors, and every passage comes from a document version that existed,
whole, at some moment of that request.

Each document version carries a word found nowhere else (``zq<id>v<version>``) in every
sentence, its version in its metadata, and its own length, so every result is checkable: its text
must be exactly that version's text at its offsets, and the version must have been live while the
request ran. A probe that filters on one document id (dense, k=100) must get all of one version's
text (its chunks, stitched where they touch), or nothing: never part of a document, or a mix of
two versions.

The writer records, for every version, when the request that created it was sent and answered,
and when the request that replaced or deleted it was sent and answered; results are judged after
the run against those intervals.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from qa.service import QAService
from tests.live_server import live_server

DURATION = 60.0
READERS = 16
WORDS = ["kiln", "otter", "granite", "lantern", "meadow", "copper", "harbor", "violet", "cedar"]
INF = float("inf")


def doc_text(tag: str, sentences: int) -> str:
    return " ".join(
        f"Sentence {j} of note zq{tag} says the {WORDS[(j + len(tag)) % 9]} {WORDS[(j * 7) % 9]} "
        f"weighs {j * 13 + 5} grams."
        for j in range(sentences)
    )


@dataclass
class Version:
    doc_id: str
    version: int
    text: str
    add_start: float
    add_end: float = INF  # when the add was answered (INF: never, as far as we know)
    gone_start: float = INF  # when the replace/delete that ended it was sent
    gone_end: float = INF  # ... and answered
    chunks: int = -1

    def maybe_live(self, t0: float, t1: float) -> bool:
        """Could this version have been in the index at some moment of [t0, t1]?"""
        return self.add_start <= t1 and self.gone_end >= t0

    def surely_live(self, t0: float, t1: float) -> bool:
        """Was it certainly in the index for the whole of [t0, t1]?"""
        return self.add_end <= t0 and self.gone_start >= t1


@dataclass
class Log:
    versions: dict[tuple[str, int], Version] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)
    observations: list[tuple[str, float, float, Any, str | None]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def live_ids(self) -> list[str]:
        with self.lock:
            return sorted({v.doc_id for v in self.versions.values() if v.gone_start == INF})


def writer(base: str, log: Log, deadline: float, rng: random.Random) -> None:
    """Adds new documents, replaces and deletes live ones, keeping 3 to 12 churning."""
    current: dict[str, Version] = {}
    n = 0
    with httpx.Client(base_url=base, timeout=120) as c:
        while time.monotonic() < deadline:
            live = sorted(current)
            roll = rng.random()
            if len(live) < 3 or (roll < 0.4 and len(live) < 12):
                doc_id, prev = f"c{n}", None
                n += 1
            elif roll < 0.75:
                doc_id = rng.choice(live)
                prev = current[doc_id]
            else:  # delete
                doc_id = rng.choice(live)
                prev = current.pop(doc_id)
                prev.gone_start = time.monotonic()
                r = c.delete(f"/v1/documents/{doc_id}")
                prev.gone_end = time.monotonic()
                if r.status_code != 200:
                    log.errors.append(f"DELETE {doc_id}: {r.status_code} {r.text[:200]}")
                log.count("deletes")
                continue
            version = prev.version + 1 if prev else 0
            tag = f"{doc_id[1:]}v{version}"
            # Chunk counts differ between versions, so a mix of two versions cannot pass for one.
            v = Version(doc_id, version, doc_text(tag, rng.randint(6, 30)), add_start=time.monotonic())
            with log.lock:
                log.versions[(doc_id, version)] = v
            if prev:
                prev.gone_start = v.add_start
            body = {"id": doc_id, "title": f"Note {doc_id}", "text": v.text, "metadata": {"version": version}}
            r = c.post("/v1/documents", json=body)
            v.add_end = time.monotonic()
            if prev:
                prev.gone_end = v.add_end
            if r.status_code != 201:
                log.errors.append(f"POST {doc_id}: {r.status_code} {r.text[:200]}")
                continue
            v.chunks = r.json()["results"][0]["chunks"]
            current[doc_id] = v
            log.count("replaces" if prev else "adds")


def reader(base: str, log: Log, deadline: float, rng: random.Random) -> None:
    with httpx.Client(base_url=base, timeout=120) as c:
        while time.monotonic() < deadline:
            roll = rng.random()
            probe: str | None = None
            if roll < 0.25:
                ids = log.live_ids()
                if not ids:
                    continue
                probe = rng.choice(ids)
                path = "/v1/search"
                body: dict[str, Any] = {"question": "note grams", "k": 100, "mode": "dense"}
                body["filters"] = {"doc_id": probe}
            else:
                path = "/v1/ask" if roll < 0.5 else "/v1/search"
                words = rng.sample(WORDS, 2)
                question = rng.choice(
                    [
                        f"Which note says the {words[0]} {words[1]} weighs how many grams?",
                        f"zq{rng.randrange(40)}v{rng.randrange(4)} {words[0]}",
                        f"{words[0]} and {words[1]}",
                    ]
                )
                body = {"question": question, "k": rng.choice([3, 5, 10])}
                if path == "/v1/search":
                    body["mode"] = rng.choice(["hybrid", "dense", "lexical"])
            t0 = time.monotonic()
            try:
                r = c.post(path, json=body)
            except httpx.HTTPError as exc:
                log.errors.append(f"{path} {body}: {type(exc).__name__}: {exc}")
                continue
            t1 = time.monotonic()
            if r.status_code != 200:
                log.errors.append(f"{path} {body}: {r.status_code} {r.text[:200]}")
                continue
            with log.lock:
                log.observations.append((path, t0, t1, r.json(), probe))
            log.count("probes" if probe else path)


def judge(log: Log) -> tuple[list[str], dict[str, int]]:
    """Check every observation against the writer's timeline; return the problems found."""
    problems: list[str] = []
    seen = {"passages": 0, "probe_hits": 0, "probe_empty": 0, "citations": 0}

    def version_of(doc_id: str, text: str, start: int, end: int, meta: dict[str, Any]) -> Version | None:
        v = log.versions.get((doc_id, meta.get("version", -1)))
        return v if v is not None and v.text[start:end] == text else None

    for path, t0, t1, data, probe in log.observations:
        passages = data["passages"]
        for p in passages:
            seen["passages"] += 1
            v = version_of(p["doc_id"], p["text"], p["start"], p["end"], p["metadata"])
            if v is None:
                problems.append(f"{path}: passage {p['doc_id']}[{p['start']}:{p['end']}] matches no version sent")
            elif not v.maybe_live(t0, t1):
                problems.append(f"{path}: {v.doc_id} v{v.version} was not in the index during the request")
        for cit in data.get("citations", []):
            seen["citations"] += 1
            owner = next((p for p in passages if p["doc_id"] == cit["doc_id"]), None)
            v = owner and version_of(cit["doc_id"], cit["quote"], cit["start"], cit["end"], owner["metadata"])
            if not v:
                problems.append(f"{path}: citation {cit['doc_id']}[{cit['start']}:{cit['end']}] is not its text")
        if probe is None:
            continue
        if not passages:
            seen["probe_empty"] += 1
            sure = [v for v in log.versions.values() if v.doc_id == probe and v.surely_live(t0, t1)]
            if sure:
                problems.append(f"probe {probe}: nothing found while v{sure[0].version} was surely there")
            continue
        seen["probe_hits"] += 1
        versions = {p["metadata"].get("version") for p in passages}
        if len(versions) != 1 or {p["doc_id"] for p in passages} != {probe}:
            problems.append(f"probe {probe}: a mix of documents or versions {versions}")
            continue
        v = log.versions[(probe, versions.pop())]
        # Touching chunks come back stitched into one passage, so "all its chunks" is "all its text".
        covered = sorted((p["start"], p["end"]) for p in passages)
        reach = 0
        for start, end in covered:
            if start > reach:
                break
            reach = max(reach, end)
        if reach < len(v.text):
            problems.append(f"probe {probe} v{v.version}: passages {covered} leave text out: half there")
    return problems, seen


@pytest.mark.slow
def test_16_readers_and_a_writer_for_60_seconds(make_service: Callable[..., QAService]) -> None:
    svc = make_service("concurrency")
    log = Log()
    # Documents that never change, so every question has something to find from the start.
    stable = [
        {"id": f"s{i}", "title": f"Stable {i}", "text": doc_text(f"s{i}v0", 12), "metadata": {"version": 0}}
        for i in range(8)
    ]
    with live_server(svc) as base:
        r = httpx.post(f"{base}/v1/documents", json={"documents": stable}, timeout=120)
        assert r.status_code == 201
        for d, res in zip(stable, r.json()["results"], strict=True):
            log.versions[(d["id"], 0)] = Version(d["id"], 0, d["text"], 0.0, 0.0, chunks=res["chunks"])
        deadline = time.monotonic() + DURATION
        threads = [threading.Thread(target=writer, args=(base, log, deadline, random.Random(0)))]
        threads += [
            threading.Thread(target=reader, args=(base, log, deadline, random.Random(i + 1))) for i in range(READERS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DURATION + 180)
        assert not any(t.is_alive() for t in threads), "a client hung"
        # The server still answers, and the index is sound after the storm.
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
    assert svc.store.verify() == []  # type: ignore[attr-defined]

    assert log.errors == [], f"{len(log.errors)} errors, first: {log.errors[:3]}"
    problems, seen = judge(log)
    print(f"requests and writes: {log.counts}; checked: {seen}")  # shown with -s, or on failure
    assert problems == [], f"{len(problems)} inconsistent results, first: {problems[:5]}"
    # The run proved something: the writer churned and the readers saw churning documents.
    counts = log.counts
    assert counts.get("adds", 0) >= 5 and counts.get("replaces", 0) >= 2 and counts.get("deletes", 0) >= 2, counts
    assert sum(counts.get(k, 0) for k in ("/v1/search", "/v1/ask", "probes")) >= 100, counts
    assert seen["probe_hits"] >= 5 and seen["citations"] >= 5, seen
    assert any(p["doc_id"].startswith("c") for _, _, _, d, _ in log.observations for p in d["passages"])


def test_the_judge_catches_stale_partial_and_mixed_results() -> None:
    """The checker above is only worth its zero if it fails on the faults it looks for."""
    log = Log()
    old = Version("c1", 0, doc_text("1v0", 4), add_start=0.0, add_end=1.0, gone_start=5.0, gone_end=6.0)
    new = Version("c1", 1, doc_text("1v1", 6), add_start=5.0, add_end=6.0)
    log.versions = {("c1", 0): old, ("c1", 1): new}

    def passage(v: Version, start: int, end: int) -> dict[str, Any]:
        meta = {"version": v.version}
        return {"doc_id": v.doc_id, "text": v.text[start:end], "start": start, "end": end, "metadata": meta}

    whole_new = {"passages": [passage(new, 0, 50), passage(new, 40, len(new.text))]}
    log.observations = [
        ("/v1/search", 2.0, 3.0, {"passages": [passage(old, 0, 30)]}, None),  # fine: old was live
        ("/v1/search", 7.0, 8.0, {"passages": [passage(old, 0, 30)]}, None),  # stale: deleted at 6.0
        ("/v1/search", 0.1, 0.2, {"passages": [passage(new, 0, 30)]}, None),  # not yet added
        ("/v1/search", 2.0, 3.0, {"passages": [{**passage(old, 0, 30), "text": "edited"}]}, None),  # wrong text
        ("/v1/search", 7.0, 8.0, whole_new, "c1"),  # fine: all of v1
        ("/v1/search", 7.0, 8.0, {"passages": [passage(new, 0, 50)]}, "c1"),  # half there
        ("/v1/search", 5.5, 5.7, {"passages": [passage(old, 0, 30), passage(new, 0, 30)]}, "c1"),  # mixed
        ("/v1/search", 2.0, 3.0, {"passages": []}, "c1"),  # missing while surely there
        ("/v1/search", 5.5, 5.7, {"passages": []}, "c1"),  # fine: mid-replace
        (
            "/v1/ask",
            2.0,
            3.0,
            {
                "passages": [passage(old, 0, 30)],
                "citations": [{"doc_id": "c1", "start": 0, "end": 5, "quote": "wrong"}],
            },
            None,
        ),  # bad citation
    ]
    problems, _ = judge(log)
    assert len(problems) == 7, problems
    for needle in ("was not in the index", "matches no version", "half there", "a mix", "surely there", "citation"):
        assert any(needle in p for p in problems), needle
