"""Chat routes: the web page at ``/``, ``POST /v1/chat`` (JSON or server-sent events) and the
OpenAI-compatible ``POST /v1/chat/completions`` + ``GET /v1/models``.

``qa.api.create_app`` includes ``router``; this module imports ``qa.api`` (never the reverse at
import time) to share its response models and error translation.

Server-sent events of ``POST /v1/chat`` with ``"stream": true``, in order::

    event: passages   {"question", "query", "rewritten", "passages": [...]}
    event: delta      {"text": "..."}            (repeated; joined they are the answer)
    event: answer     {"text", "generated", "note", "sentences", "short_answer"}   (only with an LLM configured)
    event: citations  {"citations": [...]}
    event: done       {"found", "score", "short_answer", "generated", "note"}
    event: error      {"error": "<type>", "message": "..."}   (instead of the rest, on failure)

With an LLM configured (``QA_LLM_BASE_URL``), the deltas are the LLM's text as it arrives with its
``[n]`` markers held back (no marker is shown before it is checked); ``answer`` then carries the
checked answer, markers renumbered, which replaces the deltas. If generation fails, ``answer`` is
the extractive answer and ``note`` says why. The OpenAI-compatible route cannot take back text a
client has shown, so it streams the answer only after checking it.

Errors found before the stream starts (bad body, empty or too long question) are JSON 4xx like
every other route. The OpenAI-compatible route answers errors in OpenAI's shape
(``{"error": {"message", "type", "code"}}``) because that is what its clients read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from qa.api import (
    ERRORS,
    AnswerOut,
    CitationOut,
    Scalar,
    Service,
    _answer_fields,
    _passage,
    _sentences,
    _short,
    _validation_message,
)
from qa.chat import SOURCES_HEADING, Resolved, Turn, answer, pieces, resolve, retrieve
from qa.errors import InvalidInput, NotFound, QAError
from qa.generate import Generated
from qa.middleware import ERROR_KIND
from qa.service import QAService
from qa.types import Answer, Citation, Passage

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
WEB_FILES = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
# The page loads only its own script and style and talks only to this server; inline script
# (and so any markup that slipped into the DOM) does not run.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MODEL_ID = "qa"

router = APIRouter()


# -- web page ----------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/web/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    if name not in WEB_FILES:
        raise NotFound(f"no web asset {name!r}")
    return FileResponse(WEB_DIR / name, media_type=WEB_FILES[name], headers=PAGE_HEADERS)


# -- POST /v1/chat -----------------------------------------------------------------------------


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str = Field(..., max_length=100_000)


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[MessageIn] = Field(
        ...,
        min_length=1,
        max_length=200,
        description="The conversation so far, oldest first; the last message is the user's question.",
        examples=[[{"role": "user", "content": "Who met in Paris?"}]],
    )
    stream: bool = Field(False, description="Answer as server-sent events: passages, delta, citations, done.")
    k: int | None = Field(None, description="Passages to retrieve (1..QA_MAX_K; default QA_DEFAULT_K).")
    filters: dict[str, Scalar | list[str]] | None = Field(
        None, description="Exact-match filters on document metadata, as for /v1/search."
    )
    extractive: bool = Field(False, description="Answer extractively even when an LLM is configured (QA_LLM_BASE_URL).")


class ChatOut(AnswerOut):
    """The answer to a conversation's last question, with what was searched for it."""

    question: str = Field(..., description="The user's last question, as asked.")
    query: str = Field(..., description="What was searched: the question, resolved against the conversation.")
    rewritten: bool = Field(..., description="True when the question was a follow-up and was rewritten.")


def _check_k(svc: QAService, k: int | None) -> None:
    if k is not None and not 1 <= k <= svc.settings.max_k:
        raise InvalidInput(f"k must be between 1 and {svc.settings.max_k} (QA_MAX_K), got {k}")


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _error_data(exc: Exception) -> dict[str, str]:
    if isinstance(exc, QAError):
        return {"error": ERROR_KIND.get(exc.status_code, "error"), "message": str(exc)}
    log.error("chat stream failed", exc_info=exc)
    return {"error": "internal", "message": "internal error; the server log has details"}


def _citations(a: Answer) -> list[dict[str, Any]]:
    return [CitationOut(**asdict(c)).model_dump() for c in a.citations]


def _passages(passages: list[Passage] | tuple[Passage, ...]) -> list[dict[str, Any]]:
    return [_passage(p).model_dump() for p in passages]


def _short_data(a: Answer, g: Generated | None) -> dict[str, Any] | None:
    short = _short(a, g)
    return short.model_dump() if short else None


def _done(a: Answer, g: Generated | None) -> dict[str, Any]:
    return {"found": a.found, "score": a.score, "short_answer": _short_data(a, g)}


def _generates(svc: QAService, extractive: bool) -> bool:
    return svc.llm is not None and not extractive


async def _chat_events(
    svc: QAService, resolved: Resolved, k: int | None, filters: dict[str, Any] | None, generate: bool = False
) -> AsyncIterator[str]:
    try:
        passages = await run_in_threadpool(retrieve, svc, resolved, k, filters)
        yield _sse(
            "passages",
            {**asdict(resolved), "passages": _passages(passages)},
        )
        a = await run_in_threadpool(answer, svc, resolved, passages)
        if not generate:
            for piece in pieces(a.answer):
                yield _sse("delta", {"text": piece})
            yield _sse("citations", {"citations": _citations(a)})
            yield _sse("done", {**_done(a, None), "generated": False, "note": None})
            return
        g: Generated | None = None
        streamed = False
        items = svc.generate_stream(resolved.query, passages, a)
        try:
            async for item in iterate_in_threadpool(items):
                if isinstance(item, Generated):
                    g = item
                else:
                    streamed = True
                    yield _sse("delta", {"text": item})
        finally:
            # A client that left mid-answer: close the LLM request too (if a worker thread is
            # inside the generator right now, it closes when collected instead).
            with contextlib.suppress(ValueError):
                items.close()
        assert g is not None
        if not streamed:
            for piece in pieces(g.answer):
                yield _sse("delta", {"text": piece})
        yield _sse(
            "answer",
            {
                "text": g.answer,
                "generated": g.generated,
                "note": g.note,
                "sentences": [s.model_dump() for s in _sentences(g) or []] or None,
                "short_answer": _short_data(a, g),
            },
        )
        yield _sse("citations", {"citations": [CitationOut(**asdict(c)).model_dump() for c in g.citations]})
        yield _sse("done", {**_done(a, g), "generated": g.generated, "note": g.note})
    except Exception as exc:  # reported in the stream: the status line has already gone out
        yield _sse("error", _error_data(exc))


@router.post(
    "/v1/chat",
    response_model=ChatOut,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "JSON, or events with stream"}},
    tags=["questions"],
)
async def chat(body: ChatIn, svc: Service) -> Any:
    """Answer the last user message, resolving a follow-up against the conversation."""
    resolved = resolve([Turn(m.role, m.content) for m in body.messages], svc.settings.max_question_chars)
    _check_k(svc, body.k)
    generate = _generates(svc, body.extractive)
    if body.stream:
        return StreamingResponse(
            _chat_events(svc, resolved, body.k, body.filters, generate),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    passages = await run_in_threadpool(retrieve, svc, resolved, body.k, body.filters)
    a = await run_in_threadpool(answer, svc, resolved, passages)
    g = await run_in_threadpool(svc.generate, resolved.query, passages, a) if generate else None
    return ChatOut(
        question=resolved.question, query=resolved.query, rewritten=resolved.rewritten, **_answer_fields(a, g)
    )


# -- OpenAI-compatible: POST /v1/chat/completions, GET /v1/models ------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class OpenAIMessage(BaseModel):
    # Clients send more than we use (name, tool_calls, ...): ignore it rather than refuse.
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class OpenAIChatIn(BaseModel):
    # Sampling options (temperature, max_tokens, ...) mean nothing to an extractive answerer.
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[OpenAIMessage] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    extractive: bool = False  # not OpenAI's: answer extractively even with an LLM configured


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(..., description="invalid_request_error, or server_error.")
    param: str | None = None
    code: str


class OpenAIErrorOut(BaseModel):
    error: OpenAIErrorDetail


# OpenAI's error shape, so OpenAI clients show the message: 400 for a request that does not parse,
# 404 for an unknown model, and the service's own statuses for what it refuses.
OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": OpenAIErrorOut, "description": "An error, in OpenAI's shape."}
    for code in (400, 404, 409, 413, 415, 422, 503)
}


def _openai_error(status: int, message: str, code: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def _turns(messages: list[OpenAIMessage]) -> list[Turn]:
    turns = []
    for m in messages:
        role = {"developer": "system"}.get(m.role, m.role)
        if role in ("system", "user", "assistant"):
            turns.append(Turn(role, m.text()))  # type: ignore[arg-type]
    return turns


def _numbered(a: Answer, g: Generated | None = None) -> str:
    """The answer with ``[n]`` markers, then a sources list a chat frontend can show as is (and
    a generated answer's note after it, where the next turn's rewrite ignores it)."""
    if g is not None and g.generated:
        text, citations = g.answer, g.citations  # its markers are in place already
    else:
        citations = g.citations if g is not None else a.citations
        text = g.answer if g is not None else a.answer
        if citations:
            text += " " + "".join(f"[{c.n}]" for c in citations)
    if not citations:
        return text if g is None or not g.note else f"{text}\n\nNote: {g.note}"
    sources = "\n".join(_source_line(c) for c in citations)
    note = f"\n\nNote: {g.note}" if g is not None and g.note else ""
    return f"{text}{SOURCES_HEADING}{sources}{note}"


def _generated(g: Generated | None) -> dict[str, Any]:
    """Fields beside OpenAI's own: whether an LLM wrote the answer, and the check's findings."""
    if g is None:
        return {"generated": False, "note": None}
    sentences = _sentences(g)
    return {
        "generated": g.generated,
        "note": g.note,
        "sentences": [s.model_dump() for s in sentences] if sentences else None,
    }


def _source_line(c: Citation) -> str:
    title = c.title or c.doc_id
    return f"[{c.n}] {title} ({c.doc_id}, characters {c.start}-{c.end})"


@router.get("/v1/models", tags=["openai"])
def models() -> dict[str, Any]:
    """The one model this service is, for OpenAI-compatible clients."""
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qa"}]}


@router.post(
    "/v1/chat/completions",
    tags=["openai"],
    responses={
        **OPENAI_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "A chat completion, or chunks with stream"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            # Registered under components by qa/api.py, with its nested models, so the refs resolve.
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIChatIn"}}},
        }
    },
)
async def chat_completions(request: Request, svc: Service) -> Response:
    """OpenAI Chat Completions: the answer with ``[n]`` markers in ``content`` and a ``citations`` field."""
    try:
        body = OpenAIChatIn.model_validate_json(await request.body())
    except ValidationError as exc:
        status, message = _validation_message(exc)
        return _openai_error(400, message, ERROR_KIND[status])
    if body.model != MODEL_ID:
        return _openai_error(
            404, f"model {body.model!r} is not served here; use {MODEL_ID!r} (GET /v1/models)", "model_not_found"
        )
    try:
        resolved = resolve(_turns(body.messages), svc.settings.max_question_chars)
    except QAError as exc:
        return _openai_error(400, str(exc), ERROR_KIND.get(exc.status_code, "error"))
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    generate = _generates(svc, body.extractive)
    if body.stream:
        return StreamingResponse(
            _completion_chunks(svc, resolved, completion_id, created, generate),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    try:
        passages = await run_in_threadpool(retrieve, svc, resolved, None, None)
        a = await run_in_threadpool(answer, svc, resolved, passages)
        g = await run_in_threadpool(svc.generate, resolved.query, passages, a) if generate else None
    except QAError as exc:
        return _openai_error(exc.status_code, str(exc), ERROR_KIND.get(exc.status_code, "error"))
    content = _numbered(a, g)
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": _usage(resolved, content),
            "citations": _cited(a, g),
            "query": resolved.query,
            **_generated(g),
        }
    )


def _cited(a: Answer, g: Generated | None) -> list[dict[str, Any]]:
    return [CitationOut(**asdict(c)).model_dump() for c in (g.citations if g else a.citations)]


def _usage(resolved: Resolved, content: str) -> dict[str, int]:
    # Words, not model tokens: there is no generating model; clients only display these.
    prompt, completion = len(resolved.query.split()), len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _completion_chunks(
    svc: QAService, resolved: Resolved, completion_id: str, created: int, generate: bool = False
) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [choice],
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        passages = await run_in_threadpool(retrieve, svc, resolved, None, None)
        a = await run_in_threadpool(answer, svc, resolved, passages)
        # Checked before any of it is sent: a client cannot take back text it has shown.
        g = await run_in_threadpool(svc.generate, resolved.query, passages, a) if generate else None
        for piece in pieces(_numbered(a, g)):
            yield chunk({"content": piece})
        yield chunk({}, "stop", citations=_cited(a, g), query=resolved.query, **_generated(g))
    except Exception as exc:  # the status line has gone out: report in the stream, as OpenAI does
        err = _error_data(exc)
        yield f"data: {json.dumps({'error': {'message': err['message'], 'type': err['error'], 'code': None}})}\n\n"
    yield "data: [DONE]\n\n"
