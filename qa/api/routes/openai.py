"""OpenAI-compatible routes: ``POST /v1/chat/completions``, ``GET /v1/models`` and
``GET /v1/models/{id}`` (``/v1/embeddings`` is in ``embeddings.py``; ``/v1/responses``, in
``responses.py``, shares the answering code here: ``conversation``, ``pending_reply``, ``tokens``).

The answer arrives in ``content`` with ``[n]`` markers and a sources list a chat frontend can show
as is. Each citation is also in OpenAI's standard place, ``message.annotations`` (``delta.annotations``
in a stream): a ``url_citation`` whose URL opens the cited span in qa's own page
(``/documents/{id}#start-end``) and whose indexes are its marker's in ``content``; a stream also
carries Open WebUI's ``source`` event with the exact quote, so Open WebUI shows it. The ``citations``
field keeps qa's own form. Errors are in OpenAI's shape (``{"error": {"message", "type", "param",
"code"}}``) because that is what its clients read. A client cannot take back text it has shown, so
a stream carries the answer only after it is checked.

Open WebUI's background prompts (chat title, tags, follow-ups) are answered in the JSON it parses
(``qa.tasks``), from the conversation and the index.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from qa.access import ADMIN, Caller
from qa.api.deps import CallerDep, collections_of, hold
from qa.api.errors import ERROR_KIND, kind_of, openai_error, openai_qa_error, validation_message
from qa.api.routes.chat import stream_error
from qa.api.schemas import (
    OPENAI_ERRORS,
    ModelList,
    ModelOut,
    OpenAIChatChunk,
    OpenAIChatIn,
    OpenAIChatOut,
    OpenAIMessage,
    citation_out,
    event_stream,
    sentences_out,
)
from qa.api.sse import SSE_HEADERS, data_line, pieces
from qa.chat import SOURCES_HEADING, Turn
from qa.chunk import tiktoken_counter
from qa.collections import OPENAI_MODEL_ID, Collections
from qa.errors import MissingScope, NotFound, QAError
from qa.generate import final
from qa.service import QAService
from qa.tasks import MAX_FOLLOW_UPS, TaskPrompt, follow_ups, tags, task_prompt, title
from qa.types import Answer, Citation

# Suggestions tried for the follow-up task, each asked once; those answered are kept.
FOLLOW_UP_CANDIDATES = 2 * MAX_FOLLOW_UPS

MODEL_ID = OPENAI_MODEL_ID
M = TypeVar("M", bound=BaseModel)

router = APIRouter(tags=["openai"])


def conversation(messages: Iterable[tuple[str, str]]) -> list[Turn]:
    """The turns of a conversation sent as (role, text) pairs: ``developer`` is ``system``, and
    roles qa does not read (``tool``...) are left out."""
    turns = []
    for role, text in messages:
        role = {"developer": "system"}.get(role, role)
        if role in ("system", "user", "assistant"):
            turns.append(Turn(role, text))  # type: ignore[arg-type]
    return turns


def _source_line(c: Citation) -> str:
    title = c.title or c.doc_id
    page = f"page {c.page}, " if c.page is not None else ""
    return f"[{c.n}] {title} ({c.doc_id}, {page}characters {c.start}-{c.end})"


@dataclass(frozen=True)
class Numbered:
    """An answer as a chat message: the content, and where each citation's marker is in it."""

    content: str
    markers: dict[int, tuple[int, int]]  # citation n -> (start, end) of its first "[n]" in content


def numbered(a: Answer) -> Numbered:
    """The answer with ``[n]`` markers, then a sources list a chat frontend can show as is (and
    a generated answer's note after it, where the next turn's rewrite ignores it)."""
    parts: list[str] = []
    markers: dict[int, tuple[int, int]] = {}
    size = 0

    def add(text: str, marker_of: int | None = None) -> None:
        nonlocal size
        if marker_of is not None:
            markers.setdefault(marker_of, (size, size + len(f"[{marker_of}]")))
        parts.append(text)
        size += len(text)

    if a.citations and not a.generated:
        if len(a.citations) > 1 and a.answer == "\n".join(c.quote for c in a.citations):
            # An extractive answer of several sentences (a lead-in and its list, a signature and
            # its description): each marker after its own sentence.
            for i, c in enumerate(a.citations):
                add(("\n" if i else "") + c.quote + " ")
                add(f"[{c.n}]", c.n)
        else:
            add(a.answer + " ")
            for c in a.citations:
                add(f"[{c.n}]", c.n)
    else:
        # A generated answer has its markers in place already (renumbered in order of first use).
        numbers = {c.n for c in a.citations}
        for n in numbers:
            at = a.answer.find(f"[{n}]")
            if at >= 0:
                markers[n] = (at, at + len(f"[{n}]"))
        add(a.answer)
    if a.citations:
        add(SOURCES_HEADING)
        for i, c in enumerate(a.citations):
            if i:
                add("\n")
            add(_source_line(c), c.n)  # its line's "[n]" marks it when the text has no marker
    if a.note:
        add(f"\n\nNote: {a.note}")
    return Numbered("".join(parts), markers)


def citation_url(base_url: str, c: Citation, collection: str | None = None) -> str:
    """qa's page opened at the citation's span: ``<base>/documents/<id>#<start>-<end>``, with
    ``?collection=<name>`` for a collection other than the default."""
    query = f"?collection={quote(collection, safe='')}" if collection else ""
    return f"{base_url.rstrip('/')}/documents/{quote(c.doc_id, safe='/')}{query}#{c.start}-{c.end}"


def annotation(c: Citation, url: str, marker: tuple[int, int]) -> dict[str, Any]:
    """OpenAI's ``url_citation`` annotation of a citation (what ``openai``'s ``Annotation`` parses)."""
    start, end = marker
    return {
        "type": "url_citation",
        "url_citation": {"url": url, "title": c.title or c.doc_id, "start_index": start, "end_index": end},
    }


def source_event(c: Citation, url: str) -> dict[str, Any]:
    """Open WebUI's ``source`` event for a citation: its source panel shows ``document`` (the exact
    quote). ``metadata.source`` is the annotation's URL: Open WebUI groups what it receives by that
    key, so the annotation it makes of ``delta.annotations`` joins this source instead of counting
    as a second one (its ``[n]`` chips are matched to sources by position). Its ``page`` counts from 0,
    as Open WebUI's own PDF sources do (its panel shows ``page + 1``); qa's ``page`` elsewhere counts
    from 1."""
    return {
        "type": "source",
        "data": {
            "source": {"name": c.title or c.doc_id, "id": c.doc_id, "url": url},
            "document": [c.quote],
            "metadata": [
                {
                    "source": url,
                    "source_url": url,
                    "name": c.title or c.doc_id,
                    "doc_id": c.doc_id,
                    "start": c.start,
                    "end": c.end,
                    "page": None if c.page is None else c.page - 1,
                }
            ],
        },
    }


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


def tokens(svc: QAService, sent: Iterable[str], content: str) -> tuple[int, int]:
    """Tokens as OpenAI's clients count them (tiktoken's cl100k_base, QA_ENCODING): of the texts
    sent (the messages, instructions), and of the content returned."""
    count: Callable[[str], int] = tiktoken_counter(svc.settings.encoding)
    return sum(count(text) for text in sent), count(content)


def usage(svc: QAService, messages: list[OpenAIMessage], content: str) -> dict[str, int]:
    """Chat Completions' ``usage`` in tokens (``tokens``)."""
    prompt, completion = tokens(svc, (m.text() for m in messages), content)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@dataclass(frozen=True)
class Reply:
    """What a conversation gets: the message, its citations, and qa's own fields beside them
    (none for the JSON of an Open WebUI task prompt)."""

    message: Numbered
    citations: tuple[Citation, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)


async def pending_reply(
    svc: QAService, turns: list[Turn], extractive: bool, caller: Caller = ADMIN
) -> Callable[[], Reply]:
    """The reply to a conversation, as work to run in a thread (it blocks: retrieval, an LLM).

    The conversation is checked now, so a refusal (``QAError``) comes before a response starts;
    a follow-up goes through the service's chat resolution. An Open WebUI task prompt (a chat
    title, tags, follow-ups) is answered now, in the JSON it asks for (``qa.tasks``). Shared by
    Chat Completions and the Responses API."""
    task = task_prompt(turns[-1].content) if turns and turns[-1].role == "user" else None
    if task is not None:
        done = Reply(Numbered(await run_in_threadpool(answer_task, svc, task, caller), {}))
        return lambda: done
    events = svc.chat_stream(turns, extractive=extractive, caller=caller)

    def finish() -> Reply:
        a = final(events)
        return Reply(numbered(a), a.citations, _extras(a))

    return finish


def unsupported(body: OpenAIChatIn) -> tuple[str, str] | None:
    """The option (and why) this service cannot honour, or None: asked for, they would change what
    comes back, so they are refused rather than ignored."""
    if body.n is not None and body.n != 1:
        return "n", f"n={body.n} is not supported: qa gives one answer per question (send n=1 or leave it out)"
    # Tools offered are accepted and never called: with tool_choice "auto" (the default) a model
    # may answer in text, and Open WebUI (0.12, native function calling) offers its built-in tools
    # on every chat request. Only a forced call is refused: qa cannot make one.
    for param, choice in (
        ("tool_choice", body.tool_choice),
        ("function_call", (body.model_extra or {}).get("function_call")),
    ):
        if (refused := forced_call(param, choice)) is not None:
            return refused
    if body.response_format is not None and body.response_format.get("type", "text") != "text":
        kind = body.response_format.get("type")
        return "response_format", f"response_format {kind!r} is not supported: answers are text (type 'text')"
    return None


def forced_call(param: str, choice: Any) -> tuple[str, str] | None:
    """A refusal of a forced tool call (``param`` and why), or None for ``auto``, ``none`` or nothing."""
    if choice in (None, "none", "auto"):
        return None
    return param, (
        f"{param} {json.dumps(choice)} is not supported: qa answers from its index and calls"
        " no functions (send 'auto' or 'none', or leave it out)"
    )


def _model(model_id: str, created: int = 0) -> dict[str, Any]:
    return ModelOut(id=model_id, created=created, owned_by="qa").model_dump()


def model_ids(collections: Collections) -> list[str]:
    """The models this server is: ``qa`` (the default collection, the id OpenAI clients have
    always used), then each other collection by its name."""
    return [MODEL_ID, *(n for n in collections.names() if n != collections.default_name)]


@router.get("/v1/models", response_model=ModelList, responses=OPENAI_ERRORS)
def list_models(request: Request, caller: CallerDep) -> dict[str, Any]:
    """The collections the key may read, as models for OpenAI-compatible clients: ``qa`` is the
    default collection, every other is its name; a chat's ``model`` picks the collection it answers from."""
    return {"object": "list", "data": [_model(m) for m in readable_models(request, caller)]}


@router.get("/v1/models/{model_id:path}", response_model=ModelOut, responses=OPENAI_ERRORS)
def get_model(model_id: str, request: Request, caller: CallerDep) -> Any:
    """One model: ``qa`` or a collection's name; any other id (or a collection the key may not
    read) is a 404 in OpenAI's shape."""
    svc = collections_of(request).for_model(model_id)
    if svc is None or not caller.can("read", svc.collection):
        return unknown_model(model_id)
    return _model(model_id)


def model_service(request: Request, model_id: str, caller: Caller) -> QAService | None:
    """The collection an OpenAI request's ``model`` names (None: no such model), named in the
    request for the metrics' labels.

    Raises:
        MissingScope: the caller may not read that collection.
    """
    collections = collections_of(request)
    try:
        svc = collections.acquire(None if model_id == MODEL_ID else model_id)
    except NotFound:
        return None
    hold(request, svc)
    check_read(caller, svc)
    return svc


def requested_service(request: Request, model_id: str, caller: Caller) -> QAService | JSONResponse:
    """``model_service``, or the OpenAI-shaped error to answer instead: no such model (404), or one
    the caller may not read (403)."""
    try:
        svc = model_service(request, model_id, caller)
    except QAError as exc:
        return openai_qa_error(exc)
    return unknown_model(model_id) if svc is None else svc


def check_read(caller: Caller, svc: QAService) -> None:
    """Raise ``MissingScope`` unless ``caller`` may read ``svc``'s collection (the OpenAI routes
    name it in their body, where the middleware cannot look)."""
    if not caller.can("read", svc.collection):
        raise MissingScope(f"this API key lacks the 'read' scope on collection {svc.collection!r} (see QA_KEYS_FILE)")


def readable_models(request: Request, caller: Caller) -> list[str]:
    """``model_ids`` of the collections ``caller`` may read."""
    collections = collections_of(request)
    return [m for m in model_ids(collections) if caller.can("read", _collection_name(collections, m))]


def _collection_name(collections: Collections, model_id: str) -> str:
    return collections.default_name if model_id == MODEL_ID else model_id


def page_collection(request: Request, svc: QAService) -> str | None:
    """The collection citation links must name: None for the default."""
    return None if svc.collection == collections_of(request).default_name else svc.collection


def checked_body(raw: bytes, model: type[M], unsupported_in: Callable[[M], tuple[str, str] | None]) -> M | JSONResponse:
    """An OpenAI-style request body parsed as ``model``, or the refusal in OpenAI's shape: invalid
    (400), or an option ``unsupported_in`` says this service cannot honour (400)."""
    try:
        body = model.model_validate_json(raw)
    except ValidationError as exc:
        status, message = validation_message(exc)
        return openai_error(400, message, ERROR_KIND[status])
    if (refused := unsupported_in(body)) is not None:
        param, message = refused
        return openai_error(400, message, "unsupported_parameter", param=param)
    return body


def unknown_model(model_id: str) -> JSONResponse:
    return openai_error(
        404,
        f"model {model_id!r} is not served here; use {MODEL_ID!r} or a collection's name (GET /v1/models)",
        "model_not_found",
        param="model",
    )


@router.post(
    "/v1/chat/completions",
    response_model=OpenAIChatOut,
    responses={
        **OPENAI_ERRORS,
        200: {
            "description": "A chat completion; with `stream: true`, `chat.completion.chunk` events instead.",
            "content": {
                "text/event-stream": event_stream(
                    "`data: <chat.completion.chunk JSON>` lines, then `data: [DONE]`. `x-events` names the "
                    "chunks' schema (the empty name: unnamed events).",
                    {"": OpenAIChatChunk},
                )
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            # Registered under components by qa/api/app.py, with its nested models, so the refs resolve.
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIChatIn"}}},
        }
    },
)
async def chat_completions(request: Request, caller: CallerDep) -> Response:
    """OpenAI Chat Completions: the answer with ``[n]`` markers in ``content``, each citation in
    ``message.annotations`` and in the ``citations`` field. ``model`` picks the collection
    (``qa``: the default; GET /v1/models)."""
    body = checked_body(await request.body(), OpenAIChatIn, unsupported)
    if isinstance(body, JSONResponse):
        return body
    svc = requested_service(request, body.model, caller)
    if isinstance(svc, JSONResponse):
        return svc
    links = Links(str(request.base_url), page_collection(request, svc), body.model)
    turns = conversation((m.role, m.text()) for m in body.messages)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    # A QAError raised here is answered by the app's handler, in OpenAI's shape: a 404
    # (model_not_found) if the collection was deleted under the request, never its index's 503.
    work = await pending_reply(svc, turns, body.extractive, caller)
    if body.stream:
        used = partial(usage, svc, body.messages)  # counted once the answer is
        return sse_response(_chunks(request, work, completion_id, created, links, used, include_usage))
    reply = await run_in_threadpool(work)
    content = reply.message.content
    return _completion(completion_id, created, reply, links, usage(svc, body.messages, content))


@dataclass(frozen=True)
class Links:
    """Where a reply's citations link (the server's page, in the reply's collection), and the
    model id the reply names (the one asked for)."""

    base_url: str
    collection: str | None
    model: str

    def url(self, c: Citation) -> str:
        return citation_url(self.base_url, c, self.collection)


def _completion(completion_id: str, created: int, reply: Reply, links: Links, used: dict[str, int]) -> JSONResponse:
    message = reply.message
    annotations = [annotation(c, links.url(c), message.markers[c.n]) for c in reply.citations]
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": links.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": message.content, "annotations": annotations},
                    "finish_reason": "stop",
                }
            ],
            "usage": used,
            **reply.extras,
        }
    )


def answer_task(svc: QAService, task: TaskPrompt, caller: Caller = ADMIN) -> str:
    """The JSON Open WebUI asks a task prompt for, derived from the conversation and the index."""
    if task.kind == "title":
        return json.dumps({"title": title(task.question)}, ensure_ascii=False)
    conversation = list(task.conversation)
    if not conversation:
        found: dict[str, list[str]] = {"tags": ["General"], "follow_ups": []}
        return json.dumps({task.kind: found[task.kind]})
    # The conversation's answer (the index's passages and the documents it cites), extractive:
    # a task prompt needs what was found, not an LLM's wording of it.
    a = svc.chat(conversation, extractive=True, caller=caller)
    if task.kind == "tags":
        return json.dumps({"tags": tags(a)}, ensure_ascii=False)
    asked = [t.content for t in task.turns]
    # Only suggestions the index answers, asked as the follow-ups they are: a suggestion that
    # leads to "not found" is worse than none.
    kept: list[str] = []
    for question in follow_ups(a, asked, limit=FOLLOW_UP_CANDIDATES):
        if svc.chat([*conversation, Turn("user", question)], extractive=True, caller=caller).found:
            kept.append(question)
        if len(kept) == MAX_FOLLOW_UPS:
            break
    return json.dumps({"follow_ups": kept}, ensure_ascii=False)


def sse_response(chunks: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)


def _chunk_maker(completion_id: str, created: int, model: str) -> Callable[..., str]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return data_line(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
        )

    return chunk


async def _chunks(
    request: Request,
    work: Callable[[], Reply],
    completion_id: str,
    created: int,
    links: Links,
    used: Callable[[str], dict[str, int]],
    include_usage: bool,
) -> AsyncIterator[str]:
    chunk = _chunk_maker(completion_id, created, links.model)
    try:
        yield chunk({"role": "assistant", "content": ""})
        # Checked before any of it is sent: a client cannot take back text it has shown.
        reply = await run_in_threadpool(work)
        message = reply.message
        for piece in pieces(message.content):
            yield chunk({"content": piece})
        # Then each citation: OpenAI's annotation (its marker is in the text sent) and, in the
        # same chunk, Open WebUI's source event with the exact quote, in citation order.
        for c in reply.citations:
            url = links.url(c)
            yield chunk({"annotations": [annotation(c, url, message.markers[c.n])]}, event=source_event(c, url))
        yield chunk({}, "stop", **reply.extras)
        if include_usage:
            # OpenAI's last chunk when asked: no choices, the whole request's usage.
            yield chunk(None, usage=used(message.content))
    except Exception as exc:  # the status line has gone out: report in the stream, as OpenAI does
        err = await stream_error(request, exc)
        code = "model_not_found" if err["error"] == kind_of(404) else None  # its collection was deleted
        yield data_line({"error": {"message": err["message"], "type": err["error"], "code": code}})
    yield "data: [DONE]\n\n"
