"""The HTTP app (FastAPI): the routes of ``qa.api.routes``, the MCP server at ``/mcp``
(``qa.api.mcp``), the middleware, and the handlers that turn every error into a JSON response
(``qa.api.errors``); nothing else translates errors."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.access import Keyring
from qa.api.deps import deleted_collection
from qa.api.errors import (
    INTERNAL_MESSAGE,
    deleted_response,
    error_response,
    is_openai_path,
    kind_of,
    openai_error,
    openai_qa_error,
    qa_error_response,
    refusal,
    status_of,
    validation_message,
)
from qa.api.mcp import build_server, http_routes
from qa.api.middleware import CheckSite, Observe, RequireKey
from qa.api.routes import (
    chat,
    collections,
    docs,
    documents,
    embeddings,
    jobs,
    openai,
    ops,
    questions,
    responses,
    web,
)
from qa.api.schemas import DOCUMENTED_MODELS
from qa.collections import Collections
from qa.config import Settings
from qa.errors import IndexGone, QAError
from qa.observability import Metrics, configure_logging
from qa.security import allowed_hosts, needs_key, parse_keys
from qa.service import QAService

log = logging.getLogger(__name__)


DESCRIPTION = """Retrieval-augmented question answering with exact character citations.

Every citation carries the document id and the character offsets of its quote: `text[start:end] == quote`.
**Collections.** Every route takes `?collection=<name>` (default: the default collection); the
OpenAI-compatible routes take it as `model` (`qa` is the default collection; `GET /v1/models`).

Errors are JSON `{"error": "<type>", "message": "<what to fix>"}` (in OpenAI's shape under
`/v1/chat/completions`, `/v1/responses`, `/v1/models` and `/v1/embeddings`). A collection that does
not exist, or was deleted (even while the request was being served), is a 404 (`not_found`; OpenAI's
`model_not_found` under the OpenAI-compatible routes), never a 5xx.

**API keys.** With `QA_API_KEYS` set, writes (`POST /v1/documents`, `POST /v1/documents/upload`,
`DELETE /v1/documents/{doc_id}`, `POST /v1/collections`, `DELETE /v1/collections/{name}`) need
`Authorization: Bearer <key>`; reads need it too only with
`QA_REQUIRE_KEY_FOR_READ` (their security lists the key as optional). `/metrics`, which counts every
collection's documents, needs a key that is admin of every collection whenever keys are set, unless
`QA_OPEN_DOCS_AND_METRICS`. A server without keys ignores the header."""

# The groups of operations, in the docs' order (a generated client's modules: qa_client.api.<tag>).
TAGS = [
    {"name": "questions", "description": "Search, ask, and chat, with citations of the exact characters."},
    {"name": "documents", "description": "Add, upload, list, read and delete the index's documents."},
    {"name": "jobs", "description": "Ingestion jobs: large uploads answered 202, ingested in the background."},
    {
        "name": "collections",
        "description": "Named indexes, each with its own settings; every route takes one as `?collection=`.",
    },
    {
        "name": "openai",
        "description": "OpenAI-compatible: chat completions and responses (with annotations), models, embeddings.",
    },
    {"name": "service", "description": "Health, index statistics, Prometheus metrics."},
]
BEARER = "bearer"
KEY_HELP = (
    "One of the server's QA_API_KEYS. Needed for writes and /metrics (an admin's) whenever keys are set; for "
    "reads (and /openapi.json, the docs) only with QA_REQUIRE_KEY_FOR_READ. Without keys the server ignores it."
)


def security_of(method: str, path: str) -> list[dict[str, list[str]]]:
    """The OpenAPI security of an operation, from the rule the middleware applies (``qa.security``):
    the key when keys are set; optional (``{}`` or the key) where only QA_REQUIRE_KEY_FOR_READ asks
    for it; none where it is never asked for (``/healthz``)."""
    probe = ("key",)
    if needs_key(method, path, probe, for_read=False):
        return [{BEARER: []}]
    if needs_key(method, path, probe, for_read=True):
        return [{}, {BEARER: []}]
    return []


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
        collections = Collections(settings, default=app.state.service)
        app.state.collections = collections
        app.state.service = collections.default
        # Load the model and open the default index before the first request, never per request;
        # other collections open at their first request.
        await run_in_threadpool(app.state.service.warm)
        collections.serving()
        # Jobs acknowledged before a restart are resumed now (qa.jobs), not at the first request.
        await run_in_threadpool(collections.resume_jobs)
        async with mcp_server.session_manager.run():
            yield
        collections.close(default=owned)

    app = FastAPI(
        title="qa",
        version=version("qa"),
        description=DESCRIPTION,
        lifespan=lifespan,
        # Operation ids are the routes' function names (`ask`, `upload_document`, `chat_completions`):
        # what a generated client names its functions, rather than FastAPI's `ask_v1_ask_post`.
        generate_unique_id_function=lambda route: route.name,
        openapi_tags=TAGS,
        # Served by qa.api.routes.docs, from qa's own copy of the assets (FastAPI's load them from a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    for module in (web, docs, chat, openai, responses, embeddings, ops, questions, documents, jobs, collections):
        app.include_router(module.router)

    def index_stats() -> dict[str, dict[str, Any]]:
        registry: Collections | None = app.state.collections
        return {} if registry is None else registry.open_stats()

    def collection_gone(name: str) -> bool:
        registry: Collections | None = app.state.collections
        return registry is not None and registry.gone(name)

    metrics = Metrics(index_stats)
    app.state.collections = None  # set when the app starts
    app.state.metrics = metrics
    keyring = Keyring.load(settings.keys_file or None, parse_keys(settings.api_keys))
    app.state.scoped_keys = bool(settings.keys_file)
    # The MCP tools at /mcp. add_document is there as POST /v1/documents is, and needs a key as it does.
    mcp_server = build_server(
        lambda name: app.state.collections.using(name),
        writes=True,
        keyring=keyring,
        observer=lambda name: metrics.observer(lambda: "/mcp", lambda: name),
        listing=lambda: app.state.collections.list(),
    )
    app.router.routes.extend(http_routes(mcp_server, settings.max_request_bytes))

    # Innermost first: API keys, then CORS, then the Host and cross-site write checks, then
    # (outermost) request id, metrics, access log and the request-size limit, so every response
    # is observed, 400s, 401s, 403s and 413s included.
    app.add_middleware(
        RequireKey,  # type: ignore[arg-type]
        keyring=keyring,
        for_read=settings.require_key_for_read,
        open_docs_and_metrics=settings.open_docs_and_metrics,
        default_collection=settings.index_name,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(parse_keys(settings.cors_origins)),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        CheckSite,  # type: ignore[arg-type]
        hosts=allowed_hosts(settings.allowed_hosts, settings.host),
        origins=parse_keys(settings.cors_origins),
    )
    app.add_middleware(
        Observe,  # type: ignore[arg-type]
        metrics=metrics,
        max_request_bytes=settings.max_request_bytes,
        gone=collection_gone,
    )

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        path = request.url.path
        gone = status_of(exc) >= 500 or isinstance(exc, IndexGone)
        if gone and (name := await deleted_collection(request, exc)):
            # Its index went away under the request (deleted by another process, or by this one
            # after the wait): a 404, as the next request gets, never the index's 503.
            return deleted_response(path, name)
        return openai_qa_error(exc) if is_openai_path(path) else qa_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = validation_message(exc)
        if is_openai_path(request.url.path):
            return openai_error(400, message, kind_of(status))  # OpenAI's clients know 400, not 422
        return error_response(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        no_route = exc.status_code == 404 and message == "Not Found"
        if no_route:
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 400 and message == "There was an error parsing the body":
            # FastAPI's words when the JSON parser gives up (e.g. nesting past Python's recursion limit).
            message = "request body could not be parsed as JSON (malformed, or nested too deeply); send a JSON object"
        path = request.url.path
        # A /v1 path no route serves is an OpenAI client's (`/v1/completions`, `/v1/assistants`...).
        if is_openai_path(path) or (no_route and path.startswith("/v1/")):
            return openai_error(exc.status_code, message, kind_of(exc.status_code), headers=dict(exc.headers or {}))
        return JSONResponse({"error": kind_of(exc.status_code), "message": message}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Last resort: log the traceback server-side, never send it.
        # (Observe answers errors of the routes; this catches what fails outside them.)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return refusal(request.url.path, 500, INTERNAL_MESSAGE)

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        models = components.setdefault("schemas", {})
        # Request bodies declared by hand (the routes read them themselves) and streamed events' data.
        for model in DOCUMENTED_MODELS:
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            models.update(body.pop("$defs", {}))
            models[model.__name__] = body
        components["securitySchemes"] = {BEARER: {"type": "http", "scheme": "bearer", "description": KEY_HELP}}
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                operation["security"] = security_of(method, path)
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app
