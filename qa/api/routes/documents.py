"""Documents: ``GET/POST /v1/documents``, ``POST /v1/documents/upload``, ``GET/DELETE /v1/documents/{id}``.

``POST /v1/documents`` takes one document or ``{"documents": [...]}`` as JSON; ``POST
/v1/documents/upload`` takes files as multipart (parsed by ``qa.parse`` like files on disk; each in a
source, ``upload`` unless the ``source`` field names one, with the id ``source/file name``: ``qa.sources``).
``POST /v1/documents`` also still takes the multipart form, as it did before ``/upload`` existed,
without saying so in the schema: one body type per operation is what generated clients can use.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from qa.api.deps import Service
from qa.api.errors import validation_message
from qa.api.schemas import (
    ERRORS,
    DeletedOut,
    DocumentIn,
    DocumentList,
    DocumentOut,
    DocumentsIn,
    IngestOut,
    IngestResponse,
    document_out,
)
from qa.config import Settings
from qa.errors import InvalidInput, QAError, TooLarge, UnsupportedFileType
from qa.limits import Limits, check_metadata
from qa.parse.content import NotFiniteNumber, load_json
from qa.parse.worker import ParseLimits, parse_limited
from qa.service import MAX_OFFSET, QAService
from qa.sources import UPLOAD_SOURCE, check_path, check_source, document_id
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


async def _from_multipart(request: Request, settings: Settings, limits: Limits) -> list[Document]:
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
    doc_id, title, source_raw = form.get("id"), form.get("title"), form.get("source")
    if len(files) > 1 and isinstance(doc_id, str):
        raise InvalidInput("form field 'id' can only be used with a single file")
    source = check_source(source_raw) if isinstance(source_raw, str) and source_raw else UPLOAD_SOURCE
    docs = []
    for f in files:
        path = check_path(f.filename or "upload.txt")
        data = await f.read(settings.max_document_bytes + 1)
        if len(data) > settings.max_document_bytes:
            raise TooLarge(
                f"file {f.filename!r} is over the limit of {settings.max_document_bytes} bytes (QA_MAX_DOCUMENT_BYTES)"
            )
        # In a worker process within QA_PARSE_TIMEOUT / QA_PARSE_MEMORY_MB, waited for off the event
        # loop: a decompression bomb must not stop the server answering everyone else.
        parsed = await run_in_threadpool(
            parse_limited,
            data,
            path,
            ParseLimits.of(settings),
            doc_id=doc_id if isinstance(doc_id, str) and doc_id else document_id(source, path),
            title=title if isinstance(title, str) and title else None,
            metadata=metadata,
            max_bytes=settings.max_document_bytes,
        )
        docs += [replace(d, source=source, path=path) for d in parsed]
    return docs


@router.get("/v1/documents", response_model=DocumentList, responses=ERRORS)
def list_documents(
    svc: Service,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> DocumentList:
    """One page of the index's documents, in id order."""
    docs, total = svc.list_documents(offset, limit)
    return DocumentList(documents=[document_out(d) for d in docs], total=total, offset=offset, limit=limit)


@router.get("/v1/documents/{doc_id:path}", response_model=DocumentOut, responses=ERRORS)
def get_document(doc_id: str, svc: Service, include_text: bool = False) -> DocumentOut:
    """One document: its record, and with `include_text` its text (what citations' offsets index)."""
    return document_out(*svc.document(doc_id, include_text), pages=True)


@router.delete("/v1/documents/{doc_id:path}", response_model=DeletedOut, responses=ERRORS)
def delete_document(doc_id: str, svc: Service) -> DeletedOut:
    """Remove a document and its passages from the index."""
    svc.delete(doc_id)
    return DeletedOut(deleted=doc_id)


async def _ingest(svc: QAService, docs: list[Document]) -> IngestResponse:
    # On the ingestion worker: one request at a time on QA_INGEST_THREADS cores, at most
    # QA_INGEST_QUEUE waiting (then 503 + Retry-After), so ingestion cannot starve the questions.
    results = await svc.ingest_worker.run(svc.add_documents, docs)  # counted in /metrics by qa.stages
    return IngestResponse(results=[IngestOut(id=r.id, status=r.status, chunks=r.chunks) for r in results])


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@router.post(
    "/v1/documents",
    status_code=201,
    response_model=IngestResponse,
    responses=ERRORS,
    openapi_extra={"requestBody": JSON_BODY},
)
async def add_documents(request: Request, svc: Service) -> IngestResponse:
    """Add (or replace, by id) one document `{"text", ...}` or several `{"documents": [...]}`.

    Files go to `POST /v1/documents/upload`. This route still takes the same multipart form, as it
    did before that route existed (curl -F, older clients); the schema lists JSON only, so that a
    generated client has one body type per operation."""
    ctype = _content_type(request)
    if ctype == "multipart/form-data":
        docs = await _from_multipart(request, svc.settings, Limits.of(svc.settings))
    elif ctype in ("application/json", ""):
        docs = _from_json(await request.body(), Limits.of(svc.settings))
    else:
        raise UnsupportedFileType(
            f"content type {ctype!r} is not accepted: send application/json here, "
            "or files as multipart/form-data to POST /v1/documents/upload"
        )
    return await _ingest(svc, docs)


@router.post(
    "/v1/documents/upload",
    status_code=201,
    response_model=IngestResponse,
    responses=ERRORS,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload_document(request: Request, svc: Service) -> IngestResponse:
    """Add (or replace) a document from a file, parsed by its content like files on disk; a
    `.jsonl` file gives one document per line."""
    ctype = _content_type(request)
    if ctype != "multipart/form-data":
        raise UnsupportedFileType(
            f"content type {ctype!r} is not accepted: send the file as multipart/form-data (field 'file'), "
            "or a document as JSON to POST /v1/documents"
        )
    return await _ingest(svc, await _from_multipart(request, svc.settings, Limits.of(svc.settings)))
