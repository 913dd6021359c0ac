"""One upload must not freeze the server (issue 16, point 13): a PDF bomb or a large messy HTML
file is parsed in a worker process within QA_PARSE_TIMEOUT, while /healthz and searches are still
answered; then the upload gets a 413 that names the setting. ``qa index`` applies the same limit."""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from qa.service import QAService

from ..conftest import EXAMPLES
from ..hostile import messy_html, pdf_bomb
from ..live_server import live_server

TIMEOUT = 2.0


@pytest.mark.parametrize(
    ("name", "data"),
    # Bounded: unlimited, they take about 10 and 5 s to parse on the 2-core machine.
    [("bomb.pdf", pdf_bomb()), ("messy.html", messy_html())],
)
def test_slow_upload_does_not_stop_the_server(
    name: str, data: bytes, make_service: Callable[..., QAService], capsys: pytest.CaptureFixture[str]
) -> None:
    # Answered in the request (messy.html is 1.35 MB, over the job threshold): the 413 is what is checked.
    svc = make_service(parse_timeout=TIMEOUT, job_threshold_bytes=10_000_000)
    assert svc.index_paths([EXAMPLES]).failed == []
    with live_server(svc) as base, httpx.Client(base_url=base, timeout=60) as client:
        client.get("/healthz").raise_for_status()
        outcome: dict[str, object] = {}

        def upload() -> None:
            started = time.monotonic()
            r = client.post("/v1/documents", files={"file": (name, data)})
            outcome.update(status=r.status_code, body=r.json(), seconds=time.monotonic() - started)

        uploader = threading.Thread(target=upload)
        uploader.start()
        time.sleep(0.3)  # the upload is being parsed
        health: list[float] = []
        search: list[float] = []
        while uploader.is_alive():
            for route, latencies in (("/healthz", health), ("/v1/search", search)):
                t = time.monotonic()
                if route == "/healthz":
                    r = client.get(route)
                else:
                    # A new question each time: no cached query embedding.
                    question = f"Who met in Paris, meeting {len(search)}?"
                    r = client.post(route, json={"question": question, "k": 3})
                latencies.append(time.monotonic() - t)
                assert r.status_code == 200, r.text
            time.sleep(0.05)
        uploader.join()
    with capsys.disabled():
        print(
            f"\n{name} ({len(data):,} bytes): upload answered {outcome['status']} after {outcome['seconds']:.2f} s; "
            f"meanwhile /healthz p50 {ms(statistics.median(health))}, max {ms(max(health))} (n={len(health)}); "
            f"/v1/search p50 {ms(statistics.median(search))}, max {ms(max(search))} (n={len(search)})"
        )
    # The longest wait is what a freeze shows (unlimited, in the event loop, it was the whole parse).
    assert max(health) < 1.5 and max(search) < 1.5
    assert len(health) >= 5, "too little was answered while the upload was parsed"
    assert outcome["status"] == 413
    assert "QA_PARSE_TIMEOUT" in str(outcome["body"])
    assert float(outcome["seconds"]) < TIMEOUT + 3  # type: ignore[arg-type]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def test_qa_index_applies_the_parse_time_limit(tmp_path: Path, make_service: Callable[..., QAService]) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(EXAMPLES / "paris-talks.md", folder)
    (folder / "bomb.pdf").write_bytes(pdf_bomb())
    svc = make_service(parse_timeout=1.0)
    started = time.monotonic()
    summary = svc.index_paths([folder])
    assert time.monotonic() - started < 30
    assert summary.added == 1
    assert [f["path"] for f in summary.failed] == [str(folder / "bomb.pdf")]
    assert "took more than 1 s to parse" in summary.failed[0]["error"]
