"""OpenAI's Responses API: ``POST /v1/responses``, the answer of ``/v1/chat/completions`` in the
shape ``client.responses.create`` reads.

The conversation (``input``, a string or message items; ``instructions`` as a system message) goes
through the same code as a chat completion (``qa.api.routes.openai.pending_reply``): the same
follow-up resolution, the same text with ``[n]`` markers and sources list, each citation a
``url_citation`` annotation of the ``output_text`` whose URL opens qa's page at the span and whose
indexes are its marker's. qa's own fields (``citations`` with the exact quotes...) sit beside
OpenAI's on the response, as on a chat completion.

Nothing is stored: ``previous_response_id``, ``conversation``, ``background`` and stored prompts
are refused (send the whole conversation in ``input``, as LangChain and stateless clients do), and
``GET /v1/responses/{id}`` does not exist. A stream sends its events in OpenAI's order, the text
only once it is checked (a client cannot take back what it has shown): ``response.created``,
``response.in_progress``, the message and its part added, the text deltas, one
``response.output_text.annotation.added`` per citation, the done events, ``response.completed``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from qa.api.deps import CallerDep
from qa.api.errors import kind_of
from qa.api.routes.chat import stream_error
from qa.api.routes.openai import (
    Links,
    Reply,
    checked_body,
    conversation,
    forced_call,
    page_collection,
    pending_reply,
    requested_service,
    sse_response,
    tokens,
)
from qa.api.schemas import OPENAI_ERRORS, RESPONSE_EVENTS, ResponseOut, ResponsesIn, event_stream
from qa.api.sse import pieces, sse

router = APIRouter(tags=["openai"])

# Content parts read as text: a user's input_text, an assistant's earlier output_text (a refusal
# part carries no text); an image or a file is refused, qa answers from text.
TEXT_PARTS = ("input_text", "output_text", "text", "refusal")
# Options that need a response stored on the server, which qa does not do.
STATEFUL = {
    "previous_response_id": "responses are not stored here; send the whole conversation in `input`",
    "conversation": "conversations are not stored here; send the whole conversation in `input`",
    "prompt": "stored prompts are not supported; send the text in `instructions` and `input`",
}


def unsupported(body: ResponsesIn) -> tuple[str, str] | None:
    """The option (and why) this service cannot honour, or None: asked for, they would change what
    comes back, so they are refused rather than ignored."""
    extra = body.model_extra or {}
    if body.previous_response_id is not None:
        return "previous_response_id", f"previous_response_id is not supported: {STATEFUL['previous_response_id']}"
    for param in ("conversation", "prompt"):
        if extra.get(param) is not None:
            return param, f"{param} is not supported: {STATEFUL[param]}"
    if extra.get("background"):
        return "background", "background is not supported: responses are not stored here (send background: false)"
    n = extra.get("n")
    if n is not None and n != 1:
        return "n", f"n={json.dumps(n)} is not supported: qa gives one answer per question (send n=1 or leave it out)"
    if (refused := forced_call("tool_choice", body.tool_choice)) is not None:
        return refused
    kind = ((body.text or {}).get("format") or {}).get("type", "text")
    if kind != "text":
        return "text.format", f"text.format {kind!r} is not supported: answers are text (type 'text')"
    if isinstance(body.input, list):
        for i, item in enumerate(body.input):
            if item.type != "message" or item.role is None:
                return f"input[{i}]", (
                    f"input[{i}] is an item of type {item.type!r}: only messages (with a role) are supported;"
                    " qa answers from its index and calls no functions"
                )
            for j, part in enumerate(item.content if isinstance(item.content, list) else []):
                if part.type not in TEXT_PARTS:
                    return f"input[{i}].content[{j}]", (
                        f"input[{i}].content[{j}] is of type {part.type!r}: only text (input_text) is supported"
                    )
    return None


def _sent(body: ResponsesIn) -> list[tuple[str, str]]:
    """The conversation as (role, text): the instructions first, as a system message."""
    sent = [("system", body.instructions)] if body.instructions else []
    if isinstance(body.input, str):
        return [*sent, ("user", body.input)]
    return [*sent, *((item.role or "user", item.text()) for item in body.input)]


@router.post(
    "/v1/responses",
    response_model=ResponseOut,
    responses={
        **OPENAI_ERRORS,
        200: {
            "description": "A response; with `stream: true`, its events instead.",
            "content": {
                "text/event-stream": event_stream(
                    "`event: <type>` and `data: <event JSON>` pairs, in OpenAI's order, ending with "
                    "`response.completed` (or `error` and `response.failed`). `x-events` names each event's schema.",
                    RESPONSE_EVENTS,
                )
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            # Registered under components by qa/api/app.py, with its nested models, so the refs resolve.
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResponsesIn"}}},
        }
    },
)
async def create_response(request: Request, caller: CallerDep) -> Response:
    """OpenAI Responses API: the answer with ``[n]`` markers in the ``output_text``, each citation
    in its ``annotations`` and in the ``citations`` field."""
    body = checked_body(await request.body(), ResponsesIn, unsupported)
    if isinstance(body, JSONResponse):
        return body
    svc = requested_service(request, body.model, caller)
    if isinstance(svc, JSONResponse):
        return svc
    sent = _sent(body)
    links = Links(str(request.base_url), page_collection(request, svc), body.model)
    maker = _Maker(body, links, lambda content: tokens(svc, (text for _, text in sent), content))
    # A QAError raised here is answered by the app's handler, in OpenAI's shape: a 404
    # (model_not_found) if the collection was deleted under the request, never its index's 503.
    work = await pending_reply(svc, conversation(sent), body.extractive, caller)
    if body.stream:
        return sse_response(_events(request, work, maker))
    reply = await run_in_threadpool(work)
    return JSONResponse(maker.response(reply))


class _Maker:
    """The objects of one response: its ids, and the response, message and text of a reply."""

    def __init__(self, body: ResponsesIn, links: Links, count: Callable[[str], tuple[int, int]]) -> None:
        self.body = body
        self.links = links
        self.count = count
        self.id = f"resp_{uuid.uuid4().hex}"
        self.item_id = f"msg_{uuid.uuid4().hex}"
        self.created = int(time.time())

    def text(self, reply: Reply | None) -> dict[str, Any]:
        """The ``output_text`` part: empty (``None``), or the reply's text with its annotations."""
        if reply is None:
            return {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return {
            "type": "output_text",
            "text": reply.message.content,
            "annotations": list(self.annotations(reply)),
            "logprobs": [],
        }

    def annotations(self, reply: Reply) -> Iterator[dict[str, Any]]:
        """Each citation as the Responses API's ``url_citation`` (flat, unlike Chat Completions')."""
        for c in reply.citations:
            start, end = reply.message.markers[c.n]
            url = self.links.url(c)
            yield {
                "type": "url_citation",
                "url": url,
                "title": c.title or c.doc_id,
                "start_index": start,
                "end_index": end,
            }

    def message(self, reply: Reply | None) -> dict[str, Any]:
        """The output message: in progress and empty (``None``), or completed with the reply."""
        return {
            "type": "message",
            "id": self.item_id,
            "role": "assistant",
            "status": "in_progress" if reply is None else "completed",
            "content": [] if reply is None else [self.text(reply)],
        }

    def response(self, reply: Reply | None = None, error: dict[str, str] | None = None) -> dict[str, Any]:
        """The response: in progress (no reply yet), failed (``error``), or completed with the reply."""
        body = self.body
        out: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "completed_at": None,
            "status": "failed" if error else "in_progress",
            "model": self.links.model,
            "output": [],
            "usage": None,
            "error": error,
            "incomplete_details": None,
            "instructions": body.instructions,
            "metadata": body.metadata or {},
            "parallel_tool_calls": True,
            "tool_choice": body.tool_choice or "auto",
            "tools": [],  # offered tools are never called: the response lists none
            "text": {"format": {"type": "text"}},
            "previous_response_id": None,
        }
        if reply is not None:
            used_in, used_out = self.count(reply.message.content)
            out.update(
                status="completed",
                completed_at=int(time.time()),
                output=[self.message(reply)],
                usage={
                    "input_tokens": used_in,
                    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": used_out,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": used_in + used_out,
                },
                **reply.extras,
            )
        return out


async def _events(request: Request, work: Callable[[], Reply], make: _Maker) -> AsyncIterator[str]:
    sequence = 0

    def event(kind: str, **data: Any) -> str:
        nonlocal sequence
        sequence += 1
        return sse(kind, {"type": kind, "sequence_number": sequence - 1, **data})

    where = {"item_id": make.item_id, "output_index": 0, "content_index": 0}
    yield event("response.created", response=make.response())
    yield event("response.in_progress", response=make.response())
    try:
        # Checked before any of it is sent: a client cannot take back text it has shown.
        reply = await run_in_threadpool(work)
    except Exception as exc:  # the status line has gone out: report in the stream, as OpenAI does
        err = await stream_error(request, exc)
        code = "model_not_found" if err["error"] == kind_of(404) else err["error"]  # its collection was deleted
        yield event("error", code=code, message=err["message"], param=None)
        yield event("response.failed", response=make.response(error={"code": code, "message": err["message"]}))
        return
    yield event("response.output_item.added", output_index=0, item=make.message(None))
    yield event("response.content_part.added", **where, part=make.text(None))
    for piece in pieces(reply.message.content):
        yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
    for i, annotation in enumerate(make.annotations(reply)):
        yield event("response.output_text.annotation.added", **where, annotation_index=i, annotation=annotation)
    yield event("response.output_text.done", **where, text=reply.message.content, logprobs=[])
    yield event("response.content_part.done", **where, part=make.text(reply))
    yield event("response.output_item.done", output_index=0, item=make.message(reply))
    yield event("response.completed", response=make.response(reply))
