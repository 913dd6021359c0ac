"""`qa serve --samples DIR` (what `make run` does): the sample documents go into an index this start
creates, never into one that exists, so a user's own index never gets them back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import EXAMPLES
from ..live_server import free_port, stop

pytestmark = pytest.mark.slow


def _serve_and_count(index_dir: Path, delete: str | None = None) -> tuple[int, int, str]:
    """Start `qa serve --samples EXAMPLES`; the documents it serves at start and after ``delete``, and its log."""
    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "qa", "serve", "--port", str(port), "--samples", str(EXAMPLES)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
            at_start = int(client.get("/healthz").json()["documents"])
            if delete:
                assert client.delete(f"/v1/documents/{delete}").status_code in (200, 204)
            documents = int(client.get("/healthz").json()["documents"])
    finally:
        stop(proc)
    return at_start, documents, proc.stderr.read() if proc.stderr else ""


def test_samples_only_on_the_first_run(tmp_path: Path) -> None:
    samples, left, log = _serve_and_count(tmp_path / "index", delete="bread-baking.txt")
    assert samples >= len(list(EXAMPLES.iterdir())) and left == samples - 1, log
    # The user's index now lacks a sample they deleted: a second start does not bring it back.
    again, _, log = _serve_and_count(tmp_path / "index")
    assert again == samples - 1, log
    assert "the sample documents are not added" in log
