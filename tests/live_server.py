"""A real uvicorn server on 127.0.0.1 and a free port, in a thread of the test process, so it can
share the session's already-loaded model. Clients talk to it over real sockets."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from qa.api import create_app
from qa.service import QAService

# The base URL of in-process clients (Starlette's TestClient): a host name the app answers to by
# default (QA_ALLOWED_HOSTS), which TestClient's own `testserver` is not.
LOCAL = "http://localhost"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(svc: QAService) -> Iterator[str]:
    """Serve ``svc`` until the block ends; yields the base URL."""
    with serve(create_app(svc.settings, service=svc)) as base:
        yield base


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve any ASGI app until the block ends; yields the base URL."""
    # Bound here and handed to uvicorn: no window in which another process can take the port.
    sock = socket.socket()
    # Accepted connections inherit this: without it, a response written in two parts waited for the
    # client's delayed ACK (about 40 ms per request) on sockets handed to uvicorn.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def upload_dir(base: str, directory: Path, key: str | None = None) -> None:
    """Index every file of a directory through the real upload route."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        for path in sorted(directory.iterdir()):
            r = client.post("/v1/documents", files={"file": (path.name, path.read_bytes())})
            assert r.status_code == 201, r.text


def stop(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """End a server subprocess: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
