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


def test_two_workers_share_one_index(tmp_path: Path, seed_article: Path) -> None:
    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1"}
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
