"""A Python client of qa's HTTP API: ``Client`` (blocking) and ``AsyncClient`` (asyncio), on httpx.

::

    from qa.client import Client, Delta

    with Client("http://127.0.0.1:8000", api_key=None) as qa:
        a = qa.ask("Who met in Paris?")
        print(a.answer)
        for c in a.citations:                     # c.quote == the document's text[c.start:c.end]
            print(c.n, c.doc_id, c.start, c.end, c.page, c.quote)
        for event in qa.chat_stream([{"role": "user", "content": "Who met in Paris?"}]):
            if isinstance(event, Delta):
                print(event.text, end="")

Results are small frozen dataclasses (``Passage``, ``Citation``, ``Answer``, ``Document``, ...)
read from the API's JSON; fields the server adds later are ignored, so an older client keeps
working. ``chat_stream`` reads ``POST /v1/chat``'s server-sent events as they arrive, one typed
event each: ``Retrieved``, then ``Delta`` pieces, ``Checked`` (only when an LLM wrote the
answer), ``Cited`` and ``Done``. Importing this module loads httpx only, not the model or the
index.

Errors are exceptions, all of them ``QAClientError``::

    QAClientError                  anything this client raises
     ├── TransportError            no answer: the server cannot be reached or took too long (httpx's error is __cause__)
     └── APIError                  the server refused: .status (HTTP), .error (kind, e.g. "invalid_input"), .message
          ├── BadRequestError         400, 405, 413, 415, 422: the request as sent is wrong (the message says how)
          ├── AuthenticationError     401: no API key where the server needs one
          ├── PermissionDeniedError   403: a key the server does not know, or a refused origin
          ├── NotFoundError           404: no such document
          ├── UnavailableError        503, 507: busy, damaged or full; .retry_after (seconds) when the server said
          └── ServerError             500 and other 5xx
     JobError                      an ingestion job did not end well: .job (the last state seen)
     ├── JobFailedError            it failed, or some of its files did (each item's .error says why)
     └── JobTimeoutError           it was not finished within wait_for_job's timeout (it goes on in the server)

An ``error`` event in the middle of a stream raises the ``APIError`` of its kind (its status is
the one that kind has in a response).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Literal, TypeVar, overload
from urllib.parse import quote

import httpx

__all__ = [
    "Client",
    "AsyncClient",
    "Passage",
    "Citation",
    "ShortAnswer",
    "Sentence",
    "Answer",
    "Document",
    "DocumentPage",
    "IngestResult",
    "Job",
    "JobItem",
    "JobProgress",
    "Health",
    "Collection",
    "Retrieved",
    "Delta",
    "Checked",
    "Cited",
    "Done",
    "ChatEvent",
    "QAClientError",
    "TransportError",
    "APIError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "UnavailableError",
    "ServerError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "SSEReader",
    "api_error",
    "error_of",
    "event_of",
]

Mode = Literal["dense", "lexical", "hybrid"]
Message = Mapping[str, str]  # {"role": "user" | "assistant" | "system", "content": "..."}

# -- errors -------------------------------------------------------------------------------------


class QAClientError(Exception):
    """Anything this client raises."""


class TransportError(QAClientError):
    """No answer from the server: it cannot be reached, or it took longer than the timeout."""


class APIError(QAClientError):
    """The server answered with an error: ``status`` (HTTP), ``error`` (qa's kind of error, e.g.
    ``invalid_input``) and ``message`` (what was wrong and what to do)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message = status, error, message


class BadRequestError(APIError):
    """400, 405, 413, 415, 422: the request as sent is refused; the message says what to change."""


class AuthenticationError(APIError):
    """401: the route needs an API key (``api_key=``)."""


class PermissionDeniedError(APIError):
    """403: the API key is not one of the server's, or the request's origin is refused."""


class NotFoundError(APIError):
    """404: no document with that id (or no such route)."""


class UnavailableError(APIError):
    """503 or 507: the server is busy, its index is damaged or its disk is full; nothing was done.
    ``retry_after``: seconds to wait, when the server said."""

    def __init__(self, status: int, error: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(status, error, message)
        self.retry_after = retry_after


class ServerError(APIError):
    """500 and other 5xx: the server failed (its log has details)."""


class JobError(QAClientError):
    """An ingestion job did not end well; ``job`` is its last state seen."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class JobFailedError(JobError):
    """The job failed, or some of its items (files, documents) did: each ``JobItem.error`` says why."""


class JobTimeoutError(JobError):
    """The job was not finished within the time waited (the server goes on with it)."""


# The status each kind of error has in a response (qa.api.errors), for errors reported inside a stream.
KIND_STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "index_mismatch": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "invalid_input": 422,
    "unavailable": 503,
    "insufficient_storage": 507,
}


ERROR_CLASS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: BadRequestError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
}


def api_error(status: int, error: str, message: str, retry_after: int | None = None) -> APIError:
    """The exception for an error response (or an ``error`` event of a stream)."""
    if status in (503, 507):
        return UnavailableError(status, error, message, retry_after)
    if status >= 500:
        return ServerError(status, error, message)
    return ERROR_CLASS.get(status, APIError)(status, error, message)


def error_of(r: httpx.Response) -> APIError:
    try:
        body = r.json()
    except ValueError:
        body = None
    error, message = "error", r.text[:500] or r.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error, message = body["error"], str(body.get("message", message))
    elif isinstance(body, dict) and isinstance(body.get("error"), dict):  # OpenAI's shape (/v1/chat/completions)
        error, message = str(body["error"].get("code") or "error"), str(body["error"].get("message", message))
    retry = r.headers.get("retry-after")
    return api_error(r.status_code, error, message, int(retry) if retry and retry.isdigit() else None)


# -- results ------------------------------------------------------------------------------------

D = TypeVar("D")


def _make(cls: type[D], data: Mapping[str, Any], **converted: Any) -> D:
    """``cls`` from a JSON object: its own fields only (a newer server's extra fields are ignored)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names}, **converted)


@dataclass(frozen=True)
class Passage:
    """A retrieved passage: ``text`` is the document's text[start:end]."""

    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = None  # the page it starts on (PDFs)
    heading: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    chunk_id: int = 0
    ordinal: int = 0


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from: ``quote`` is exactly the document's text[start:end]."""

    n: int
    doc_id: str
    title: str
    start: int
    end: int
    quote: str
    page: int | None = None


@dataclass(frozen=True)
class ShortAnswer:
    """The shortest span that answers (a name, a date, a number): the document's text[start:end]."""

    text: str
    doc_id: str
    start: int
    end: int
    page: int | None = None


@dataclass(frozen=True)
class Sentence:
    """A sentence of a generated answer and the citations that support it (``supported`` False:
    it cited passages, none supports it)."""

    text: str
    supported: bool | None
    citations: tuple[int, ...]


@dataclass(frozen=True)
class Answer:
    """An answer (``/v1/ask``, ``/v1/chat``). ``found`` False: nothing in the index answers, and
    there is no citation. ``query`` and ``rewritten``: what a conversation's follow-up was searched as."""

    question: str
    answer: str
    found: bool
    score: float
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    short_answer: ShortAnswer | None = None
    generated: bool = False
    note: str | None = None
    sentences: tuple[Sentence, ...] | None = None
    query: str = ""
    rewritten: bool = False


@dataclass(frozen=True)
class Document:
    """A document's record; ``text`` only when asked for (``get_document(..., include_text=True)``)."""

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
    page_starts: tuple[int, ...] | None = None


@dataclass(frozen=True)
class DocumentPage:
    documents: tuple[Document, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class IngestResult:
    """What adding one document did: ``unchanged`` documents did no work."""

    id: str
    status: Literal["added", "updated", "unchanged"]
    chunks: int


@dataclass(frozen=True)
class JobProgress:
    """``items`` are files (an upload) or documents (a JSON job); bytes give a share done."""

    items: int
    items_done: int
    items_failed: int
    bytes: int
    bytes_done: int
    documents: int
    chunks: int


@dataclass(frozen=True)
class JobItem:
    """One file (or document) of a job: its results, or its error (``error_kind``, ``error``)."""

    n: int
    name: str
    bytes: int
    status: Literal["queued", "succeeded", "failed"]
    results: tuple[IngestResult, ...] = ()
    error_kind: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Job:
    """An ingestion job (``GET /v1/jobs/{id}``); ``items`` is None in lists."""

    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    error: str | None
    progress: JobProgress
    items: tuple[JobItem, ...] | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def results(self) -> list[IngestResult]:
        """The results of every item ingested, in order."""
        return [r for item in self.items or () for r in item.results]


@dataclass(frozen=True)
class Health:
    """``/healthz``: ``ok``, or ``degraded`` with ``problems``."""

    status: str
    documents: int | None = None
    chunks: int | None = None
    model: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collection:
    """A collection (``/v1/collections``): a named index with its own settings. ``model_id`` is
    the ``model`` that picks it on the OpenAI-compatible routes; the counts are None for a key
    that is not the collection's admin (a server with a keys file)."""

    name: str
    default: bool = False
    model_id: str = ""
    model: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    documents: int | None = None
    chunks: int | None = None


def _passage(d: Mapping[str, Any]) -> Passage:
    return _make(Passage, d)


def _citation(d: Mapping[str, Any]) -> Citation:
    return _make(Citation, d)


def _short(d: Mapping[str, Any] | None) -> ShortAnswer | None:
    return _make(ShortAnswer, d) if d else None


def _sentences(items: Sequence[Mapping[str, Any]] | None) -> tuple[Sentence, ...] | None:
    if items is None:
        return None
    return tuple(Sentence(s["text"], s.get("supported"), tuple(s.get("citations", ()))) for s in items)


def _answer(d: Mapping[str, Any]) -> Answer:
    return _make(
        Answer,
        {k: v for k, v in d.items() if k not in ("citations", "passages", "short_answer", "sentences")},
        citations=tuple(_citation(c) for c in d.get("citations", ())),
        passages=tuple(_passage(p) for p in d.get("passages", ())),
        short_answer=_short(d.get("short_answer")),
        sentences=_sentences(d.get("sentences")),
    )


def _document(d: Mapping[str, Any]) -> Document:
    starts = d.get("page_starts")
    rest = {k: v for k, v in d.items() if k != "page_starts"}
    return _make(Document, rest, page_starts=tuple(starts) if starts is not None else None)


def _page(d: Mapping[str, Any]) -> DocumentPage:
    return DocumentPage(tuple(_document(x) for x in d["documents"]), d["total"], d["offset"], d["limit"])


def _ingested(d: Mapping[str, Any]) -> list[IngestResult]:
    return [_make(IngestResult, r) for r in d["results"]]


def _job_item(d: Mapping[str, Any]) -> JobItem:
    err = d.get("error") or {}
    results = tuple(_make(IngestResult, r) for r in d.get("results", ()))
    rest = {k: v for k, v in d.items() if k not in ("error", "results")}
    return _make(JobItem, rest, results=results, error_kind=err.get("error"), error=err.get("message"))


def _job(d: Mapping[str, Any]) -> Job:
    items = d.get("items")
    rest = {k: v for k, v in d.items() if k not in ("progress", "items")}
    return _make(
        Job,
        rest,
        progress=_make(JobProgress, d["progress"]),
        items=tuple(_job_item(i) for i in items) if items is not None else None,
    )


def _is_job(d: Any) -> bool:
    """A 202's body (a job), rather than a 201's (``results``)."""
    return isinstance(d, dict) and "progress" in d and "results" not in d


def _job_outcome(job: Job, raise_on_error: bool) -> Job:
    if raise_on_error and job.status == "failed":
        raise JobFailedError(f"job {job.id} failed: {job.error or 'see its items'}", job)
    failed = [i for i in job.items or () if i.status == "failed"]
    if raise_on_error and failed:
        first = failed[0]
        raise JobFailedError(
            f"job {job.id}: {len(failed)} of {len(job.items or ())} items failed; "
            f"first {first.name!r}: {first.error_kind}: {first.error}",
            job,
        )
    return job


def _health(d: Mapping[str, Any]) -> Health:
    return _make(Health, {k: v for k, v in d.items() if k != "problems"}, problems=tuple(d.get("problems", ())))


# -- stream events (POST /v1/chat with "stream": true) -----------------------------------------


@dataclass(frozen=True)
class Retrieved:
    """First: what was searched (``query``; ``rewritten`` for a follow-up) and the passages found."""

    question: str
    query: str
    rewritten: bool
    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class Delta:
    """A piece of the answer's text; joined in order, the pieces are the answer (with an LLM: its
    draft, which ``Checked`` replaces)."""

    text: str


@dataclass(frozen=True)
class Checked:
    """Only when an LLM writes the answer: the checked answer, which replaces the deltas' draft."""

    text: str
    generated: bool
    note: str | None
    sentences: tuple[Sentence, ...] | None
    short_answer: ShortAnswer | None


@dataclass(frozen=True)
class Cited:
    """The answer's citations."""

    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class Done:
    """Last: ``found`` False when nothing in the index answers."""

    found: bool
    score: float
    generated: bool
    note: str | None
    short_answer: ShortAnswer | None


ChatEvent = Retrieved | Delta | Checked | Cited | Done


def event_of(name: str, d: Mapping[str, Any]) -> ChatEvent | None:
    """A typed event from a named SSE event of ``/v1/chat``; None for a kind this client does not know."""
    if name == "passages":
        return Retrieved(d["question"], d["query"], d["rewritten"], tuple(_passage(p) for p in d["passages"]))
    if name == "delta":
        return Delta(d["text"])
    if name == "answer":
        return Checked(
            d["text"], d["generated"], d.get("note"), _sentences(d.get("sentences")), _short(d.get("short_answer"))
        )
    if name == "citations":
        return Cited(tuple(_citation(c) for c in d["citations"]))
    if name == "done":
        return Done(d["found"], d["score"], d["generated"], d.get("note"), _short(d.get("short_answer")))
    if name == "error":
        raise api_error(KIND_STATUS.get(d.get("error", ""), 500), d.get("error", "internal"), d.get("message", ""))
    return None


class SSEReader:
    """Server-sent events from lines, per the HTML spec's parsing rules (``event``, multi-line
    ``data``, comments, a blank line dispatching): a few lines of our own rather than one more
    runtime dependency, for the events of qa's own server."""

    def __init__(self) -> None:
        self.name = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        """One line (without its end); returns (event name, data) when the line ends an event."""
        if not line:
            if not self.data:
                self.name = "message"
                return None
            event = (self.name, "\n".join(self.data))
            self.name, self.data = "message", []
            return event
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            self.name = value
        elif key == "data":
            self.data.append(value)
        return None


# -- requests, shared by both clients ----------------------------------------------------------


def _question_body(question: str, **options: Any) -> dict[str, Any]:
    return {"question": question, **{k: v for k, v in options.items() if v is not None}}


def _chat_body(messages: Sequence[Message] | str, stream: bool, **options: Any) -> dict[str, Any]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    body = {"messages": [dict(m) for m in messages], **{k: v for k, v in options.items() if v is not None}}
    return {**body, "stream": True} if stream else body


def _document_body(text: str, id: str | None, title: str, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text, "title": title, "metadata": dict(metadata or {})}
    return {**body, "id": id} if id is not None else body


def _access_body(access: Sequence[str] | None) -> dict[str, Any]:
    if isinstance(access, str):
        raise TypeError(f"access must be a list of entries such as ['group:hr'], not the string {access!r}")
    return {"access": None if access is None else list(access)}


def _doc_path(doc_id: str) -> str:
    # Every character escaped ("/" too): the server decodes the path before routing it, so an id
    # with "/", "?" or "#" arrives whole.
    return "/v1/documents/" + quote(doc_id, safe="")


File = str | Path | bytes | IO[bytes]


def _upload_files(file: File, filename: str | None) -> dict[str, tuple[str, Any]]:
    if isinstance(file, (str, Path)):
        path = Path(file)
        return {"file": (filename or path.name, path.read_bytes())}
    if isinstance(file, bytes):
        return {"file": (filename or "upload.txt", file)}
    return {"file": (filename or Path(getattr(file, "name", "upload.txt")).name, file)}


def _upload_form(id: str | None, title: str | None, metadata: Mapping[str, Any] | None) -> dict[str, str]:
    form = {"id": id, "title": title, "metadata": json.dumps(dict(metadata)) if metadata else None}
    return {k: v for k, v in form.items() if v is not None}


def _headers(api_key: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(headers or {})
    if api_key:
        out["Authorization"] = f"Bearer {api_key}"
    return out


def _params(collection: str | None, path: str, given: Any) -> Any:
    """The query parameters of a request: the client's ``collection`` on every route that takes
    one (not ``/v1/collections`` itself, nor ``/healthz``), with those the call gave."""
    if not collection or not path.startswith("/v1/") or path.startswith("/v1/collections"):
        return given
    return {"collection": collection, **(given or {})}


def _checked(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise error_of(r)
    return r.json()


class Client:
    """Blocking client of a qa server. Use it as a context manager, or ``close()`` it.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8000``.
        api_key: sent as ``Authorization: Bearer <key>`` (needed for writes when the server has
            ``QA_API_KEYS``, and for reads too with ``QA_REQUIRE_KEY_FOR_READ``).
        timeout: seconds for each request (an answer written by an LLM may take a while).
        http_client: an ``httpx.Client`` of your own (proxies, TLS, transports); ``base_url`` and
            ``api_key`` are then ignored and the client is not closed here.
        collection: the collection every call works on (``GET /v1/collections``); None: the
            server's default collection.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        collection: str | None = None,
    ) -> None:
        self.collection = collection
        self._owned = http_client is None
        self._http = http_client or httpx.Client(
            base_url=base_url.rstrip("/"), headers=_headers(api_key, headers), timeout=timeout
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            kwargs["params"] = _params(self.collection, path, kwargs.get("params"))
            r = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        return _checked(r)

    # -- questions --

    def search(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        max_per_doc: int | None = None,
    ) -> list[Passage]:
        """The passages that best match ``question``, best first (``POST /v1/search``)."""
        body = _question_body(question, k=k, filters=filters, mode=mode, rerank=rerank, max_per_doc=max_per_doc)
        return [_passage(p) for p in self._call("POST", "/v1/search", json=body)["passages"]]

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        max_per_doc: int | None = None,
        extractive: bool | None = None,
    ) -> Answer:
        """The cited answer to ``question`` (``POST /v1/ask``)."""
        body = _question_body(
            question, k=k, filters=filters, mode=mode, rerank=rerank, max_per_doc=max_per_doc, extractive=extractive
        )
        return _answer(self._call("POST", "/v1/ask", json=body))

    def chat(
        self,
        messages: Sequence[Message] | str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        max_per_doc: int | None = None,
        extractive: bool | None = None,
    ) -> Answer:
        """The answer to a conversation's last user message, a follow-up resolved against the
        conversation (``POST /v1/chat``); a string is one user message."""
        body = _chat_body(messages, False, k=k, filters=filters, max_per_doc=max_per_doc, extractive=extractive)
        return _answer(self._call("POST", "/v1/chat", json=body))

    def chat_stream(
        self,
        messages: Sequence[Message] | str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        max_per_doc: int | None = None,
        extractive: bool | None = None,
    ) -> Iterator[ChatEvent]:
        """``chat`` as events, each as it arrives (``POST /v1/chat`` with ``stream``)."""
        body = _chat_body(messages, True, k=k, filters=filters, max_per_doc=max_per_doc, extractive=extractive)
        try:
            with self._http.stream(
                "POST", "/v1/chat", json=body, params=_params(self.collection, "/v1/chat", None)
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    raise error_of(r)
                reader = SSEReader()
                for line in r.iter_lines():
                    sent = reader.feed(line)
                    if sent is not None and (event := event_of(sent[0], json.loads(sent[1]))) is not None:
                        yield event
        except httpx.TransportError as exc:
            raise TransportError(f"POST /v1/chat: {exc or type(exc).__name__}") from exc

    # -- documents --

    def add_document(
        self, text: str, *, id: str | None = None, title: str = "", metadata: Mapping[str, Any] | None = None
    ) -> IngestResult:
        """Index a text (``POST /v1/documents``); a document with the same ``id`` is replaced."""
        return _ingested(self._call("POST", "/v1/documents", json=_document_body(text, id, title, metadata)))[0]

    def add_documents(self, documents: Iterable[Mapping[str, Any]]) -> list[IngestResult]:
        """Index several documents (``{"text", "id"?, "title"?, "metadata"?}`` each) in one request:
        all of them or, if any is refused, none."""
        return _ingested(self._call("POST", "/v1/documents", json={"documents": [dict(d) for d in documents]}))

    @overload
    def upload(
        self,
        file: File,
        *,
        filename: str | None = None,
        id: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: Literal[True] = True,
        timeout: float = 3600.0,
    ) -> list[IngestResult]: ...

    @overload
    def upload(
        self,
        file: File,
        *,
        filename: str | None = None,
        id: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: Literal[False],
        timeout: float = 3600.0,
    ) -> Job: ...

    def upload(
        self,
        file: File,
        *,
        filename: str | None = None,
        id: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float = 3600.0,
    ) -> list[IngestResult] | Job:
        """Upload a file (.txt .md .html .pdf .jsonl: a path, bytes or a binary file object), parsed
        by the server; ``id`` defaults to the file name (a .jsonl gives one document per line).

        ``wait=False``: the server stores it as a job and answers at once; returns the ``Job``
        (``wait_for_job(job.id)`` waits for it). Otherwise returns the results when ingested: a
        large file the server makes a job is waited for (at most ``timeout`` seconds; raises
        ``JobFailedError`` if it fails, ``JobTimeoutError`` when the time runs out)."""
        files, form = _upload_files(file, filename), _upload_form(id, title, metadata)
        params = {} if wait else {"async": "true"}
        body = self._call("POST", "/v1/documents", files=files, data=form, params=params)
        if not _is_job(body):
            return _ingested(body)
        job = _job(body)
        return self.wait_for_job(job.id, timeout).results if wait else job

    def get_job(self, job_id: str) -> Job:
        """An ingestion job (``GET /v1/jobs/{id}``): status, progress, each item's results or error."""
        return _job(self._call("GET", "/v1/jobs/" + quote(job_id, safe="")))

    def list_jobs(self, offset: int = 0, limit: int = 50) -> list[Job]:
        """Recent ingestion jobs, newest first, without their items (``GET /v1/jobs``)."""
        body = self._call("GET", "/v1/jobs", params={"offset": offset, "limit": limit})
        return [_job(j) for j in body["jobs"]]

    def wait_for_job(
        self, job_id: str, timeout: float = 3600.0, *, poll: float = 0.5, raise_on_error: bool = True
    ) -> Job:
        """Poll a job until it is finished (at most ``timeout`` seconds) and return it.

        Raises:
            JobFailedError: it failed, or some of its items did (unless ``raise_on_error`` is off).
            JobTimeoutError: still not finished after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.finished:
                return _job_outcome(job, raise_on_error)
            if time.monotonic() >= deadline:
                raise JobTimeoutError(f"job {job_id} is still {job.status} after {timeout:g} s", job)
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    def list_documents(self, offset: int = 0, limit: int = 50) -> DocumentPage:
        """One page of the index's documents (``GET /v1/documents``)."""
        return _page(self._call("GET", "/v1/documents", params={"offset": offset, "limit": limit}))

    def iter_documents(self, page_size: int = 200) -> Iterator[Document]:
        """Every document, a page at a time."""
        offset = 0
        while True:
            page = self.list_documents(offset, page_size)
            yield from page.documents
            offset += len(page.documents)
            if not page.documents or offset >= page.total:
                return

    def get_document(self, doc_id: str, *, include_text: bool = False) -> Document:
        """One document's record, with its text when asked (``GET /v1/documents/{id}``)."""
        return _document(self._call("GET", _doc_path(doc_id), params={"include_text": include_text}))

    def set_access(self, doc_id: str, access: Sequence[str] | None) -> Document:
        """Replace a document's access list without re-embedding it (``PATCH /v1/documents/{id}``):
        ``["group:hr", "user:alice"]``, ``[]`` for admins only, None to make it visible to every
        reader. Needs the ``write`` scope and a key that sees the document (else ``NotFoundError``).
        Returns the document's record as it is now."""
        return _document(self._call("PATCH", _doc_path(doc_id), json=_access_body(access)))

    def delete_document(self, doc_id: str) -> None:
        """Delete a document (``DELETE /v1/documents/{id}``); ``NotFoundError`` if there is none."""
        self._call("DELETE", _doc_path(doc_id))

    # -- the service --

    def health(self) -> Health:
        return _health(self._call("GET", "/healthz"))

    def stats(self) -> dict[str, Any]:
        """The index's statistics (``GET /v1/stats``)."""
        return dict(self._call("GET", "/v1/stats"))

    # -- collections --

    def list_collections(self) -> list[Collection]:
        """The collections this key may read, the default first."""
        return [_make(Collection, c) for c in self._call("GET", "/v1/collections")["collections"]]

    def create_collection(self, name: str, **settings: Any) -> Collection:
        """A new, empty collection with its own settings (e.g. ``model=``, ``chunk_tokens=``)."""
        return _make(Collection, self._call("POST", "/v1/collections", json={"name": name, "settings": settings}))

    def get_collection(self, name: str) -> Collection:
        return _make(Collection, self._call("GET", f"/v1/collections/{quote(name, safe='')}"))

    def delete_collection(self, name: str) -> None:
        """Delete a collection with its index and documents (not undoable)."""
        self._call("DELETE", f"/v1/collections/{quote(name, safe='')}")


class AsyncClient:
    """``Client`` for asyncio: the same methods, awaited (``chat_stream`` and ``iter_documents``
    are async iterators). Use it as an async context manager, or ``await aclose()``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        collection: str | None = None,
    ) -> None:
        self.collection = collection
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=_headers(api_key, headers), timeout=timeout
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            kwargs["params"] = _params(self.collection, path, kwargs.get("params"))
            r = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        return _checked(r)

    async def search(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        max_per_doc: int | None = None,
    ) -> list[Passage]:
        body = _question_body(question, k=k, filters=filters, mode=mode, rerank=rerank, max_per_doc=max_per_doc)
        return [_passage(p) for p in (await self._call("POST", "/v1/search", json=body))["passages"]]

    async def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        max_per_doc: int | None = None,
        extractive: bool | None = None,
    ) -> Answer:
        body = _question_body(
            question, k=k, filters=filters, mode=mode, rerank=rerank, max_per_doc=max_per_doc, extractive=extractive
        )
        return _answer(await self._call("POST", "/v1/ask", json=body))

    async def chat(
        self,
        messages: Sequence[Message] | str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        max_per_doc: int | None = None,
        extractive: bool | None = None,
    ) -> Answer:
        body = _chat_body(messages, False, k=k, filters=filters, max_per_doc=max_per_doc, extractive=extractive)
        return _answer(await self._call("POST", "/v1/chat", json=body))

    async def chat_stream(
        self,
        messages: Sequence[Message] | str,
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        max_per_doc: int | None = None,
        extractive: bool | None = None,
    ) -> AsyncIterator[ChatEvent]:
        body = _chat_body(messages, True, k=k, filters=filters, max_per_doc=max_per_doc, extractive=extractive)
        try:
            async with self._http.stream(
                "POST", "/v1/chat", json=body, params=_params(self.collection, "/v1/chat", None)
            ) as r:
                if r.status_code >= 400:
                    await r.aread()
                    raise error_of(r)
                reader = SSEReader()
                async for line in r.aiter_lines():
                    sent = reader.feed(line)
                    if sent is not None and (event := event_of(sent[0], json.loads(sent[1]))) is not None:
                        yield event
        except httpx.TransportError as exc:
            raise TransportError(f"POST /v1/chat: {exc or type(exc).__name__}") from exc

    async def add_document(
        self, text: str, *, id: str | None = None, title: str = "", metadata: Mapping[str, Any] | None = None
    ) -> IngestResult:
        body = _document_body(text, id, title, metadata)
        return _ingested(await self._call("POST", "/v1/documents", json=body))[0]

    async def add_documents(self, documents: Iterable[Mapping[str, Any]]) -> list[IngestResult]:
        body = {"documents": [dict(d) for d in documents]}
        return _ingested(await self._call("POST", "/v1/documents", json=body))

    async def upload(
        self,
        file: File,
        *,
        filename: str | None = None,
        id: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float = 3600.0,
    ) -> list[IngestResult] | Job:
        """``Client.upload``: with ``wait=False`` a ``Job``, else the results."""
        files, form = _upload_files(file, filename), _upload_form(id, title, metadata)
        params = {} if wait else {"async": "true"}
        body = await self._call("POST", "/v1/documents", files=files, data=form, params=params)
        if not _is_job(body):
            return _ingested(body)
        job = _job(body)
        return (await self.wait_for_job(job.id, timeout)).results if wait else job

    async def get_job(self, job_id: str) -> Job:
        return _job(await self._call("GET", "/v1/jobs/" + quote(job_id, safe="")))

    async def list_jobs(self, offset: int = 0, limit: int = 50) -> list[Job]:
        body = await self._call("GET", "/v1/jobs", params={"offset": offset, "limit": limit})
        return [_job(j) for j in body["jobs"]]

    async def wait_for_job(
        self, job_id: str, timeout: float = 3600.0, *, poll: float = 0.5, raise_on_error: bool = True
    ) -> Job:
        """``Client.wait_for_job``, without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get_job(job_id)
            if job.finished:
                return _job_outcome(job, raise_on_error)
            if time.monotonic() >= deadline:
                raise JobTimeoutError(f"job {job_id} is still {job.status} after {timeout:g} s", job)
            await asyncio.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    async def list_documents(self, offset: int = 0, limit: int = 50) -> DocumentPage:
        return _page(await self._call("GET", "/v1/documents", params={"offset": offset, "limit": limit}))

    async def iter_documents(self, page_size: int = 200) -> AsyncIterator[Document]:
        offset = 0
        while True:
            page = await self.list_documents(offset, page_size)
            for doc in page.documents:
                yield doc
            offset += len(page.documents)
            if not page.documents or offset >= page.total:
                return

    async def get_document(self, doc_id: str, *, include_text: bool = False) -> Document:
        return _document(await self._call("GET", _doc_path(doc_id), params={"include_text": include_text}))

    async def set_access(self, doc_id: str, access: Sequence[str] | None) -> Document:
        return _document(await self._call("PATCH", _doc_path(doc_id), json=_access_body(access)))

    async def delete_document(self, doc_id: str) -> None:
        await self._call("DELETE", _doc_path(doc_id))

    async def health(self) -> Health:
        return _health(await self._call("GET", "/healthz"))

    async def stats(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/v1/stats"))

    # -- collections --

    async def list_collections(self) -> list[Collection]:
        """The collections this key may read, the default first."""
        return [_make(Collection, c) for c in (await self._call("GET", "/v1/collections"))["collections"]]

    async def create_collection(self, name: str, **settings: Any) -> Collection:
        """A new, empty collection with its own settings (e.g. ``model=``, ``chunk_tokens=``)."""
        body = {"name": name, "settings": settings}
        return _make(Collection, await self._call("POST", "/v1/collections", json=body))

    async def get_collection(self, name: str) -> Collection:
        return _make(Collection, await self._call("GET", f"/v1/collections/{quote(name, safe='')}"))

    async def delete_collection(self, name: str) -> None:
        """Delete a collection with its index and documents (not undoable)."""
        await self._call("DELETE", f"/v1/collections/{quote(name, safe='')}")
