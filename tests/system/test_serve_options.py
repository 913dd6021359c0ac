"""`qa serve` options for a first start: `--samples DIR` (what `make run` does: the sample documents
go into an index this start creates, never into one that exists, so a user's own index never gets
them back) and `--key-file` (the container's default: a key made once and kept, so a server that
must bind a public address starts without QA_API_KEYS)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ..conftest import EXAMPLES
from ..live_server import free_port, stop

pytestmark = pytest.mark.slow


@contextmanager
def _serving(index_dir: Path, *options: str) -> Iterator[tuple[httpx.Client, subprocess.Popen[str]]]:
    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("QA_API_KEYS", None)
    cmd = [sys.executable, "-m", "qa", "serve", "--port", str(port), *options]
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
            yield client, proc
    finally:
        stop(proc)


def _serve_and_count(index_dir: Path, delete: str | None = None) -> tuple[int, int, str]:
    """Start `qa serve --samples EXAMPLES`; the documents it serves at start and after ``delete``, and its log."""
    with _serving(index_dir, "--samples", str(EXAMPLES)) as (client, proc):
        at_start = int(client.get("/healthz").json()["documents"])
        if delete:
            assert client.delete(f"/v1/documents/{delete}").status_code in (200, 204)
        documents = int(client.get("/healthz").json()["documents"])
    return at_start, documents, proc.stderr.read() if proc.stderr else ""


def test_samples_only_on_the_first_run(tmp_path: Path) -> None:
    samples, left, log = _serve_and_count(tmp_path / "index", delete="examples/bread-baking.txt")
    assert samples >= len(list(EXAMPLES.iterdir())) and left == samples - 1, log
    # The user's index now lacks a sample they deleted: a second start does not bring it back.
    again, _, log = _serve_and_count(tmp_path / "index")
    assert again == samples - 1, log
    assert "the sample documents are not added" in log


def test_key_file_makes_one_key_and_keeps_it(tmp_path: Path) -> None:
    key_file = tmp_path / "index" / "api-key"
    doc = {"id": "a", "text": "Otters hold hands while they sleep."}
    with _serving(tmp_path / "index", "--key-file", str(key_file)) as (client, proc):
        key = key_file.read_text().strip()
        assert len(key) >= 32 and key_file.stat().st_mode & 0o777 == 0o600
        assert client.post("/v1/documents", json=doc).status_code == 401
        ok = client.post("/v1/documents", json=doc, headers={"authorization": f"Bearer {key}"})
        assert ok.status_code == 201, ok.text
        assert client.post("/v1/search", json={"question": "otters"}).status_code == 200  # reads stay open
    log = proc.stderr.read() if proc.stderr else ""
    assert str(key_file) in log and key not in log  # the key itself is never printed
    with _serving(tmp_path / "index", "--key-file", str(key_file)) as (client, _):
        assert key_file.read_text().strip() == key  # kept across restarts
        r = client.delete("/v1/documents/a", headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
