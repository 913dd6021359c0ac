"""Sharded ingestion: two `--shard i/2` workers into one Postgres, one killed and rerun.

The real model, a real Postgres, a real process killed: the end state holds every document exactly once,
with whole chunk lists, whatever moment the killed worker died at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from qa.config import Settings
from qa.embed import Embedder
from qa.errors import InvalidInput
from qa.service import QAService
from qa.shard import parse_shard, shard_of

from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

N_DOCS = 240
TOPICS = ["glaciers", "violins", "tax law", "beetles", "sourdough", "satellites", "opera", "tides"]


def test_shard_specs_and_the_split() -> None:
    assert str(parse_shard("1/3")) == "1/3" and parse_shard(" 0 / 2 ").count == 2
    for bad in ("2/2", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(InvalidInput, match="shard"):
            parse_shard(bad)
    ids = [f"doc-{i}" for i in range(1000)]
    # Stable across processes and runs (not Python's salted hash), and roughly even.
    assert [shard_of(i, 2) for i in ids[:8]] == [shard_of(i, 2) for i in ids[:8]]
    assert shard_of("doc-0", 7) == shard_of("doc-0", 7)
    sizes = [sum(shard_of(i, 4) == s for i in ids) for s in range(4)]
    assert min(sizes) > 200 and sum(sizes) == 1000


def _corpus(folder: Path, per_file: int = 10) -> list[str]:
    """``N_DOCS`` notes as .jsonl files of ``per_file`` notes each: a file is one all-or-nothing
    write, so a worker killed part-way has committed some files of its share and not others."""
    folder.mkdir()
    ids = []
    for first in range(0, N_DOCS, per_file):
        with (folder / f"notes-{first // per_file:03d}.jsonl").open("w", encoding="utf-8") as fh:
            for i in range(first, min(first + per_file, N_DOCS)):
                topic = TOPICS[i % len(TOPICS)]
                doc_id = f"notes/{i:04d}"
                text = (
                    f"Note {i} is about {topic}. It records observation number {i * 7 % 101} "
                    f"made on day {i % 28 + 1}, and what the team concluded about {topic} afterwards."
                )
                record = {"id": doc_id, "title": f"Note {i}", "text": text, "metadata": {"topic": topic}}
                fh.write(json.dumps(record) + "\n")
                ids.append(doc_id)
    return ids


def _committed(url: str) -> set[str]:
    try:
        with psycopg.connect(url) as conn:
            return {r[0] for r in conn.execute("SELECT id FROM qa_default.documents")}
    except psycopg.errors.UndefinedTable:
        return set()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_one_killed_and_rerun_index_everything_once(
    tmp_path: Path, pg_url: str, embedder: Embedder
) -> None:
    """Worker 0 is a real `qa index --shard 0/2` process, SIGKILLed part-way. Worker 1 and the rerun
    of worker 0 run the same indexing code in this process (sharing the session's model, to keep
    the test short), each with its own store and connections."""
    corpus = tmp_path / "corpus"
    ids = _corpus(corpus)
    share = {s: {i for i in ids if shard_of(i, 2) == s} for s in range(2)}
    env = {
        **os.environ,
        "QA_STORE": pg_url,
        "QA_INDEX_DIR": str(tmp_path / "unused"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }

    def in_process(shard: str) -> dict[str, Any]:
        svc = QAService(Settings(store=pg_url), embedder=embedder)
        try:
            return svc.index_paths([corpus], shard=parse_shard(shard)).as_dict()
        finally:
            svc.close()

    cmd = [sys.executable, "-m", "qa", "index", str(corpus), "--shard", "0/2", "--json"]
    w0 = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Kill worker 0 (SIGKILL: no cleanup) as soon as it has committed something.
        deadline = time.monotonic() + 240
        while not (_committed(pg_url) & share[0]):
            assert w0.poll() is None, f"worker 0 ended before it could be killed: {w0.communicate()}"
            assert time.monotonic() < deadline, "worker 0 committed nothing in 240 s"
            time.sleep(0.05)
        # Worker 1 starts while worker 0 is writing, and runs on after worker 0 dies.
        with ThreadPoolExecutor(1) as pool:
            w1 = pool.submit(in_process, "1/2")
            time.sleep(0.2)
            w0.kill()
            w0.wait(timeout=30)
            before = _committed(pg_url) & share[0]
            s1 = w1.result(timeout=300)
    finally:
        if w0.poll() is None:
            w0.kill()
            w0.wait()
    assert 0 < len(before) < len(share[0]), "the kill should land part-way through worker 0's share"
    assert (s1["added"], s1["other_shards"], s1["shard"]) == (len(share[1]), len(share[0]), "1/2")

    # The rerun finishes worker 0's share: what it had committed is unchanged, the rest added.
    s0 = in_process("0/2")
    assert s0["unchanged"] == len(before) and s0["added"] == len(share[0]) - len(before) and s0["updated"] == 0
    assert s0["failed"] == [] and s0["other_shards"] == len(share[1])

    with psycopg.connect(pg_url) as conn:
        assert {r[0] for r in conn.execute("SELECT id FROM qa_default.documents")} == set(ids)
        # Every document's chunks are exactly ordinals 0..n_chunks-1: none missing, none twice.
        broken = conn.execute(
            "SELECT d.id FROM qa_default.documents d LEFT JOIN qa_default.chunks c ON c.doc_id = d.id"
            " GROUP BY d.id, d.n_chunks HAVING count(c.id) <> d.n_chunks"
            " OR count(DISTINCT c.ordinal) <> d.n_chunks OR COALESCE(max(c.ordinal), -1) <> d.n_chunks - 1"
        ).fetchall()
        assert broken == []
        assert conn.execute("SELECT count(*) FROM qa_default.chunks").fetchone() == (N_DOCS,)
