"""Ingestion jobs: ``GET /v1/jobs`` and ``GET /v1/jobs/{id}`` (``qa.jobs``).

A job is made by ``POST /v1/documents`` or ``/v1/documents/upload`` when the request is large
(``QA_JOB_THRESHOLD_BYTES``) or asks for one (``?async=true``, ``Prefer: respond-async``): the
answer is 202 with the job and ``Location: /v1/jobs/{id}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from qa import errors
from qa.access import ADMIN, Caller
from qa.api.deps import CallerDep, Service
from qa.api.errors import STATUS, kind_of
from qa.api.schemas import ERRORS, ErrorOut, IngestOut, JobItemOut, JobList, JobOut, JobProgress
from qa.jobs import Job

router = APIRouter(tags=["jobs"])


def _error(type_name: str, message: str) -> ErrorOut:
    """An item's error as the API would have answered it: the status of its qa.errors class."""
    cls = getattr(errors, type_name, None)
    status = next((st for c, st in STATUS if isinstance(cls, type) and issubclass(cls, c)), 500)
    return ErrorOut(error=kind_of(status) if status != 500 else "internal_error", message=message)


def job_out(job: Job, items: bool = True) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        error=job.error,
        progress=JobProgress(
            items=job.items_total,
            items_done=job.items_done,
            items_failed=job.items_failed,
            bytes=job.bytes_total,
            bytes_done=job.bytes_done,
            documents=job.documents,
            chunks=job.chunks,
            item_chunks_embedded=job.item_chunks_embedded,
            item_chunks_total=job.item_chunks_total,
        ),
        items=[
            JobItemOut(
                n=i.n,
                name=i.name,
                bytes=i.bytes,
                status=i.status,
                results=[IngestOut(id=r.id, status=r.status, chunks=r.chunks) for r in i.results],
                error=_error(*i.error) if i.error else None,
            )
            for i in job.items
        ]
        if items
        else None,
    )


def _owner_view(request: Request, caller: Caller) -> Caller:
    """Whose jobs a caller sees: with a keys file, its own (admins: all); with only QA_API_KEYS,
    every reader sees every job, as before owners existed."""
    return caller if request.app.state.scoped_keys else ADMIN


@router.get("/v1/jobs", response_model=JobList, responses=ERRORS)
def list_jobs(
    request: Request,
    svc: Service,
    caller: CallerDep,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> JobList:
    """One page of the ingestion jobs, newest first (without their items): an admin's are every
    job, others' the jobs they submitted."""
    jobs, total = svc.list_jobs(offset, limit, _owner_view(request, caller))
    return JobList(jobs=[job_out(j, items=False) for j in jobs], total=total, offset=offset, limit=limit)


@router.get("/v1/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
def get_job(job_id: str, request: Request, svc: Service, caller: CallerDep) -> JobOut:
    """An ingestion job: its status, progress, and each file's (or document's) results or error
    (for the key that submitted it, or an admin)."""
    return job_out(svc.job(job_id, _owner_view(request, caller)))
