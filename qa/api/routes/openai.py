"""OpenAI-compatible routes: ``POST /v1/chat/completions`` and ``GET /v1/models``.

The answer arrives in ``content`` with ``[n]`` markers and a sources list a chat frontend can show
as is, plus a ``citations`` field. Errors are in OpenAI's shape (``{"error": {"message", "type",
"code"}}``) because that is what its clients read. A client cannot take back text it has shown, so
a stream carries the answer only after it is checked.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Generator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from qa.api.deps import Service
from qa.api.errors import ERROR_KIND, kind_of, openai_error, status_of, validation_message
from qa.api.routes.chat import error_data
from qa.api.schemas import OPENAI_ERRORS, OpenAIChatIn, OpenAIMessage, citation_out, sentences_out
from qa.api.sse import SSE_HEADERS, data_line, pieces
from qa.chat import SOURCES_HEADING, Turn
from qa.errors import InvalidInput, QAError
from qa.generate import final
from qa.service import Event
from qa.types import Answer, Citation

MODEL_ID = "qa"

router = APIRouter(tags=["openai"])


def _turns(messages: list[OpenAIMessage]) -> list[Turn]:
    turns = []
    for m in messages:
        role = {"developer": "system"}.get(m.role, m.role)
        if role in ("system", "user", "assistant"):
            turns.append(Turn(role, m.text()))  # type: ignore[arg-type]
    return turns


def _source_line(c: Citation) -> str:
    title = c.title or c.doc_id
    page = f"page {c.page}, " if c.page is not None else ""
    return f"[{c.n}] {title} ({c.doc_id}, {page}characters {c.start}-{c.end})"


def numbered(a: Answer) -> str:
    """The answer with ``[n]`` markers, then a sources list a chat frontend can show as is (and
    a generated answer's note after it, where the next turn's rewrite ignores it)."""
    text = a.answer
    if a.citations and not a.generated:  # a generated answer has its markers in place already
        if len(a.citations) > 1 and text == "\n".join(c.quote for c in a.citations):
            # An extractive answer of several sentences (a lead-in and its list, a signature and
            # its description): each marker after its own sentence.
            text = "\n".join(f"{c.quote} [{c.n}]" for c in a.citations)
        else:
            text += " " + "".join(f"[{c.n}]" for c in a.citations)
    note = f"\n\nNote: {a.note}" if a.note else ""
    if not a.citations:
        return text + note
    sources = "\n".join(_source_line(c) for c in a.citations)
    return f"{text}{SOURCES_HEADING}{sources}{note}"


def _extras(a: Answer) -> dict[str, Any]:
    """Fields beside OpenAI's own: the citations, what was searched, whether an LLM wrote the
    answer and what the check found."""
    sentences = sentences_out(a)
    return {
        "citations": [citation_out(c).model_dump() for c in a.citations],
        "query": a.query,
        "generated": a.generated,
        "note": a.note,
        "sentences": [s.model_dump() for s in sentences] if sentences else None,
    }


def _usage(a: Answer, content: str) -> dict[str, int]:
    # Words, not model tokens: there is no generating model; clients only display these.
    prompt, completion = len(a.query.split()), len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.get("/v1/models")
def models() -> dict[str, Any]:
    """The one model this service is, for OpenAI-compatible clients."""
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "qa"}]}


@router.post(
    "/v1/chat/completions",
    responses={
        **OPENAI_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "A chat completion, or chunks with stream"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            # Registered under components by qa/api/app.py, with its nested models, so the refs resolve.
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIChatIn"}}},
        }
    },
)
async def chat_completions(request: Request, svc: Service) -> Response:
    """OpenAI Chat Completions: the answer with ``[n]`` markers in ``content`` and a ``citations`` field."""
    try:
        body = OpenAIChatIn.model_validate_json(await request.body())
    except ValidationError as exc:
        status, message = validation_message(exc)
        return openai_error(400, message, ERROR_KIND[status])
    if body.model != MODEL_ID:
        return openai_error(
            404, f"model {body.model!r} is not served here; use {MODEL_ID!r} (GET /v1/models)", "model_not_found"
        )
    turns = _turns(body.messages)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    try:
        if body.stream:
            # The request is checked here, before the stream's status line; answered as it is read.
            events = svc.chat_stream(turns, extractive=body.extractive)
            return StreamingResponse(
                _chunks(events, completion_id, created), media_type="text/event-stream", headers=SSE_HEADERS
            )
        a = await run_in_threadpool(svc.chat, turns, None, None, body.extractive)
    except QAError as exc:
        return _error(exc)
    content = numbered(a)
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": _usage(a, content),
            **_extras(a),
        }
    )


def _error(exc: QAError) -> JSONResponse:
    """A refused request is OpenAI's 400 (its clients treat 422 as unknown); the index's own
    failures keep their status (409, 503)."""
    status = status_of(exc)
    return openai_error(400 if isinstance(exc, InvalidInput) else status, str(exc), kind_of(status))


async def _chunks(events: Generator[Event, None, None], completion_id: str, created: int) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return data_line(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [choice],
                **extra,
            }
        )

    try:
        yield chunk({"role": "assistant", "content": ""})
        # Checked before any of it is sent: a client cannot take back text it has shown.
        a = await run_in_threadpool(final, events)
        for piece in pieces(numbered(a)):
            yield chunk({"content": piece})
        yield chunk({}, "stop", **_extras(a))
    except Exception as exc:  # the status line has gone out: report in the stream, as OpenAI does
        err = error_data(exc)
        yield data_line({"error": {"message": err["message"], "type": err["error"], "code": None}})
    yield "data: [DONE]\n\n"
