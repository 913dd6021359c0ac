"""/metrics in Prometheus format and request ids on every response."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.api import create_app
from qa.config import Settings
from qa.observability import configure_logging
from qa.service import QAService

from ..fakes import HashEmbedder
from ..live_server import LOCAL


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_per_route_and_index_size(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path)
    with TestClient(create_app(settings, service=QAService(settings, embedder=HashEmbedder())), base_url=LOCAL) as c:
        c.post("/v1/documents", json={"id": "a", "text": "Otters hold hands while they sleep."})
        c.post("/v1/documents", json={"id": "a", "text": "Otters hold hands while they sleep."})
        for _ in range(3):
            c.post("/v1/search", json={"question": "otters"})
        c.post("/v1/search", json={"question": ""})
        c.get("/v1/documents/a")
        m = samples(c.get("/metrics").text)
    route = (("method", "POST"), ("route", "/v1/search"))
    assert m[("qa_http_requests_total", (*route, ("status", "200")))] == 3
    assert m[("qa_http_requests_total", (*route, ("status", "422")))] == 1
    assert m[("qa_http_request_duration_seconds_count", route)] == 4
    assert (
        m[("qa_http_requests_total", (("method", "GET"), ("route", "/v1/documents/{doc_id:path}"), ("status", "200")))]
        == 1
    )
    assert m[("qa_ingested_documents_total", (("status", "added"),))] == 1
    assert m[("qa_ingested_documents_total", (("status", "unchanged"),))] == 1
    assert m[("qa_ingested_chunks_total", ())] == 1
    assert m[("qa_index_documents", ())] == 1 and m[("qa_index_chunks", ())] == 1


def test_request_id_is_echoed_or_made(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path)
    with TestClient(create_app(settings, service=QAService(settings, embedder=HashEmbedder())), base_url=LOCAL) as c:
        assert c.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
        made = c.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]
        assert made != "bad id\n" and len(made) == 32


def test_json_logs_carry_the_request_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(index_dir=tmp_path)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("json")
    try:
        with TestClient(
            create_app(settings, service=QAService(settings, embedder=HashEmbedder())), base_url=LOCAL
        ) as c:
            c.get("/healthz", headers={"X-Request-ID": "req-42"})
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [x for x in lines if x.get("name") == "qa.access"]
    assert access and access[-1]["request_id"] == "req-42" and access[-1]["status"] == 200
    assert access[-1]["route"] == "/healthz" and access[-1]["duration_ms"] >= 0
