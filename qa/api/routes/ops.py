"""Operations: ``/healthz``, ``/v1/stats`` and Prometheus ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qa.api.deps import Service

router = APIRouter(tags=["service"])


@router.get("/healthz")
def healthz(svc: Service) -> dict[str, Any]:
    """200 while the index is open: ``ok``, or ``degraded`` with ``problems`` (a damaged part:
    the requests that read it answer 503, the others are served). An index that cannot be opened
    at all answers 503 (``IndexCorrupt``): nothing can be served."""
    return svc.health()


@router.get("/v1/stats")
def stats(svc: Service) -> dict[str, Any]:
    return svc.stats()


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
