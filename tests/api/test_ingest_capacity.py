"""Ingestion has its own bounded capacity: questions are answered while it is saturated, and a full
ingestion queue answers 503 with Retry-After instead of waiting (issue 16 point 16)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from qa.service import QAService
from tests.live_server import live_server

DOCS = Path(__file__).resolve().parents[2] / "examples" / "docs"


def test_questions_are_answered_while_ingestion_is_saturated_and_a_full_queue_is_503(
    make_service: Callable[..., QAService],
) -> None:
    svc = make_service("capacity", ingest_queue=1, ingest_threads=1)
    svc.index_paths([DOCS])
    release = threading.Event()
    doc = {"id": "queued", "text": "The queued document is about lighthouses and their keepers."}
    with live_server(svc) as base, httpx.Client(base_url=base, timeout=60) as http, ThreadPoolExecutor(2) as pool:
        assert svc.ingestor.threads == 1  # the server shares the cores (QAService.serving)
        # Saturate the worker: one call runs (blocked) and the posted document waits behind it.
        blocker = svc.ingest_worker.submit(release.wait, 60)
        queued = pool.submit(http.post, "/v1/documents", json=doc)
        deadline = time.monotonic() + 30
        while svc.ingest_worker.pending < 2:
            assert time.monotonic() < deadline, "the posted document never reached the ingestion queue"
            time.sleep(0.01)
        # The queue (QA_INGEST_QUEUE=1) is full: the next write is refused at once, nothing stored.
        refused = http.post("/v1/documents", json={"id": "refused", "text": "Refused while the queue is full."})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "unavailable" and "QA_INGEST_QUEUE" in refused.json()["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Questions do not wait for ingestion.
        for route in ("search", "ask"):
            t = time.perf_counter()
            r = http.post(f"/v1/{route}", json={"question": "How long should sourdough proof?", "k": 3})
            assert r.status_code == 200, r.text
            assert time.perf_counter() - t < 10
        assert not queued.done()
        release.set()
        assert blocker.result(timeout=30) is True
        done = queued.result(timeout=60)
        assert done.status_code == 201 and done.json()["results"][0]["status"] == "added"
        assert svc.ingest_worker.pending == 0
        assert http.get("/v1/documents/refused").status_code == 404
        assert http.get("/v1/documents/queued").status_code == 200
        # With room again, a write goes through.
        again = http.post("/v1/documents", json={"id": "refused", "text": "Sent again once there is room."})
        assert again.status_code == 201
