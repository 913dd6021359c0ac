"""The MCP server: search, cited answers and the documents as tools for MCP clients (Claude
Desktop, IDEs, agents), built on the official ``mcp`` SDK.

One set of tools, two transports: ``qa mcp`` serves them over stdio (the client starts the
process), and ``qa serve`` mounts them on the API at ``/mcp`` (streamable HTTP; stateless, so any
``--workers`` process or replica answers any request). Every tool calls ``QAService``, the code
path of the HTTP routes, not the HTTP API.

- ``search``: ranked passages, each with doc id, start/end offsets, page, text and score
- ``ask``: the answer and its citations (doc id, start, end, page and the exact quote);
  ``found: false`` with no citation when nothing in the index answers
- ``get_document``: a document's text, whole or the span ``[start:end]``, with title and metadata
- ``list_documents``: the index, paged
- ``add_document``: index a text; annotated destructive (it replaces a document of the same id).
  Over HTTP it is there as ``POST /v1/documents`` is, and needs the same ``Authorization: Bearer
  <key>`` when ``QA_API_KEYS`` is set; over stdio only with ``qa mcp --allow-writes``.

Each tool declares an input and an output JSON schema; its result carries the structured value
and a readable text. A refused call (unknown document, bad span, bad ``k`` or filter) is a tool
error (``isError``) whose text is the service's message; an unexpected failure is logged here and
reaches the client only as "Error executing tool".
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from importlib.metadata import version
from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import BaseRoute

from qa.access import ADMIN, ANONYMOUS, Caller, Keyring, Scope
from qa.api.schemas import (
    CitationOut,
    DocumentIn,
    DocumentList,
    DocumentOut,
    IngestOut,
    PassageOut,
    Scalar,
    ShortOut,
    citation_out,
    document_out,
    passage_out,
    short_out,
)
from qa.collections import CollectionInfo
from qa.errors import NotFound, QAError
from qa.limits import Limits
from qa.security import MCP_PATH
from qa.service import QAService
from qa.stages import Observer, observing

INSTRUCTIONS = (
    "qa answers questions from a set of indexed documents and cites the exact characters that support "
    "each answer. Use `ask` for a question (check `found`: false means the documents do not answer it), "
    "`search` for the passages about a topic, `get_document` to read a document or the span a citation "
    "points at (its `start` and `end`), `list_documents` to see what is indexed. Every offset indexes the "
    "document's text as `get_document` returns it. `add_document` is offered only where writes are allowed "
    "(over HTTP with the server's API key when it has keys; `qa mcp --allow-writes` over stdio)."
)

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# Adding a document under an existing id replaces that document; the same call twice changes nothing more.
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

# -- inputs -------------------------------------------------------------------------------------

Query = Annotated[str, Field(description="What to look for, in natural language.")]
Question = Annotated[str, Field(description="The question, in natural language.")]
K = Annotated[int | None, Field(description="Passages to retrieve (1..QA_MAX_K; default QA_DEFAULT_K).")]
Filters = Annotated[
    dict[str, Scalar | list[str]] | None,
    Field(
        description='Exact-match filters on document metadata, e.g. {"topic": "ranking"}; the key `doc_id` '
        "takes one id or a list of ids."
    ),
]
DocId = Annotated[str, Field(description="The document's id (as in citations, passages and list_documents).")]
Start = Annotated[int | None, Field(description="First character of the span (default 0).")]
End = Annotated[int | None, Field(description="End of the span, exclusive (default: the end of the text).")]
Offset = Annotated[int, Field(description="Documents to skip.")]
Limit = Annotated[int, Field(description="Documents to return (1..1000).")]
Text = Annotated[str, Field(description="The document's text (plain text or Markdown).")]
NewId = Annotated[
    str | None,
    Field(description="Stable id; a document with this id is replaced. Default: derived from the content."),
]
Title = Annotated[str, Field(description="The document's title.")]
Metadata = Annotated[
    dict[str, Any] | None, Field(description="Metadata fields, searchable with `filters` (exact match).")
]
Collection = Annotated[
    str | None,
    Field(description="The collection to use (GET /v1/collections, `qa collection list`); default: the default one."),
]

# -- outputs ------------------------------------------------------------------------------------


class SearchResult(BaseModel):
    query: str
    passages: list[PassageOut]


class AskResult(BaseModel):
    question: str
    answer: str
    found: bool = Field(..., description="False: nothing in the index answers; `answer` says so, no citation.")
    score: float
    short_answer: ShortOut | None = None
    citations: list[CitationOut] = Field(..., description="Each `quote` is exactly the document text [start:end].")
    generated: bool = Field(False, description="True when an LLM wrote the answer from the passages.")
    note: str | None = None


class DocumentText(DocumentOut):
    start: int = Field(..., description="Where `text` starts in the document's text.")
    end: int = Field(..., description="Where `text` ends in the document's text (exclusive).")
    text: str = Field(..., description="The document's text [start:end].")  # type: ignore[assignment]


class DocumentPage(DocumentList):
    next_offset: int | None = Field(..., description="The `offset` of the next page; null on the last page.")


class CollectionEntry(BaseModel):
    name: str = Field(..., description="Its name: the `collection` argument of the other tools.")
    default: bool = Field(..., description="The collection the tools use without a `collection` argument.")
    model: str = Field(..., description="The embedding model its index was built with.")
    settings: dict[str, Any] = Field(..., description="The collection settings it runs with.")
    documents: int | None = Field(None, description="Documents in it (with API keys: for its admins only).")
    error: str | None = Field(None, description="Why it cannot be used now (its stored settings are invalid).")


class CollectionPage(BaseModel):
    collections: list[CollectionEntry]


# -- rendering ----------------------------------------------------------------------------------


def _span(doc_id: str, start: int, end: int, page: int | None) -> str:
    return f"{doc_id}, characters {start}-{end}" + (f", page {page}" if page is not None else "")


def _search_text(r: SearchResult) -> str:
    if not r.passages:
        return f"No passage matches {r.query!r}."
    lines = [f"{len(r.passages)} passages for {r.query!r}:"]
    for i, p in enumerate(r.passages, 1):
        lines += ["", f"[{i}] {p.title or p.doc_id} ({_span(p.doc_id, p.start, p.end, p.page)}; score {p.score:.3f})"]
        lines.append(p.text)
    return "\n".join(lines)


def _ask_text(r: AskResult) -> str:
    if not r.found:
        return f"Not found: {r.answer}"
    lines = [r.answer]
    if r.note:
        lines += ["", f"Note: {r.note}"]
    if r.citations:
        lines += ["", "Sources:"]
        for c in r.citations:
            lines.append(f'[{c.n}] {c.title or c.doc_id} ({_span(c.doc_id, c.start, c.end, c.page)}): "{c.quote}"')
    return "\n".join(lines)


def _document_text(d: DocumentText) -> str:
    title = f"{d.title} ({d.id})" if d.title else d.id
    part = "whole text" if (d.start, d.end) == (0, d.chars) else f"characters {d.start}-{d.end}"
    head = f"{title}: {part} of {d.chars}"
    if d.metadata:
        head += f"; metadata {json.dumps(d.metadata, ensure_ascii=False)}"
    return f"{head}\n\n{d.text}"


def _list_text(r: DocumentPage) -> str:
    if not r.documents:
        return f"No documents at offset {r.offset} ({r.total} in the index)."
    first = r.offset + 1
    lines = [f"Documents {first}-{r.offset + len(r.documents)} of {r.total}:"]
    lines += [f"- {d.id}" + (f": {d.title}" if d.title else "") + f" ({d.chars} characters)" for d in r.documents]
    if r.next_offset is not None:
        lines.append(f"More: call list_documents with offset {r.next_offset}.")
    return "\n".join(lines)


def _collection_entry(c: CollectionInfo, caller: Caller, scoped: bool) -> CollectionEntry:
    counted = not scoped or caller.can("admin", c.name)
    return CollectionEntry(
        name=c.name,
        default=c.default,
        model=c.model,
        settings=c.settings,
        documents=c.documents if counted and c.error is None else None,
        error=c.error,
    )


def _collections_text(r: CollectionPage) -> str:
    if not r.collections:
        return "No collection this key may read."
    lines = [f"{len(r.collections)} collections:"]
    for c in r.collections:
        line = f"- {c.name}" + (" (default)" if c.default else "") + f": model {c.model}"
        if c.documents is not None:
            line += f", {c.documents} documents"
        if c.error:
            line += f"; unusable: {c.error}"
        lines.append(line)
    return "\n".join(lines)


def _result(value: BaseModel, text: str) -> CallToolResult:
    """A tool's result: ``value`` as structured content (checked against the tool's output schema
    by the SDK) and ``text`` for the model to read."""
    return CallToolResult(content=[TextContent(text=text)], structured_content=value.model_dump(mode="json"))


def _arguments_message(tool: str, exc: ValidationError) -> str:
    """Arguments that do not fit a tool's input schema, in one line per argument: the value that
    fits none of a union's types is named once with the types, not once per type (pydantic's way)."""
    parts: list[str] = []
    errors = exc.errors(include_url=False)
    i = 0
    while i < len(errors):
        e = errors[i]
        loc = tuple(e["loc"])
        # A union's members share the parent location and the input; each adds its type's name.
        j = i + 1
        while j < len(errors) and len(loc) > 1 and tuple(errors[j]["loc"])[:-1] == loc[:-1]:
            if repr(errors[j].get("input")) != repr(e.get("input")):
                break
            j += 1
        where = ".".join(str(x) for x in (loc[:-1] if j > i + 1 else loc))
        got = "" if e["type"] == "missing" else f", got {e.get('input')!r:.80}"
        if j > i + 1:
            kinds = ", ".join(str(errors[k]["loc"][-1]) for k in range(i, j))
            parts.append(f"{where}: expected one of {kinds}{got}")
        else:
            parts.append(f"{where}: {e['msg']}{got}")
        i = j
    return f"invalid arguments for {tool}: " + "; ".join(parts[:5])


class _Server(MCPServer[Any]):
    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(_arguments_message(name, exc.__cause__)) from exc.__cause__
            raise


@contextlib.contextmanager
def _refusals(argument: str = "question") -> Iterator[None]:
    """The service's refusals as tool errors, with its message (what was wrong, what to do); the
    service names the question ``'question'``, which a tool may call otherwise (``search``: ``query``)."""
    try:
        yield
    except QAError as exc:
        message = str(exc)
        if argument != "question":
            message = message.replace("'question'", f"'{argument}'")
        raise ToolError(message) from exc


# -- the server ---------------------------------------------------------------------------------


def build_server(
    service: Callable[[str | None], AbstractContextManager[QAService]],
    *,
    writes: bool,
    keyring: Keyring | None = None,
    observer: Callable[[str], Observer] | None = None,
    lifespan: Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]] | None = None,
    listing: Callable[[], list[CollectionInfo]] | None = None,
) -> MCPServer[Any]:
    """The MCP server over ``service(collection)``: the service of a collection, held for one tool
    call (read at each call: the API's collections exist only once its app has started; None: the
    default collection; raises ``NotFound``).

    Args:
        writes: offer ``add_document``.
        keyring: the API keys (HTTP only; None or empty: every caller is an admin, as over stdio).
            Each tool resolves its caller from ``Authorization: Bearer <key>`` (the SDK runs tools
            outside the HTTP request's context, so the middleware's caller cannot be handed down):
            read tools see what the key may see, ``add_document`` needs the ``write`` scope.
        observer: makes the observer of one tool call's stages and outcomes on a collection
            (``qa.stages``; the API's metrics, labelled ``/mcp``). The SDK runs tool calls in tasks
            of its own, outside the HTTP request's context, so the API's middleware cannot hand its
            observer down.
        lifespan: entered when the server starts (``qa mcp`` loads the model there).
        listing: the collections, described (``Collections.list``); offers ``list_collections``.
    """

    def who(ctx: Context) -> Caller:
        if not keyring:
            return ADMIN
        authorization = (ctx.headers or {}).get("authorization")
        try:
            return keyring.caller(authorization) if authorization else ANONYMOUS
        except QAError as exc:
            raise ToolError(str(exc)) from None

    def caller(ctx: Context, needed: Scope, svc: QAService) -> Caller:
        found = who(ctx)
        if not keyring:
            return found
        if needed == "write" and not (ctx.headers or {}).get("authorization"):
            raise ToolError(
                "add_document changes the index, so it needs an API key: connect to /mcp with the header "
                "'Authorization: Bearer <key>' (a key with the 'write' scope)"
            )
        if not found.can(needed, svc.collection):
            raise ToolError(f"this API key lacks the {needed!r} scope on collection {svc.collection!r}")
        return found

    @contextlib.contextmanager
    def held(collection: str | None, argument: str = "question") -> Iterator[QAService]:
        """The collection's service for the call, its stages observed, the service's refusals as tool errors."""
        with _refusals(argument), service(collection) as svc:
            with observing(observer(svc.collection)) if observer is not None else nullcontext():
                yield svc

    server = _Server(
        "qa",
        title="qa: answers with exact citations",
        instructions=INSTRUCTIONS,
        version=version("qa"),
        log_level="WARNING",
        lifespan=lifespan,
    )

    @server.tool(title="Search the documents", annotations=READ)
    def search(
        query: Query, ctx: Context, k: K = None, filters: Filters = None, collection: Collection = None
    ) -> Annotated[CallToolResult, SearchResult]:
        """Find the passages of the indexed documents that best match a query, best first. Each passage
        carries its document's id, its start and end offsets in the document's text, its page (PDFs)
        and its score."""
        with held(collection, "query") as svc:
            passages = svc.search(query, k, filters, caller=caller(ctx, "read", svc))
        result = SearchResult(query=query, passages=[passage_out(p) for p in passages])
        return _result(result, _search_text(result))

    @server.tool(title="Ask a question", annotations=READ)
    def ask(
        question: Question, ctx: Context, k: K = None, filters: Filters = None, collection: Collection = None
    ) -> Annotated[CallToolResult, AskResult]:
        """Answer a question from the indexed documents. The answer cites its sources: each citation has
        the document id, start and end offsets, page (PDFs) and the exact quote (the document's text at
        [start:end]). When nothing in the documents answers, `found` is false and there is no citation."""
        with held(collection) as svc:
            a = svc.ask(question, k, filters, caller=caller(ctx, "read", svc))
        result = AskResult(
            question=question,
            answer=a.answer,
            found=a.found,
            score=a.score,
            short_answer=short_out(a),
            citations=[citation_out(c) for c in a.citations],
            generated=a.generated,
            note=a.note,
        )
        return _result(result, _ask_text(result))

    @server.tool(title="Read a document", annotations=READ)
    def get_document(
        doc_id: DocId, ctx: Context, start: Start = None, end: End = None, collection: Collection = None
    ) -> Annotated[CallToolResult, DocumentText]:
        """Read a document: its whole text, or the span [start:end] (e.g. around a citation's offsets),
        with its title and metadata."""
        with _refusals(), service(collection) as svc:
            try:
                info, text = svc.document(doc_id, include_text=True, caller=caller(ctx, "read", svc))
            except NotFound:
                raise ToolError(f"no document with id {doc_id!r}; list_documents gives the ids") from None
        assert text is not None
        n = len(text)
        s = 0 if start is None else start
        e = n if end is None else end
        if not 0 <= s <= e <= n:
            raise ToolError(
                f"span start={s}, end={e} is outside document {doc_id!r}, which has {n} characters: "
                f"give 0 <= start <= end <= {n}"
            )
        out = document_out(info, pages=True)
        result = DocumentText(**out.model_dump(exclude={"text"}), start=s, end=e, text=text[s:e])
        return _result(result, _document_text(result))

    @server.tool(title="List the documents", annotations=READ)
    def list_documents(
        ctx: Context, offset: Offset = 0, limit: Limit = 50, collection: Collection = None
    ) -> Annotated[CallToolResult, DocumentPage]:
        """List the indexed documents (id, title, metadata, size), `limit` at a time from `offset`."""
        with _refusals(), service(collection) as svc:
            docs, total = svc.list_documents(offset, limit, caller(ctx, "read", svc))
        following = offset + len(docs)
        result = DocumentPage(
            documents=[document_out(d) for d in docs],
            total=total,
            offset=offset,
            limit=limit,
            next_offset=following if docs and following < total else None,
        )
        return _result(result, _list_text(result))

    if listing is not None:
        collections = listing

        @server.tool(title="List the collections", annotations=READ)
        def list_collections(ctx: Context) -> Annotated[CallToolResult, CollectionPage]:
            """List the collections this key may read: each one's name (the `collection` argument of the
            other tools), embedding model and settings. Document counts are shown to its admins only."""
            caller_ = who(ctx)
            with _refusals():
                found = [c for c in collections() if caller_.can("read", c.name)]
            result = CollectionPage(collections=[_collection_entry(c, caller_, bool(keyring)) for c in found])
            return _result(result, _collections_text(result))

    if not writes:
        return server

    @server.tool(title="Add a document", annotations=WRITE)
    async def add_document(
        text: Text,
        ctx: Context,
        id: NewId = None,
        title: Title = "",
        metadata: Metadata = None,
        collection: Collection = None,
    ) -> Annotated[CallToolResult, IngestOut]:
        """Index a text so that search and ask find it. A document with the same id is replaced;
        the same document sent again changes nothing."""
        with held(collection) as svc:
            who_ = caller(ctx, "write", svc)
            doc = DocumentIn(id=id, title=title, text=text, metadata=metadata or {}).document(Limits.of(svc.settings))
            svc.check_replaceable([doc.id], who_)
            # The ingestion worker, as POST /v1/documents: one write at a time, a bounded queue (Busy beyond it).
            results = await svc.ingest_worker.run(svc.add_documents, [doc])
        r = results[0]
        result = IngestOut(id=r.id, status=r.status, chunks=r.chunks)
        return _result(result, f"{r.status.capitalize()} document {r.id!r} ({r.chunks} chunks).")

    return server


def http_routes(server: MCPServer[Any], max_request_bytes: int) -> list[BaseRoute]:
    """The route that serves ``server`` at ``/mcp`` (streamable HTTP) in the API's app. The app's
    lifespan must run ``server.session_manager.run()``.

    Stateless with JSON responses: the tools need no session (no server-to-client requests), so
    every ``--workers`` process and replica answers any request. The SDK's own Host and Origin
    checks are off: the API's middleware makes them from ``QA_ALLOWED_HOSTS`` and
    ``QA_CORS_ORIGINS``, for every route alike (the SDK's would refuse any host but localhost)."""
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        max_request_body_size=max_request_bytes,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return list(app.routes)


def serve_stdio(svc: QAService, writes: bool) -> None:
    """Serve the tools over stdin/stdout until the client closes them (``qa mcp``). The model loads
    as the server starts, so the first question does not wait for it; meanwhile the SDK has moved
    stdout onto stderr, so nothing printed while loading can corrupt the protocol's stream."""

    @contextlib.asynccontextmanager
    async def warm(_: MCPServer[Any]) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(svc.warm)
        yield

    @contextlib.contextmanager
    def only(collection: str | None) -> Iterator[QAService]:
        # `qa mcp` serves the one collection it was started with (`--collection`).
        if collection not in (None, svc.collection):
            raise NotFound(
                f"no collection {collection!r} here: this server serves {svc.collection!r} (qa --collection)"
            )
        yield svc

    build_server(only, writes=writes, lifespan=warm).run("stdio")
