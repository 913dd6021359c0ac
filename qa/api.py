"""HTTP API (FastAPI). Routes translate domain errors into 4xx JSON; nothing else does."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import __version__
from qa.config import Settings
from qa.errors import InvalidInput, QAError, TooLarge, UnsupportedFileType
from qa.generate import Generated
from qa.middleware import ERROR_KIND, Observe, RequireKey
from qa.observability import Metrics, configure_logging
from qa.parse import parse_bytes
from qa.security import parse_keys
from qa.service import MAX_OFFSET, QAService
from qa.store import DocumentInfo
from qa.types import Answer, Document, Passage, content_hash

log = logging.getLogger(__name__)

Scalar = str | int | float | bool


# -- request and response models -----------------------------------------------------------


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., description="The question, in natural language.", examples=["Who met in Paris?"])
    k: int | None = Field(None, description="Passages to retrieve (1..QA_MAX_K; default QA_DEFAULT_K).")
    mode: Literal["dense", "lexical", "hybrid"] | None = Field(
        None, description="Retrieval mode for this request (default QA_RETRIEVAL_MODE)."
    )
    filters: dict[str, Scalar | list[str]] | None = Field(
        None,
        description='Exact-match filters on document metadata fields, e.g. {"topic": "ranking"}; '
        "the key `doc_id` takes one id or a list of ids.",
    )
    extractive: bool = Field(False, description="Answer extractively even when an LLM is configured (QA_LLM_BASE_URL).")
    rerank: bool | None = Field(None, description="Second-stage scoring for this request (default QA_RERANK).")


class PassageOut(BaseModel):
    chunk_id: int
    doc_id: str
    title: str
    text: str
    start: int = Field(..., description="Offset of the passage in the document text.")
    end: int
    score: float
    ordinal: int
    heading: str | None
    metadata: dict[str, Any]


class SearchOut(BaseModel):
    question: str
    passages: list[PassageOut]


class CitationOut(BaseModel):
    n: int
    doc_id: str
    title: str
    start: int
    end: int
    quote: str = Field(..., description="Exactly the document text at [start:end].")


class SentenceOut(BaseModel):
    text: str = Field(..., description="A sentence of the generated answer, without markers.")
    supported: bool | None = Field(
        ...,
        description="false: it cited passages but none supports it (its citations were dropped); "
        "null: it cited nothing.",
    )
    citations: list[int] = Field(..., description="Numbers of the citations that support it.")


class ShortOut(BaseModel):
    text: str
    doc_id: str
    start: int = Field(..., description="Offset in the document text; `text == document[start:end]`.")
    end: int


class AnswerOut(BaseModel):
    """Fields every answering route returns (``/v1/ask``, ``/v1/chat``); see ``_answer_fields``."""

    question: str
    answer: str
    found: bool
    score: float
    short_answer: ShortOut | None = Field(
        None,
        description="The shortest span that answers (a name for 'who', a date for 'when', a number for "
        "'how many'), inside the cited sentence; absent when the question has no clear answer type.",
    )
    citations: list[CitationOut]
    passages: list[PassageOut]
    generated: bool = Field(False, description="True when an LLM wrote the answer (QA_LLM_BASE_URL).")
    note: str | None = Field(
        None, description="Why generation fell back to the extractive answer, or which citations the check removed."
    )
    sentences: list[SentenceOut] | None = Field(
        None, description="Generated answers: each sentence with its checked citations."
    )


class AskOut(AnswerOut):
    """The answer to one question (``/v1/ask``)."""


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, description="Stable id; derived from the content when omitted.")
    title: str = ""
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(..., min_length=1, max_length=10_000)


class IngestOut(BaseModel):
    id: str
    status: str = Field(..., description="added, updated or unchanged")
    chunks: int


class IngestResponse(BaseModel):
    results: list[IngestOut]


class DocumentOut(BaseModel):
    id: str
    title: str
    metadata: dict[str, Any]
    source: str | None
    content_hash: str
    n_chunks: int
    chars: int
    created_at: float
    updated_at: float
    text: str | None = None


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int
    offset: int
    limit: int


class ErrorOut(BaseModel):
    error: str = Field(..., description="Error type, e.g. invalid_input, not_found.")
    message: str = Field(..., description="What was wrong and how to fix it.")


# 401/403 only where QA_API_KEYS asks for a key (writes; reads too with QA_REQUIRE_KEY_FOR_READ).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503)
}


def _passage(p: Passage) -> PassageOut:
    # Read off the dataclass's attributes: `asdict` deep-copies and cost 6x as much per passage.
    return PassageOut.model_validate(p, from_attributes=True)


def _sentences(g: Generated | None) -> list[SentenceOut] | None:
    if g is None or g.checked is None:
        return None
    return [SentenceOut(text=s.text, supported=s.supported, citations=list(s.citations)) for s in g.checked.sentences]


def _short(a: Answer, g: Generated | None) -> ShortOut | None:
    """The extractive answer's short span; none for a generated answer, which it may not match."""
    return ShortOut(**asdict(a.short)) if a.short and not (g and g.generated) else None


def _answer_fields(a: Answer, g: Generated | None) -> dict[str, Any]:
    """The ``AnswerOut`` fields (all but ``question``) of an extractive answer ``a`` and, when an
    LLM was asked, what it made of it ``g`` (the generated answer, or ``a`` again with a note)."""
    return {
        "answer": g.answer if g else a.answer,
        "found": a.found,
        "score": a.score,
        "short_answer": _short(a, g),
        "citations": [CitationOut(**asdict(c)) for c in (g.citations if g else a.citations)],
        "passages": [_passage(p) for p in a.passages],
        "generated": bool(g and g.generated),
        "note": g.note if g else None,
        "sentences": _sentences(g),
    }


def _json(model: BaseModel) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


def _search(svc: QAService, body: QuestionIn) -> Response:
    passages = svc.search(body.question, body.k, body.filters, body.mode, body.rerank)
    return _json(SearchOut(question=body.question, passages=[_passage(p) for p in passages]))


def _ask(svc: QAService, body: QuestionIn) -> Response:
    a = svc.ask(body.question, body.k, body.filters, body.mode, body.rerank)
    g = None if body.extractive else svc.generate(body.question.strip(), list(a.passages), a)
    return _json(AskOut(question=body.question, **_answer_fields(a, g)))


def _doc(info: DocumentInfo, text: str | None = None) -> DocumentOut:
    fields = asdict(info)
    fields.pop("chunker")
    return DocumentOut(**fields, text=text)


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": kind, "message": message}, status_code=status)


def _validation_message(exc: RequestValidationError | ValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = errors[0].get("ctx", {})
        return 400, f"request body is not valid JSON ({ctx.get('error', 'parse error')}); send a JSON object"
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {e.get('msg')}")
    return 422, "; ".join(parts)


# -- app --------------------------------------------------------------------------------------


async def get_service(request: Request) -> QAService:
    # async: FastAPI would run a plain function in the thread pool, one more hop per request.
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[QAService, Depends(get_service)]


def worker_app() -> FastAPI:
    """The app of one `qa serve --workers N` process: settings from the environment, own logging."""
    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings)


def create_app(settings: Settings | None = None, service: QAService | None = None) -> FastAPI:
    """Build the app. Pass ``service`` to share an already-loaded one (tests do)."""
    settings = settings or (service.settings if service else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.service is None
        if owned:
            app.state.service = QAService(settings)
        # Load the model and open the index before the first request, never per request.
        await run_in_threadpool(app.state.service.warm)
        yield
        if owned:
            app.state.service.close()

    app = FastAPI(
        title="qa",
        version=__version__,
        description="Retrieval-augmented question answering with exact character citations.",
        lifespan=lifespan,
    )
    app.state.service = service
    # The chat page at `/`, /v1/chat and the OpenAI-compatible routes (qa/chat_api.py imports this module).
    from qa.chat_api import router as chat_router

    app.include_router(chat_router)

    keys = parse_keys(settings.api_keys)
    metrics = Metrics(lambda: app.state.service.store.stats())
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Innermost first: API keys, then CORS, then (outermost) request id, metrics, access log and
    # the request-size limit, so every response is observed, 401s and 413s included.
    app.add_middleware(RequireKey, keys=keys, for_read=settings.require_key_for_read)  # type: ignore[arg-type]
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(parse_keys(settings.cors_origins)),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Observe, metrics=metrics, max_request_bytes=settings.max_request_bytes)  # type: ignore[arg-type]

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        return _error(exc.status_code, ERROR_KIND.get(exc.status_code, "error"), str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return _error(status, ERROR_KIND[status], message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        return _error(exc.status_code, ERROR_KIND.get(exc.status_code, "error"), message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Last resort: log the traceback server-side, never send it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "internal error; the server log has details")

    @app.get("/healthz", tags=["service"])
    def healthz(svc: Service) -> dict[str, Any]:
        return {"status": "ok", **svc.store.counts()}

    @app.get("/v1/stats", tags=["service"])
    def stats(svc: Service) -> dict[str, Any]:
        return svc.stats()

    # The two question routes are the hot path: one thread-pool hop each (a plain `def` endpoint
    # would take a second one for FastAPI's re-validation of the returned model), the service read
    # from the app rather than through a dependency, and the response, already a validated model,
    # serialized once to JSON (the same bytes FastAPI would send; `response_model` documents it).
    @app.post("/v1/search", response_model=SearchOut, responses=ERRORS, tags=["questions"])
    async def search(body: QuestionIn) -> Response:
        return await run_in_threadpool(_search, app.state.service, body)

    @app.post("/v1/ask", response_model=AskOut, responses=ERRORS, tags=["questions"])
    async def ask(body: QuestionIn) -> Response:
        return await run_in_threadpool(_ask, app.state.service, body)

    @app.get("/v1/documents", response_model=DocumentList, responses=ERRORS, tags=["documents"])
    def list_documents(
        svc: Service,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> DocumentList:
        docs, total = svc.list_documents(offset, limit)
        return DocumentList(documents=[_doc(d) for d in docs], total=total, offset=offset, limit=limit)

    @app.get("/v1/documents/{doc_id:path}", response_model=DocumentOut, responses=ERRORS, tags=["documents"])
    def get_document(doc_id: str, svc: Service, include_text: bool = False) -> DocumentOut:
        info = svc.get(doc_id)
        return _doc(info, svc.store.get_text(doc_id) if include_text else None)

    @app.delete("/v1/documents/{doc_id:path}", responses=ERRORS, tags=["documents"])
    def delete_document(doc_id: str, svc: Service) -> dict[str, str]:
        svc.delete(doc_id)
        return {"deleted": doc_id}

    @app.post(
        "/v1/documents",
        status_code=201,
        response_model=IngestResponse,
        responses=ERRORS,
        tags=["documents"],
        openapi_extra={"requestBody": _documents_body()},
    )
    async def add_documents(request: Request, svc: Service) -> IngestResponse:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            docs = await _from_multipart(request, settings)
        elif ctype in ("application/json", ""):
            docs = _from_json(await request.body())
        else:
            raise UnsupportedFileType(
                f"content type {ctype!r} is not accepted: send application/json or multipart/form-data"
            )
        results = await run_in_threadpool(svc.add_documents, docs)
        for r in results:
            request.app.state.metrics.ingested.labels(r.status).inc()
            if r.status != "unchanged":
                request.app.state.metrics.ingested_chunks.inc(r.chunks)
        return IngestResponse(results=[IngestOut(id=r.id, status=r.status, chunks=r.chunks) for r in results])

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        from qa.chat_api import OpenAIChatIn

        for model in (DocumentIn, DocumentsIn, OpenAIChatIn):
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[model.__name__] = body
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


def _documents_body() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/DocumentIn"},
                        {"$ref": "#/components/schemas/DocumentsIn"},
                    ]
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": ".txt .md .html .pdf .jsonl"},
                        "id": {"type": "string", "description": "Document id (default: the file name)."},
                        "title": {"type": "string"},
                        "metadata": {"type": "string", "description": "A JSON object, as a string."},
                    },
                }
            },
        },
    }


def _from_json(raw: bytes) -> list[Document]:
    if not raw.strip():
        raise InvalidInput('request body is empty: send a document {"text": ...} or {"documents": [...]}')
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise QAError(f"request body is not valid JSON ({exc}); send a JSON object") from exc
    try:
        if isinstance(payload, dict) and "documents" in payload:
            items = DocumentsIn.model_validate(payload).documents
        else:
            items = [DocumentIn.model_validate(payload)]
    except ValidationError as exc:
        raise InvalidInput(_validation_message(exc)[1]) from exc
    docs = []
    for item in items:
        doc_id = item.id if item.id is not None else "doc-" + content_hash(item.title, item.text, item.metadata)[:16]
        docs.append(Document(id=doc_id, title=item.title, text=item.text, metadata=item.metadata))
    return docs


async def _from_multipart(request: Request, settings: Settings) -> list[Document]:
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
        try:
            metadata = json.loads(meta_raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"form field 'metadata' is not valid JSON: {exc}") from exc
        if not isinstance(metadata, dict):
            raise InvalidInput("form field 'metadata' must be a JSON object")
    doc_id, title = form.get("id"), form.get("title")
    if len(files) > 1 and isinstance(doc_id, str):
        raise InvalidInput("form field 'id' can only be used with a single file")
    docs = []
    for f in files:
        data = await f.read(settings.max_document_bytes + 1)
        if len(data) > settings.max_document_bytes:
            raise TooLarge(
                f"file {f.filename!r} is over the limit of {settings.max_document_bytes} bytes (QA_MAX_DOCUMENT_BYTES)"
            )
        docs += parse_bytes(
            data,
            f.filename or "upload.txt",
            doc_id=doc_id if isinstance(doc_id, str) and doc_id else None,
            title=title if isinstance(title, str) and title else None,
            metadata=metadata,
            max_bytes=settings.max_document_bytes,
        )
    return docs
