"""Metrics (Prometheus) and structured logs with a request id.

Each app gets its own registry, so several apps in one process (tests, replicas) never clash.
Route labels are route templates (``/v1/documents/{doc_id:path}``), never raw paths, so a
client cannot blow up label cardinality.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pythonjsonlogger.json import JsonFormatter

from qa.types import IngestResult

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("qa.access")


def new_request_id(incoming: str | None) -> str:
    """The client's X-Request-ID when it is a sane token, else a fresh one."""
    return incoming if incoming and _RID.match(incoming) else uuid.uuid4().hex


class _IndexCollector(Collector):
    """Index size, read from the store at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            s = self.stats()
        except Exception:  # a scrape must never fail because the index is busy or broken
            return
        for key, help_text in (
            ("documents", "Documents in the index."),
            ("chunks", "Chunks in the index."),
            ("bytes_on_disk", "Size of the index on disk, in bytes."),
        ):
            if key in s:
                yield GaugeMetricFamily(f"qa_index_{key}", help_text, value=float(s[key]))


class Metrics:
    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
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
        self.ingested = Counter(
            "qa_ingested_documents", "Documents ingested through the API.", ["status"], registry=self.registry
        )
        self.ingested_chunks = Counter("qa_ingested_chunks", "Chunks written through the API.", registry=self.registry)
        self.registry.register(_IndexCollector(stats))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def count_ingested(self, results: Iterable[IngestResult]) -> None:
        """What an ingestion did (``POST /v1/documents``, the MCP tool ``add_document``)."""
        for r in results:
            self.ingested.labels(r.status).inc()
            if r.status != "unchanged":
                self.ingested_chunks.inc(r.chunks)


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
