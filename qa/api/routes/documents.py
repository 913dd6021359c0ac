"""Documents: ``GET/POST /v1/documents``, ``POST /v1/documents/upload``, ``GET/DELETE /v1/documents/{id}``.

``POST /v1/documents`` takes one document or ``{"documents": [...]}`` as JSON; ``POST
/v1/documents/upload`` takes files as multipart (parsed by ``qa.parse`` like files on disk; each in a
source, ``upload`` unless the ``source`` field names one, with the id ``source/file name``: ``qa.sources``).
``POST /v1/documents`` also still takes the multipart form, as it did before ``/upload`` existed,
without saying so in the schema: one body type per operation is what generated clients can use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from qa.access import ACCESS_FIELD, Caller, check_access
from qa.api.deps import CallerDep, Service
from qa.api.errors import validation_message
from qa.api.routes.jobs import job_out
from qa.api.schemas import (
    ERRORS,
    DeletedOut,
    DocumentIn,
    DocumentList,
    DocumentOut,
    DocumentPatch,
    DocumentsIn,
    IngestOut,
    IngestResponse,
    JobOut,
    document_out,
)
from qa.config import Settings
from qa.errors import InvalidInput, QAError, TooLarge, UnsupportedFileType
from qa.jobs import JobKind
from qa.limits import Limits, check_metadata
from qa.parse.content import NotFiniteNumber, load_json
from qa.service import MAX_OFFSET, QAService
from qa.sources import UPLOAD_SOURCE, check_path, check_source
from qa.types import Document

router = APIRouter(tags=["documents"])


# The JSON body of `POST /v1/documents`: one document, or several. Unambiguous without a
# discriminator: both forbid other fields, and only DocumentsIn has `documents` (DocumentIn needs `text`).
JSON_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/DocumentIn"},
                    {"$ref": "#/components/schemas/DocumentsIn"},
                ]
            }
        }
    },
}
UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/DocumentUpload"}}},
}


def _load_json(raw: str | bytes, what: str, error: type[QAError]) -> Any:
    """``raw`` parsed as strict JSON (no NaN or Infinity), or a message saying what is wrong;
    ``error`` is raised for text that is not JSON at all."""
    try:
        return load_json(raw)
    except RecursionError:
        raise InvalidInput(
            f"{what} is nested too deeply to parse (about 1,000 levels of objects and arrays); "
            "metadata may nest QA_MAX_METADATA_DEPTH levels"
        ) from None
    except NotFiniteNumber as exc:
        raise InvalidInput(f"{what} holds {exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and integers of over 4,300 digits
        raise error(f"{what} is not valid JSON ({exc}); send a JSON object") from None


def _from_json(raw: bytes, limits: Limits) -> list[Document]:
    if not raw.strip():
        raise InvalidInput('request body is empty: send a document {"text": ...} or {"documents": [...]}')
    payload = _load_json(raw, "request body", QAError)
    try:
        if isinstance(payload, dict) and "documents" in payload:
            items = DocumentsIn.model_validate(payload).documents
        else:
            items = [DocumentIn.model_validate(payload)]
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)[1]) from exc
    return [item.document(limits, f"document {n}: " if len(items) > 1 else "") for n, item in enumerate(items)]


@dataclass(frozen=True)
class _Upload:
    """A multipart upload as read and checked, before any file is parsed."""

    files: list[tuple[str, bytes]]  # (path inside the source, bytes)
    source: str
    doc_id: str | None
    title: str | None
    metadata: dict[str, Any]

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files)


async def _read_upload(request: Request, settings: Settings, limits: Limits) -> _Upload:
    try:
        form = await request.form(max_files=100, max_fields=100)
    except Exception as exc:  # python-multipart raises several types on malformed bodies
        raise QAError(f"malformed multipart body: {exc}") from exc
    files = [v for v in form.getlist("file") if isinstance(v, UploadFile)]
    if not files:
        raise InvalidInput("multipart upload needs a 'file' field with the document")
    meta_raw = form.get("metadata")
    metadata: dict[str, Any] = {}
    if isinstance(meta_raw, str) and meta_raw.strip():
        metadata = _load_json(meta_raw, "form field 'metadata'", InvalidInput)
        if not isinstance(metadata, dict):
            raise InvalidInput("form field 'metadata' must be a JSON object")
        check_metadata(metadata, limits, "form field 'metadata': ")
    access_raw = form.get("access")
    if isinstance(access_raw, str) and access_raw.strip():
        # "group:hr,user:alice" or a JSON list: the documents' access list (``qa.access``).
        raw = access_raw.strip()
        entries = _load_json(raw, "form field 'access'", InvalidInput) if raw.startswith("[") else raw
        metadata = {**metadata, ACCESS_FIELD: check_access(entries, "form field 'access': ")}
    doc_id, title, source_raw = form.get("id"), form.get("title"), form.get("source")
    if len(files) > 1 and isinstance(doc_id, str):
        raise InvalidInput("form field 'id' can only be used with a single file")
    source = check_source(source_raw) if isinstance(source_raw, str) and source_raw else UPLOAD_SOURCE
    read = []
    for f in files:
        path = check_path(f.filename or "upload.txt")
        data = await f.read(settings.max_document_bytes + 1)
        if len(data) > settings.max_document_bytes:
            raise TooLarge(
                f"file {f.filename!r} is over the limit of {settings.max_document_bytes} bytes (QA_MAX_DOCUMENT_BYTES)"
            )
        read.append((path, data))
    return _Upload(
        read,
        source,
        doc_id if isinstance(doc_id, str) and doc_id else None,
        title if isinstance(title, str) and title else None,
        metadata,
    )


async def _parse_upload(svc: QAService, upload: _Upload) -> list[Document]:
    docs = []
    for path, data in upload.files:
        # In a worker process within QA_PARSE_TIMEOUT / QA_PARSE_MEMORY_MB, waited for off the event
        # loop: a decompression bomb must not stop the server answering everyone else.
        docs += await run_in_threadpool(
            svc.parse_upload, data, path, upload.source, upload.doc_id, upload.title, upload.metadata
        )
    return docs


@router.get("/v1/documents", response_model=DocumentList, responses=ERRORS)
def list_documents(
    svc: Service,
    caller: CallerDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> DocumentList:
    """One page of the index's documents the key may see, in id order (``total`` counts those)."""
    docs, total = svc.list_documents(offset, limit, caller)
    return DocumentList(documents=[document_out(d) for d in docs], total=total, offset=offset, limit=limit)


@router.get("/v1/documents/{doc_id:path}", response_model=DocumentOut, responses=ERRORS)
def get_document(doc_id: str, svc: Service, caller: CallerDep, include_text: bool = False) -> DocumentOut:
    """One document: its record, and with `include_text` its text (what citations' offsets index).
    A document the key may not see is a 404, as one that does not exist."""
    return document_out(*svc.document(doc_id, include_text, caller), pages=True)


@router.patch("/v1/documents/{doc_id:path}", response_model=DocumentOut, responses=ERRORS)
def update_document(doc_id: str, body: DocumentPatch, svc: Service, caller: CallerDep) -> DocumentOut:
    """Change a document's access list without re-embedding it: `{"access": ["group:hr", "user:alice"]}`,
    or `{"access": null}` to make it visible to every reader. Needs the `write` scope, and a key
    that sees the document."""
    return document_out(svc.set_access(doc_id, body.access, caller))


@router.delete("/v1/documents/{doc_id:path}", response_model=DeletedOut, responses=ERRORS)
def delete_document(doc_id: str, svc: Service, caller: CallerDep) -> DeletedOut:
    """Remove a document and its passages from the index (one the key may see)."""
    svc.delete(doc_id, caller)
    return DeletedOut(deleted=doc_id)


async def _ingest(svc: QAService, docs: list[Document], caller: Caller) -> IngestResponse:
    # On the ingestion worker: one request at a time on QA_INGEST_THREADS cores, at most
    # QA_INGEST_QUEUE waiting (then 503 + Retry-After), so ingestion cannot starve the questions.
    await run_in_threadpool(svc.check_replaceable, [d.id for d in docs], caller)
    results = await svc.ingest_worker.run(svc.add_documents, docs)  # counted in /metrics by qa.stages
    return IngestResponse(results=[IngestOut(id=r.id, status=r.status, chunks=r.chunks) for r in results])


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _as_job(request: Request, svc: QAService, asked: bool, size: int) -> bool:
    """Whether to answer with a job: asked for (``?async=true`` or ``Prefer: respond-async``, RFC
    7240), or over QA_JOB_THRESHOLD_BYTES (0: always)."""
    prefer = request.headers.get("prefer", "").lower()
    asked = asked or any(p.strip().split("=")[0] == "respond-async" for p in prefer.replace(";", ",").split(","))
    return asked or size > svc.settings.job_threshold_bytes


async def _accepted(
    svc: QAService, kind: JobKind, options: dict[str, Any], items: list[tuple[str, bytes]], caller: Caller
) -> Any:
    """202 once the job is on disk (``qa.jobs``: SQLite, synchronous=FULL), with its record."""
    job = await run_in_threadpool(svc.submit_job, kind, options, items, caller)
    body = job_out(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


def _document_item(svc: QAService, doc: Document) -> tuple[str, bytes]:
    svc.validate(doc)  # refused now (4xx), not in the background: the job then cannot fail on it
    fields = {"id": doc.id, "text": doc.text, "title": doc.title, "metadata": doc.metadata}
    return doc.id, json.dumps({**fields, "source": doc.source, "path": doc.path}).encode()


async def _upload_job(svc: QAService, upload: _Upload, caller: Caller) -> Any:
    if upload.doc_id:
        await run_in_threadpool(svc.check_replaceable, [upload.doc_id], caller)
    options = {"source": upload.source, "id": upload.doc_id, "title": upload.title, "metadata": upload.metadata}
    return await _accepted(svc, "upload", options, upload.files, caller)


AsyncQuery = Annotated[
    bool,
    Query(
        alias="async",
        description="Answer 202 with a job (`GET /v1/jobs/{id}`) once the request is stored, and ingest it in the "
        "background; requests over QA_JOB_THRESHOLD_BYTES are jobs anyway. `Prefer: respond-async` does the same.",
    ),
]
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobOut,
        "description": "Stored as a job, ingested in the background; `Location: /v1/jobs/{id}` gives its status.",
    }
}


@router.post(
    "/v1/documents",
    status_code=201,
    response_model=IngestResponse,
    responses={**ACCEPTED, **ERRORS},
    openapi_extra={"requestBody": JSON_BODY},
)
async def add_documents(request: Request, svc: Service, caller: CallerDep, async_: AsyncQuery = False) -> Any:
    """Add (or replace, by id) one document `{"text", ...}` or several `{"documents": [...]}`.

    201 with the results once ingested; or 202 with a job (large requests, or `?async=true`).
    Files go to `POST /v1/documents/upload`. This route still takes the same multipart form, as it
    did before that route existed (curl -F, older clients); the schema lists JSON only, so that a
    generated client has one body type per operation."""
    ctype = _content_type(request)
    limits = Limits.of(svc.settings)
    if ctype == "multipart/form-data":
        upload = await _read_upload(request, svc.settings, limits)
        if _as_job(request, svc, async_, upload.size):
            return await _upload_job(svc, upload, caller)
        return await _ingest(svc, await _parse_upload(svc, upload), caller)
    if ctype not in ("application/json", ""):
        raise UnsupportedFileType(
            f"content type {ctype!r} is not accepted: send application/json here, "
            "or files as multipart/form-data to POST /v1/documents/upload"
        )
    raw = await request.body()
    docs = _from_json(raw, limits)
    if _as_job(request, svc, async_, len(raw)):
        await run_in_threadpool(svc.check_replaceable, [d.id for d in docs], caller)
        return await _accepted(svc, "documents", {}, [_document_item(svc, d) for d in docs], caller)
    return await _ingest(svc, docs, caller)


@router.post(
    "/v1/documents/upload",
    status_code=201,
    response_model=IngestResponse,
    responses={**ACCEPTED, **ERRORS},
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload_document(request: Request, svc: Service, caller: CallerDep, async_: AsyncQuery = False) -> Any:
    """Add (or replace) a document from a file, parsed by its content like files on disk; a
    `.jsonl` file gives one document per line.

    201 with the results once ingested; or 202 with a job (files over QA_JOB_THRESHOLD_BYTES, or
    `?async=true`), in which a file that cannot be read fails alone and the others are ingested."""
    ctype = _content_type(request)
    if ctype != "multipart/form-data":
        raise UnsupportedFileType(
            f"content type {ctype!r} is not accepted: send the file as multipart/form-data (field 'file'), "
            "or a document as JSON to POST /v1/documents"
        )
    upload = await _read_upload(request, svc.settings, Limits.of(svc.settings))
    if _as_job(request, svc, async_, upload.size):
        return await _upload_job(svc, upload, caller)
    return await _ingest(svc, await _parse_upload(svc, upload), caller)
