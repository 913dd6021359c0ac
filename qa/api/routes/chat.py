"""``POST /v1/chat``: answer the last user message, a follow-up resolved against the conversation.

Server-sent events with ``"stream": true``, in order::

    event: passages   {"question", "query", "rewritten", "passages": [...]}
    event: delta      {"text": "..."}            (repeated; joined they are the answer)
    event: answer     {"text", "generated", "note", "sentences", "short_answer"}   (only with an LLM configured)
    event: citations  {"citations": [...]}
    event: done       {"found", "score", "short_answer", "generated", "note"}
    event: error      {"error": "<type>", "message": "..."}   (instead of the rest, on failure)

With an LLM configured (``QA_LLM_BASE_URL``), the deltas are the LLM's text as it arrives with its
``[n]`` markers held back (no marker is shown before it is checked); ``answer`` then carries the
checked answer, markers renumbered, which replaces the deltas. If generation fails, ``answer`` is
the extractive answer and ``note`` says why.

Errors found before the stream starts (bad body, empty or too long question) are JSON 4xx like
every other route.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Generator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from qa.api.deps import CallerDep, Service, deleted_collection
from qa.api.errors import INTERNAL_MESSAGE, deleted_data, kind_of, status_of
from qa.api.schemas import (
    CHAT_EVENTS,
    ERRORS,
    ChatIn,
    ChatOut,
    answer_fields,
    citation_out,
    event_stream,
    passage_out,
    sentences_out,
    short_out,
)
from qa.api.sse import SSE_HEADERS, pieces, sse
from qa.chat import Turn
from qa.errors import IndexGone, QAError
from qa.service import Event
from qa.types import Answer, Retrieved

log = logging.getLogger(__name__)

router = APIRouter(tags=["questions"])


def error_data(exc: Exception) -> dict[str, str]:
    """An error inside a stream, whose status line has already gone out."""
    if isinstance(exc, QAError):
        return {"error": kind_of(status_of(exc)), "message": str(exc)}
    log.error("stream failed", exc_info=exc)
    return {"error": "internal", "message": INTERNAL_MESSAGE}


async def stream_error(request: Request, exc: Exception) -> dict[str, str]:
    """``error_data``, unless the request's collection was deleted under it: an error of the index
    (a 5xx, or unexpected) is then that deletion, a 404's kind and message, as a response would say."""
    failed = not (isinstance(exc, QAError) and status_of(exc) < 500) or isinstance(exc, IndexGone)
    if failed and (name := await deleted_collection(request, exc)):
        return deleted_data(name)
    return error_data(exc)


def _done(a: Answer) -> dict[str, Any]:
    short = short_out(a)
    return {
        "found": a.found,
        "score": a.score,
        "short_answer": short.model_dump() if short else None,
        "generated": a.generated,
        "note": a.note,
    }


async def _events(request: Request, events: Generator[Event, None, None]) -> AsyncIterator[str]:
    streamed = generate = False
    try:
        async for item in iterate_in_threadpool(events):
            if isinstance(item, Retrieved):
                generate = item.generating
                passages = [passage_out(p).model_dump() for p in item.passages]
                yield sse(
                    "passages",
                    {"question": item.question, "query": item.query, "rewritten": item.rewritten, "passages": passages},
                )
            elif isinstance(item, str):
                streamed = True
                yield sse("delta", {"text": item})
            else:
                if not streamed:
                    for piece in pieces(item.answer):
                        yield sse("delta", {"text": piece})
                if generate:
                    short = short_out(item)
                    yield sse(
                        "answer",
                        {
                            "text": item.answer,
                            "generated": item.generated,
                            "note": item.note,
                            "sentences": [s.model_dump() for s in sentences_out(item) or []] or None,
                            "short_answer": short.model_dump() if short else None,
                        },
                    )
                yield sse("citations", {"citations": [citation_out(c).model_dump() for c in item.citations]})
                yield sse("done", _done(item))
    except Exception as exc:  # reported in the stream: the status line has already gone out
        yield sse("error", await stream_error(request, exc))
    finally:
        # A client that left mid-answer: close the LLM request too (if a worker thread is inside
        # the generator right now, it closes when collected instead).
        with contextlib.suppress(ValueError):
            events.close()


@router.post(
    "/v1/chat",
    response_model=ChatOut,
    responses={
        **ERRORS,
        200: {
            "description": "The answer as JSON; with `stream: true`, as server-sent events instead.",
            "content": {
                "text/event-stream": event_stream(
                    "`event: <name>` and `data: <JSON>` per event: passages, delta (repeated), answer (only "
                    "with an LLM), citations, done; error instead of the rest if something fails mid-stream. "
                    "`x-events` names each event's data schema.",
                    CHAT_EVENTS,
                )
            },
        },
    },
)
async def chat(body: ChatIn, svc: Service, caller: CallerDep, request: Request) -> Any:
    """Answer the last user message, resolving a follow-up against the conversation."""
    turns = [Turn(m.role, m.content) for m in body.messages]
    if body.stream:
        # Checked now, so a bad request is a JSON 4xx before the stream's status line.
        events = svc.chat_stream(turns, body.k, body.filters, body.extractive, body.max_per_doc, caller)
        return StreamingResponse(
            _events(request, events),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    a = await run_in_threadpool(svc.chat, turns, body.k, body.filters, body.extractive, body.max_per_doc, caller)
    return ChatOut(question=a.question, query=a.query, rewritten=a.rewritten, **answer_fields(a))
