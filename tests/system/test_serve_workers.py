"""`qa serve --workers 2`: two server processes on one embedded index, with the real model.

A document written through one process is searchable through both: each process notices the
other's write by the index generation and reloads (README "Concurrency model"). The processes are
told apart by their PIDs, which the test reads from `/proc` (the children of the serve process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..live_server import free_port, stop

pytestmark = pytest.mark.slow

START_SECONDS = 120


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after it.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def serve_two_workers(index_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """`qa serve --workers 2` on ``index_dir``, once both workers are up; the process and its base URL."""
    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "qa", "serve", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    if client.get("/healthz").status_code == 200 and len(_children(proc.pid)) >= 2:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.3)
    except BaseException:
        stop(proc)
        raise
    return proc, base


def test_two_workers_share_one_index(tmp_path: Path, seed_article: Path) -> None:
    proc, base = serve_two_workers(tmp_path / "index")
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            workers = _children(proc.pid)
            assert len(workers) >= 2, workers

            r = client.post(
                "/v1/documents", json={"documents": [{"id": "paris", "text": seed_article.read_text("utf-8")}]}
            )
            assert r.status_code == 201, r.text
            # Fresh connections land on either process; every one of them must see the document.
            seen_empty = 0
            for _ in range(12):
                with httpx.Client(base_url=base, timeout=60) as fresh:
                    hits = fresh.post("/v1/search", json={"question": "Who met in Paris?", "k": 3}).json()["passages"]
                    assert hits and hits[0]["doc_id"] == "paris"
                    seen_empty += fresh.get("/healthz").json()["documents"] != 1
            assert seen_empty == 0
            answer = client.post("/v1/ask", json={"question": "Who met in Paris?"}).json()
            assert "Dermer" in answer["answer"]
            assert answer["citations"][0]["doc_id"] == "paris"
    finally:
        stop(proc)
    assert proc.returncode is not None


def test_a_collection_deleted_through_one_worker_is_a_404_from_both(tmp_path: Path) -> None:
    """Both workers answer from collection hr; one of them deletes it; every later request, whichever
    worker takes it, is a 404: OpenAI's ``model_not_found`` on /v1/chat/completions, qa's on /v1/ask."""
    proc, base = serve_two_workers(tmp_path / "index")
    leave = "How many weeks of paid parental leave do employees get?"
    chat = {"model": "hr", "messages": [{"role": "user", "content": leave}]}
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            assert client.post("/v1/collections", json={"name": "hr"}).status_code == 201
            doc = {"id": "leave", "text": "Employees receive sixteen weeks of paid parental leave."}
            assert client.post("/v1/documents?collection=hr", json=doc).status_code == 201
        for _ in range(8):  # fresh connections land on either worker: both open hr
            with httpx.Client(base_url=base, timeout=60) as fresh:
                r = fresh.post("/v1/chat/completions", json=chat)
                assert r.status_code == 200 and "sixteen" in r.json()["choices"][0]["message"]["content"], r.text
        with httpx.Client(base_url=base, timeout=60) as client:
            assert client.delete("/v1/collections/hr").status_code == 200
        for _ in range(8):
            with httpx.Client(base_url=base, timeout=60) as fresh:
                r = fresh.post("/v1/chat/completions", json=chat)
                assert r.status_code == 404, r.text
                error = r.json()["error"]
                assert error["code"] == "model_not_found" and error["param"] == "model", error
                streamed = fresh.post("/v1/chat/completions", json={**chat, "stream": True})
                assert streamed.status_code == 404 and streamed.json()["error"]["code"] == "model_not_found"
                native = fresh.post("/v1/ask?collection=hr", json={"question": leave})
                assert native.status_code == 404 and native.json()["error"] == "not_found", native.text
    finally:
        stop(proc)
