"""Operations: ``/healthz``, ``/v1/stats`` and Prometheus ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qa.api.deps import CallerDep, Service, collections_of
from qa.api.schemas import ERRORS, HealthOut, StatsOut

router = APIRouter(tags=["service"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: ERRORS[503]}


@router.get("/healthz", response_model=HealthOut, response_model_exclude_none=True, responses=UNAVAILABLE)
def health(request: Request, caller: CallerDep) -> dict[str, Any]:
    """200 while the default collection's index is open: ``ok``, or ``degraded`` with ``problems``
    (a damaged part: the requests that read it answer 503, the others are served). An index that
    cannot be opened at all answers 503 (``IndexCorrupt``): nothing can be served. A probe's route:
    it takes no collection (``GET /v1/collections/{name}`` describes one). With a keys file (access
    lists), the document and chunk counts are for admin keys only: they count what others may not see."""
    svc = collections_of(request).default
    out = svc.health()
    if request.app.state.scoped_keys and not caller.can("admin", svc.collection):
        out = {k: v for k, v in out.items() if k not in ("documents", "chunks")}
    return out


@router.get("/v1/stats", response_model=StatsOut, responses=ERRORS)
def stats(svc: Service) -> dict[str, Any]:
    """What the index holds, and where: counts, model, size on disk."""
    return svc.stats()


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus' text format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        401: ERRORS[401],
        403: ERRORS[403],
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, latencies by stage, answers, ingestion, the process."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
