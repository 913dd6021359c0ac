"""Metrics (Prometheus), traces (OpenTelemetry, when configured) and structured logs with a request id.

Each app gets its own registry, so several apps in one process (tests, replicas) never clash.
Route labels are route templates (``/v1/documents/{doc_id:path}``), never raw paths, so a
client cannot blow up label cardinality. The answer path's stages and outcomes (``qa.stages``)
reach them through ``Metrics.observer``, one per request: per-stage latency histograms, answers
found or not, documents ingested by the route they came in through and the collection; and, with OpenTelemetry
installed and an exporter configured (``OTEL_TRACES_EXPORTER`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``),
a span per request and per stage.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, gc_collector, platform_collector, process_collector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("qa.access")


def new_request_id(incoming: str | None, traceparent: str | None = None) -> str:
    """The trace id of the caller's ``traceparent`` when it sent one, so logs and traces join up;
    else the client's X-Request-ID when it is a sane token; else a fresh one."""
    trace_id = traceparent_id(traceparent)
    if trace_id:
        return trace_id
    return incoming if incoming and _RID.match(incoming) else uuid.uuid4().hex


class _IndexCollector(Collector):
    """Index sizes, read from the stores at scrape time, one sample per collection open in this process."""

    def __init__(self, stats: Callable[[], dict[str, dict[str, Any]]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            by_collection = self.stats()
        except Exception:  # a scrape must never fail because an index is busy or broken
            return
        for key, name, help_text in (
            ("documents", "qa_index_documents", "Documents in the index, by collection."),
            ("chunks", "qa_index_chunks", "Chunks in the index, by collection."),
            (
                "bytes_on_disk",
                "qa_index_size_bytes",
                "Size of the index on disk, in bytes, by collection (those open in this process).",
            ),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["collection"])
            for collection, s in sorted(by_collection.items()):
                if key in s:
                    family.add_metric([collection], float(s[key]))
            if family.samples:
                yield family


class Metrics:
    def __init__(self, stats: Callable[[], dict[str, dict[str, Any]]]) -> None:
        """``stats``: each collection's ``QAService.stats()``, by name, for the index gauges."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qa_http_requests", "HTTP requests.", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "qa_http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.stages = Histogram(
            "qa_stage_duration_seconds",
            "Time per stage of answering: embed, first_stage, second_stage, answer, generate (qa.stages), "
            "by collection.",
            ["stage", "collection"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30),
            registry=self.registry,
        )
        self.answers = Counter(
            "qa_answers",
            "Answers given, by result (found, not_found, generated) and collection.",
            ["result", "collection"],
            registry=self.registry,
        )
        self.ingested = Counter(
            "qa_ingested_documents",
            "Documents ingested, by status, by the route they came in through and by collection.",
            ["status", "route", "collection"],
            registry=self.registry,
        )
        self.ingested_chunks = Counter(
            "qa_ingested_chunks",
            "Chunks written by ingestion, by route and collection.",
            ["route", "collection"],
            registry=self.registry,
        )
        self.registry.register(_IndexCollector(stats))
        # The process's CPU, memory, open files and start time, the Python version and its GC: what
        # every Prometheus client exports by default, on this app's own registry.
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        self.tracer = tracer()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observer(self, route: Callable[[], str], collection: Callable[[], str] = lambda: "") -> RequestObserver:
        """What one request's stages and outcomes report to; ``route`` names its route once routed,
        ``collection`` its collection once the route has looked it up."""
        return RequestObserver(self, route, collection)


class RequestObserver:
    """A ``qa.stages.Observer`` for one request: histograms and counters, and spans when tracing."""

    def __init__(self, metrics: Metrics, route: Callable[[], str], collection: Callable[[], str]) -> None:
        self.metrics, self.route, self.collection = metrics, route, collection

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        with ExitStack() as stack:
            if self.metrics.tracer is not None:
                stack.enter_context(self.metrics.tracer.start_as_current_span(f"qa.{name}"))
            started = time.perf_counter()
            try:
                yield
            finally:
                self.metrics.stages.labels(name, self.collection()).observe(time.perf_counter() - started)

    def outcome(self, name: str, value: str, amount: float = 1) -> None:
        if name == "answer":
            self.metrics.answers.labels(value, self.collection()).inc(amount)
        elif name == "ingested":
            self.metrics.ingested.labels(value, self.route(), self.collection()).inc(amount)
        elif name == "ingested_chunks":
            self.metrics.ingested_chunks.labels(self.route(), self.collection()).inc(amount)


def tracer() -> Any:
    """An OpenTelemetry tracer, or None (no spans, no cost). One when the SDK is installed
    (``pip install 'qa[otel]'``) and either a tracer provider is set already (by
    ``opentelemetry-instrument`` or the embedding program) or an exporter is configured:
    ``OTEL_TRACES_EXPORTER=otlp`` (or just ``OTEL_EXPORTER_OTLP_ENDPOINT``; OTLP over HTTP, the
    SDK's own environment variables) or ``console``."""
    import os

    wanted = os.environ.get("OTEL_TRACES_EXPORTER", "otlp" if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "")
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        if wanted and wanted != "none":
            logging.getLogger("qa").warning(
                "OTEL_TRACES_EXPORTER is %r but OpenTelemetry is not installed: pip install 'qa[otel]'", wanted
            )
        return None
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return trace.get_tracer("qa")
    if not wanted or wanted == "none":
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if wanted == "console":
        exporter = ConsoleSpanExporter()
    elif wanted == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        logging.getLogger("qa").warning("OTEL_TRACES_EXPORTER %r is not one qa sets up (otlp, console)", wanted)
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "qa")}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process; later calls keep the first
    return trace.get_tracer("qa")


_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def traceparent_id(header: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header, when it is a valid one (not all zeros)."""
    m = _TRACEPARENT.match(header.strip().lower()) if header else None
    return m.group(1) if m and m.group(1) != "0" * 32 else None


def request_span(tracer: Any, method: str, path: str, headers: Any) -> AbstractContextManager[Any]:
    """The server span of one request, a child of the caller's trace when a ``traceparent`` came."""
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    return tracer.start_as_current_span(  # type: ignore[no-any-return]
        f"{method} {path}", context=extract(dict(headers)), kind=SpanKind.SERVER
    )


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(fmt: str = "json", level: int = logging.INFO) -> None:
    """Root logging as JSON lines (or plain text), each record carrying the request id."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", timestamp=False)
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def access_log(method: str, path: str, route: str, status: int, started: float) -> None:
    log.info(
        "request",
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
