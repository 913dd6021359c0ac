"""/metrics in Prometheus format and request ids on every response."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.api import create_app
from qa.config import Settings
from qa.observability import configure_logging
from qa.service import QAService
from qa.stages import STAGES

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
        # A second collection counts apart.
        assert c.post("/v1/collections", json={"name": "hr"}).status_code == 201
        for doc in ({"id": "b", "text": "Leave is sixteen weeks."}, {"id": "c", "text": "Holidays are 25 days."}):
            assert c.post("/v1/documents?collection=hr", json=doc).status_code == 201
        m = samples(c.get("/metrics").text)
    route = (("method", "POST"), ("route", "/v1/search"))
    assert m[("qa_http_requests_total", (*route, ("status", "200")))] == 3
    assert m[("qa_http_requests_total", (*route, ("status", "422")))] == 1
    assert m[("qa_http_request_duration_seconds_count", route)] == 4
    assert (
        m[("qa_http_requests_total", (("method", "GET"), ("route", "/v1/documents/{doc_id:path}"), ("status", "200")))]
        == 1
    )
    via = ("route", "/v1/documents")
    default, hr = ("collection", "default"), ("collection", "hr")
    assert m[("qa_ingested_documents_total", (default, via, ("status", "added")))] == 1
    assert m[("qa_ingested_documents_total", (default, via, ("status", "unchanged")))] == 1
    assert m[("qa_ingested_chunks_total", (default, via))] == 1
    assert m[("qa_index_documents", (default,))] == 1 and m[("qa_index_chunks", (default,))] == 1
    assert m[("qa_index_size_bytes", (default,))] > 0
    # Labelled by collection: hr's two documents are not the default's.
    assert m[("qa_ingested_documents_total", (hr, via, ("status", "added")))] == 2
    assert ("qa_ingested_documents_total", (hr, via, ("status", "unchanged"))) not in m
    assert m[("qa_ingested_chunks_total", (hr, via))] == 2
    assert m[("qa_index_documents", (hr,))] == 2 and m[("qa_index_chunks", (hr,))] == 2
    assert m[("qa_index_size_bytes", (hr,))] > 0
    # The process's own metrics, as every Prometheus client exports them.
    assert m[("process_resident_memory_bytes", ())] > 0 and m[("process_cpu_seconds_total", ())] > 0
    assert any(name == "python_info" for name, _ in m)


def test_stages_and_answers_in_metrics(make_service: Callable[..., QAService], seed_article: Path) -> None:
    """Each stage of an answer is timed, and every way of asking counts its answer as found or not."""
    svc = make_service()
    with TestClient(create_app(svc.settings, service=svc), base_url=LOCAL) as c:
        assert c.post("/v1/documents", json={"id": "paris", "text": seed_article.read_text("utf-8")}).status_code == 201
        assert c.post("/v1/ask", json={"question": "Who met in Paris?"}).json()["found"]
        assert c.post("/v1/ask", json={"question": "What is the boiling point of tungsten?"}).status_code == 200
        chat = {"model": "qa", "messages": [{"role": "user", "content": "Who met in Paris?"}], "stream": True}
        assert "Dermer" in c.post("/v1/chat/completions", json=chat).text
        c.post("/v1/search", json={"question": "Paris talks", "mode": "lexical"})
        m = samples(c.get("/metrics").text)
    # Labelled by collection too: make_service's index is the collection "test".
    of = ("collection", "test")
    count = {stage: m.get(("qa_stage_duration_seconds_count", (of, ("stage", stage))), 0) for stage in STAGES}
    # Three answers (each embeds, searches, re-scores and answers) and one lexical search (no embedding).
    assert count == {"embed": 3, "first_stage": 4, "second_stage": 4, "answer": 3, "generate": 0}, count
    assert m[("qa_stage_duration_seconds_sum", (of, ("stage", "embed")))] > 0
    found = m[("qa_answers_total", (of, ("result", "found")))]
    not_found = m.get(("qa_answers_total", (of, ("result", "not_found"))), 0)
    assert found + not_found == 3 and found >= 2


def test_traceparent_is_the_request_id_and_stages_are_spans(
    make_service: Callable[..., QAService], seed_article: Path
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # what opentelemetry-instrument or an embedding program does
    if trace.get_tracer_provider() is not provider:
        pytest.skip("another test set this process's tracer provider first")
    try:
        spans_of_one_request(make_service, seed_article, exporter)
    finally:
        provider.shutdown()  # the global provider stays set; later tests' spans are dropped


def spans_of_one_request(make_service: Callable[..., QAService], seed_article: Path, exporter: Any) -> None:
    svc = make_service()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with TestClient(create_app(svc.settings, service=svc), base_url=LOCAL) as c:
        c.post("/v1/documents", json={"id": "paris", "text": seed_article.read_text("utf-8")})
        r = c.post(
            "/v1/ask",
            json={"question": "Who met in Paris?"},
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "X-Request-ID": "ignored"},
        )
        assert r.headers["x-request-id"] == trace_id
        bad = c.get("/healthz", headers={"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"})
        assert len(bad.headers["x-request-id"]) == 32 and bad.headers["x-request-id"] != "0" * 32
    spans = [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    names = {s.name for s in spans}
    assert {"POST /v1/ask", "qa.embed", "qa.first_stage", "qa.second_stage", "qa.answer"} <= names, names
    server = next(s for s in spans if s.name == "POST /v1/ask")
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"  # a child of the caller's span
    assert all(s.parent is not None for s in spans)


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
