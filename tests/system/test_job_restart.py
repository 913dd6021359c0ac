"""A job survives its server: `qa serve` (the bundled model) is SIGKILLed while ingestion jobs are
queued and running, started again on the same index, and every job it acknowledged (202) finishes
there, with every file of it indexed and searchable by the one word only that file has."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
KILLS = 2
JOBS_PER_ROUND = 3
FILES_PER_JOB = 4


def _env(index_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QA_INDEX_DIR": str(index_dir),
        "QA_JOB_THRESHOLD_BYTES": "0",  # every ingestion request is a job
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def _file(tag: str) -> bytes:
    words = ["kiln", "otter", "granite", "lantern", "meadow", "copper", "harbor", "violet", "cedar"]
    body = " ".join(f"Sentence {j} of note zq{tag} says the {words[j % 9]} number {j * 13 + 5}." for j in range(60))
    return f"# Note {tag}\n\n{body}\n".encode()


def _start(index_dir: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(index_dir),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, f"qa serve exited: {proc.stderr.read() if proc.stderr else ''}"
        assert time.monotonic() < deadline, "qa serve did not start"
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_jobs_acknowledged_before_a_sigkill_finish_after_the_restart(tmp_path: Path) -> None:
    rng = random.Random(7)
    index_dir = tmp_path / "index"
    acked: dict[str, list[str]] = {}  # job id -> the document ids of its files
    for rnd in range(KILLS):
        proc, base = _start(index_dir)
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                first = None
                for j in range(JOBS_PER_ROUND):
                    tags = [f"r{rnd}j{j}f{f}" for f in range(FILES_PER_JOB)]
                    files = [("file", (f"{t}.md", _file(t))) for t in tags]
                    r = client.post("/v1/documents/upload", files=files, data={"source": "crash"})
                    assert r.status_code == 202, r.text
                    acked[r.json()["id"]] = [f"crash/{t}.md" for t in tags]
                    first = first or r.json()["id"]
                # Killed once the first job of the round is running (some of its files done, or not).
                deadline = time.monotonic() + 120
                while _job(client, first)["status"] == "queued":
                    assert time.monotonic() < deadline, "the job never started"
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, 2.0))
                states = {job_id: _job(client, job_id)["status"] for job_id in acked}
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert "queued" in states.values() or "running" in states.values(), f"nothing left to resume: {states}"

    # A new server resumes what the killed ones left; every acknowledged job finishes.
    proc, base = _start(index_dir)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 420
            for job_id, doc_ids in acked.items():
                while (job := _job(client, job_id))["status"] not in ("succeeded", "failed"):
                    assert time.monotonic() < deadline, f"job {job_id} still {job['status']}: {job['progress']}"
                    time.sleep(0.2)
                assert job["status"] == "succeeded", job
                assert [i["status"] for i in job["items"]] == ["succeeded"] * FILES_PER_JOB, job
                assert [i["results"][0]["id"] for i in job["items"]] == doc_ids
            resumed = [j for j in client.get("/v1/jobs", params={"limit": 100}).json()["jobs"] if j["attempts"] > 1]
            assert resumed, "no job was interrupted and resumed: the test proved nothing"
            for doc_ids in acked.values():
                for doc_id in doc_ids:
                    assert client.get(f"/v1/documents/{doc_id}").status_code == 200, doc_id
                    tag = doc_id.removeprefix("crash/").removesuffix(".md")
                    query = {"question": f"zq{tag}", "k": 1, "mode": "lexical"}
                    hits = client.post("/v1/search", json=query).json()["passages"]
                    assert hits and hits[0]["doc_id"] == doc_id, (doc_id, hits[:1])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
