"""Request and response models of the HTTP API, and their conversion from the service's records.

Every answering route (``/v1/ask``, ``/v1/chat``, and the extras of ``/v1/chat/completions``) builds
its fields from one ``Answer`` with ``answer_fields``.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from qa.access import ACCESS_FIELD, check_access
from qa.limits import MAX_PER_DOC, Limits, check_metadata, safe_metadata
from qa.sources import UPLOAD_SOURCE, check_path, check_source, document_id
from qa.store import DocumentInfo
from qa.types import Answer, Citation, Document, Passage, content_hash

Scalar = str | int | float | bool

MAX_PER_DOC_DESCRIPTION = (
    "Most passages one document may give for this request (0: no cap; default QA_MAX_PER_DOC). The cap "
    "holds while other documents can fill `k`: when a filter leaves one document (or too few to fill `k`), "
    "that document's further passages fill the rest, best first."
)


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
    max_per_doc: int | None = Field(None, ge=0, le=MAX_PER_DOC, description=MAX_PER_DOC_DESCRIPTION)


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
    page: int | None = Field(
        None, description="Page of the document (1-based) where the passage starts, for documents with pages (PDFs)."
    )


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
    page: int | None = Field(
        None, description="Page of the document (1-based) holding the quote's start, for documents with pages (PDFs)."
    )


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
    page: int | None = Field(None, description="Page of the document (1-based), for documents with pages (PDFs).")


class AnswerOut(BaseModel):
    """Fields every answering route returns (``/v1/ask``, ``/v1/chat``); see ``_answer_fields``."""

    question: str
    answer: str
    found: bool
    score: float = Field(
        description="How likely it is that the documents answer the question: the probability calibrated for "
        "the collection's embedder (qa/models/answerability.json), or for an embedder without a calibration the "
        "cited sentence's evidence. Below the collection's `min_answer_score` the answer is 'not found'."
    )
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
    id: str | None = Field(
        None, description="Stable id; source/path when a path is given, else derived from the content when omitted."
    )
    title: str = ""
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: str | None = Field(
        None, description="Its source: a name without '/' or a folder's absolute path (default with a path: 'upload')."
    )
    path: str | None = Field(None, description="Its path inside the source, e.g. 'sub/a.md'.")
    access: list[str] | None = Field(
        None,
        description='Who may see it: `["group:hr", "user:alice"]` (stored as metadata `access`); '
        "omitted: every key with read scope. Admin keys see every document.",
    )

    def document(self, limits: Limits, where: str = "") -> Document:
        """The ``Document`` to ingest: its metadata checked first (deriving the id hashes it; the
        service checks the rest), its id derived from the content when none is given. ``where``
        prefixes a refusal's message (which document of a batch). With a ``path`` (and a
        ``source``, ``upload`` by default) the id is ``source/path`` (``qa.sources``)."""
        check_metadata(self.metadata, limits, where)
        metadata = self.metadata
        if self.access is not None:
            metadata = {**metadata, ACCESS_FIELD: check_access(self.access, where)}
        source = check_source(self.source) if self.source is not None else None
        path = check_path(self.path) if self.path is not None else None
        if path is not None:
            source = source or UPLOAD_SOURCE
        if self.id is not None:
            doc_id = self.id
        elif path is not None:
            doc_id = document_id(source or UPLOAD_SOURCE, path)  # as a file of that source gets
        else:
            doc_id = "doc-" + content_hash(self.title, self.text, metadata)[:16]
        return Document(id=doc_id, title=self.title, text=self.text, metadata=metadata, source=source, path=path)


class DocumentPatch(BaseModel):
    """``PATCH /v1/documents/{id}``: what to change of a document without re-embedding it."""

    model_config = ConfigDict(extra="forbid")
    access: list[str] | None = Field(
        ..., description='Its new access list, e.g. `["group:hr"]`; null makes it visible to every reader.'
    )


class DocumentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(..., min_length=1, max_length=10_000)


class IngestOut(BaseModel):
    id: str
    status: str = Field(..., description="added, updated or unchanged")
    chunks: int


class IngestResponse(BaseModel):
    results: list[IngestOut]


class ErrorOut(BaseModel):
    error: str = Field(..., description="Error type, e.g. invalid_input, not_found.")
    message: str = Field(..., description="What was wrong and how to fix it.")


class JobProgress(BaseModel):
    items: int = Field(..., description="Files (an upload) or documents (a JSON job) in the job.")
    items_done: int = Field(..., description="Items finished, failed ones included.")
    items_failed: int
    bytes: int = Field(..., description="Bytes of all items.")
    bytes_done: int = Field(..., description="Bytes of the items finished: the share done, for an ETA.")
    documents: int = Field(..., description="Documents ingested so far (a .jsonl file gives several).")
    chunks: int = Field(..., description="Chunks of the documents ingested so far.")
    item_chunks_embedded: int | None = Field(
        None, description="The item being ingested (a running job): its chunks embedded so far."
    )
    item_chunks_total: int | None = Field(
        None, description="The item being ingested: its chunks to embed (those not reused from the index)."
    )


class JobItemOut(BaseModel):
    n: int = Field(..., description="The item's place in the request, from 0.")
    name: str = Field(..., description="The file's path inside its source, or the document's id.")
    bytes: int
    status: Literal["queued", "succeeded", "failed"]
    results: list[IngestOut] = Field(..., description="What ingesting it did, as the 201 response's results.")
    error: ErrorOut | None = Field(None, description="Why it failed (failed only), as the API's errors.")


class JobOut(BaseModel):
    """An ingestion job (``POST /v1/documents``, ``/v1/documents/upload`` answered 202)."""

    id: str
    kind: Literal["upload", "documents"]
    status: Literal["queued", "running", "succeeded", "failed"] = Field(
        ...,
        description="succeeded: every item was tried (see `items` for any that failed); failed: every item "
        "failed, or the server stopped during it too many times (`error` says).",
    )
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int = Field(..., description="Times a server started it (more than 1: resumed after a restart).")
    error: str | None = Field(None, description="Why the job failed, when it did as a whole.")
    progress: JobProgress
    items: list[JobItemOut] | None = Field(None, description="Each item's outcome (one job; not in lists).")


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int
    offset: int
    limit: int


class DocumentOut(BaseModel):
    id: str
    title: str
    metadata: dict[str, Any]
    source: str | None = Field(None, description="Its source: a folder's absolute path or a name such as 'upload'.")
    path: str | None = Field(None, description="Its path inside the source; id = source/path for a file.")
    content_hash: str
    n_chunks: int
    chars: int
    created_at: float
    updated_at: float
    text: str | None = None
    page_starts: list[int] | None = Field(
        None,
        description="Documents with pages (PDFs), when one document is asked for: where each page starts in the "
        "text; page n (1-based) is text[page_starts[n-1]:page_starts[n]], the last to the end.",
    )


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int
    offset: int
    limit: int


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class DocumentUpload(BaseModel):
    """The multipart form of ``POST /v1/documents/upload`` (documented here; the route reads the form
    itself, to bound its size and parse ``metadata`` strictly)."""

    file: bytes = Field(
        ...,
        description=".txt .md .rst .html .pdf .jsonl .docx .pptx .xlsx .csv .tsv .epub .odt .eml .mbox, or any "
        "of them .gz; images .png .jpg .tiff (OCR). Parsed by content. Repeat the field to send several files "
        "(then without `id`).",
    )
    # Optional, not nullable: a form field is there or not (a generated client would send "None").
    id: str | SkipJsonSchema[None] = Field(
        None, description="Document id (default: source/file name).", json_schema_extra=_no_default
    )
    source: str | SkipJsonSchema[None] = Field(
        None,
        description="The files' source: a name without '/' or a folder's absolute path (default: 'upload'). "
        "A file's id is source/its file name, as `qa index` gives the file of that name in a folder indexed "
        "with --source.",
        json_schema_extra=_no_default,
    )
    title: str | SkipJsonSchema[None] = Field(
        None, description="Title (default: the file's own, or its name).", json_schema_extra=_no_default
    )
    metadata: str | SkipJsonSchema[None] = Field(
        None, description='A JSON object, as a string: {"team": "ops"}.', json_schema_extra=_no_default
    )


class DeletedOut(BaseModel):
    deleted: str = Field(..., description="The id of the document deleted.")


# -- /v1/collections ----------------------------------------------------------------------------


class CollectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        ...,
        max_length=200,
        description="1 to 48 lower-case letters, digits, `_` or `-`, starting with a letter or digit.",
        examples=["hr"],
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the server this collection overrides, by field name (`QA_<NAME>` in lower case): "
        "`model`, `embed_backend`, `chunk_tokens`, `chunk_overlap`, `encoding`, `lexical_stemmer`, "
        "`lexical_stopwords`, `language`, `retrieval_mode`, `min_answer_score`. The rest are the server's.",
        examples=[{"chunk_tokens": 120, "language": "en"}],
    )


class CollectionOut(BaseModel):
    name: str
    default: bool = Field(..., description="The default collection (QA_INDEX_NAME): what routes use without one.")
    model_id: str = Field(..., description="Its id in GET /v1/models (`qa` for the default collection).")
    overrides: dict[str, Any] = Field(..., description="The settings it sets for itself.")
    settings: dict[str, Any] = Field(
        ..., description="The collection settings it runs with (overrides or the server's)."
    )
    model: str = Field(..., description="The embedding model its index was built with.")
    documents: int | None = Field(None, description="Documents in it (with a keys file: for its admins only).")
    chunks: int | None = Field(None, description="Chunks in it (with a keys file: for its admins only).")
    location: str = Field(..., description="Its directory, or its Postgres schema.")
    created_at: float | None = Field(None, description="Unix time it was created (None: made before collections).")
    error: str | None = Field(
        None,
        description="Why it cannot be opened (its stored settings no longer validate): its routes answer 409 "
        "with this message; delete it and create it again. None: it works.",
    )


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class CollectionDeleted(BaseModel):
    deleted: str = Field(..., description="The name of the collection deleted.")


class HealthOut(BaseModel):
    """``/healthz``: ``ok``, or ``degraded`` with the ``problems`` found in the index."""

    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "degraded"]
    model: str = Field(..., description="The index's embedding model.")
    documents: int | None = Field(None, description="Absent when the counts cannot be read (degraded).")
    chunks: int | None = None
    problems: list[str] | None = Field(None, description="What is damaged (degraded only).")


class StatsOut(BaseModel):
    """``/v1/stats``: the fields every store reports, then its own (``path``, ``vector_index``,
    ``tombstones``... for the embedded store; ``url``, ``schema``... for PostgreSQL)."""

    model_config = ConfigDict(extra="allow")
    store: str = Field(..., description="embedded or postgres")
    documents: int
    chunks: int
    chars: int = Field(..., description="Characters of all documents' text.")
    vectors: int
    model: str
    dim: int
    format_version: int
    bytes_on_disk: int
    chunker: str = Field(..., description="The chunking settings the index was built with.")


# 401/403 only where QA_API_KEYS asks for a key (writes; reads too with QA_REQUIRE_KEY_FOR_READ).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503, 507)
}


# -- /v1/chat ----------------------------------------------------------------------------------


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
    max_per_doc: int | None = Field(None, ge=0, le=MAX_PER_DOC, description=MAX_PER_DOC_DESCRIPTION)
    extractive: bool = Field(False, description="Answer extractively even when an LLM is configured (QA_LLM_BASE_URL).")


class ChatOut(AnswerOut):
    """The answer to a conversation's last question, with what was searched for it."""

    question: str = Field(..., description="The user's last question, as asked.")
    query: str = Field(..., description="What was searched: the question, resolved against the conversation.")
    rewritten: bool = Field(..., description="True when the question was a follow-up and was rewritten.")


class ChatPassagesEvent(BaseModel):
    """``event: passages`` (first): what was searched, and what came back."""

    question: str
    query: str
    rewritten: bool
    passages: list[PassageOut]


class ChatDeltaEvent(BaseModel):
    """``event: delta`` (repeated): a piece of the answer; joined, the pieces are the answer."""

    text: str


class ChatAnswerEvent(BaseModel):
    """``event: answer`` (only with an LLM): the checked answer, which replaces the deltas."""

    text: str
    generated: bool
    note: str | None
    sentences: list[SentenceOut] | None
    short_answer: ShortOut | None


class ChatCitationsEvent(BaseModel):
    """``event: citations``: each citation with its exact quote."""

    citations: list[CitationOut]


class ChatDoneEvent(BaseModel):
    """``event: done`` (last)."""

    found: bool
    score: float
    short_answer: ShortOut | None
    generated: bool
    note: str | None


# The events of `POST /v1/chat` with `"stream": true`, in order; `error` (ErrorOut) instead of the
# rest when something fails once the stream has started.
CHAT_EVENTS: dict[str, type[BaseModel]] = {
    "passages": ChatPassagesEvent,
    "delta": ChatDeltaEvent,
    "answer": ChatAnswerEvent,
    "citations": ChatCitationsEvent,
    "done": ChatDoneEvent,
    "error": ErrorOut,
}


# -- OpenAI-compatible --------------------------------------------------------------------------


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


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = Field(False, description="Send a last chunk with empty `choices` and the `usage`.")


class OpenAIChatIn(BaseModel):
    # Sampling options (temperature, max_tokens, ...) mean nothing to an extractive answerer; the
    # options that would change what comes back (n, a forced tool call, response_format) are checked by the route.
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[OpenAIMessage] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, description="Only 1: one answer per question.")
    tools: list[Any] | None = Field(None, description="Accepted and never called: the answer is text.")
    tool_choice: Any = Field(None, description="Only 'none' or 'auto': a forced call is a 400 (qa calls no tools).")
    functions: list[Any] | None = Field(None, description="Accepted and never called (function_call: 'none'/'auto').")
    response_format: dict[str, Any] | None = Field(None, description="Only {'type': 'text'}.")
    extractive: bool = False  # not OpenAI's: answer extractively even with an LLM configured


class UrlCitation(BaseModel):
    url: str = Field(..., description="qa's own page opened at the cited span: /documents/{id}#start-end.")
    title: str
    start_index: int = Field(..., description="Where the citation's [n] marker starts in the message content.")
    end_index: int = Field(..., description="Where it ends (exclusive: content[start_index:end_index] == '[n]').")


class Annotation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class OpenAIMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    annotations: list[Annotation] = Field(
        default_factory=list, description="Each citation, as OpenAI's clients read them."
    )


class OpenAIChoice(BaseModel):
    index: int
    message: OpenAIMessageOut
    finish_reason: Literal["stop"]


class Usage(BaseModel):
    prompt_tokens: int = Field(..., description="tiktoken cl100k_base tokens of the messages' text.")
    completion_tokens: int = Field(..., description="tiktoken cl100k_base tokens of the content.")
    total_tokens: int


class OpenAIChatOut(BaseModel):
    """A chat completion (``stream: false``): OpenAI's fields, then qa's own beside them."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[OpenAIChoice]
    usage: Usage
    # qa's own fields, absent from the replies to Open WebUI's background prompts (a chat title...).
    citations: list[CitationOut] | None = Field(None, description="qa's own: each citation with its exact quote.")
    query: str | None = Field(None, description="What was searched: the question, resolved against the conversation.")
    generated: bool | None = None
    note: str | None = None
    sentences: list[SentenceOut] | None = None


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    annotations: list[Annotation] | None = Field(None, description="A citation, once its marker has been sent.")


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None


class OpenAIChatChunk(BaseModel):
    """One ``data:`` line of a streamed chat completion (``stream: true``), until ``data: [DONE]``.

    A chunk with a citation also carries Open WebUI's ``event`` (``{type: "source", data: ...}``,
    the exact quote); the chunk with ``finish_reason: "stop"`` carries qa's own fields (``citations``,
    ``query``, ``generated``, ``note``, ``sentences``); with ``stream_options.include_usage``, a
    last chunk has no choices and the ``usage``."""

    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    event: dict[str, Any] | None = Field(None, description="Open WebUI's source event: the cited quote.")
    citations: list[CitationOut] | None = None


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class EmbeddingsIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # `user` and others: accepted, unused
    model: str = Field(..., description="The index's embedding model (its name), or 'qa'.")
    input: str | list[str] = Field(..., description="A string or a list of strings (token arrays are not accepted).")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: lists of numbers; base64: little-endian float32 bytes, base64-encoded."
    )
    dimensions: int | None = Field(None, description="Only the model's own dimension.")


class EmbeddingOut(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int = Field(..., description="tiktoken cl100k_base tokens of the input.")
    total_tokens: int


class EmbeddingsOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingOut]
    model: str
    usage: EmbeddingUsage


# -- OpenAI Responses API (/v1/responses) ---------------------------------------------------------


class InputPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(..., description="input_text (output_text in an assistant's earlier turn); no images or files.")
    text: str | None = None


class InputItem(BaseModel):
    # Clients send more than we use (an earlier turn's id, status, annotations): ignored.
    model_config = ConfigDict(extra="allow")
    type: str = Field("message", description="Only message: other items (function calls, reasoning...) are a 400.")
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[InputPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.text)
        return self.content or ""


class ResponsesIn(BaseModel):
    """``POST /v1/responses``. Sampling and output options (temperature, max_output_tokens, reasoning,
    store, include...) mean nothing to an extractive answerer and are ignored; those that would
    change what comes back are checked by the route."""

    model_config = ConfigDict(extra="allow")
    model: str
    input: str | Annotated[list[InputItem], Field(min_length=1, max_length=200)] = Field(
        ...,
        description="The question, or the conversation so far (oldest first, the user's question last).",
        examples=["Who met in Paris?"],
    )
    instructions: str | None = Field(None, description="Accepted as a system message; an extractive answer ignores it.")
    stream: bool = False
    metadata: dict[str, str] | None = Field(None, max_length=16, description="Returned as sent in the response.")
    tools: list[Any] | None = Field(None, description="Accepted and never called: the answer is text.")
    tool_choice: Any = Field(None, description="Only 'none' or 'auto': a forced call is a 400 (qa calls no tools).")
    text: dict[str, Any] | None = Field(None, description="Only the format {'type': 'text'}.")
    previous_response_id: str | None = Field(
        None, description="Not supported (responses are not stored): send the conversation in `input`."
    )
    extractive: bool = False  # not OpenAI's: answer extractively even with an LLM configured


class UrlCitationOut(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url: str = Field(..., description="qa's own page opened at the cited span: /documents/{id}#start-end.")
    title: str
    start_index: int = Field(..., description="Where the citation's [n] marker starts in the text.")
    end_index: int = Field(..., description="Where it ends (exclusive: text[start_index:end_index] == '[n]').")


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[UrlCitationOut] = Field(..., description="Each citation, as OpenAI's clients read them.")
    logprobs: list[Any] = Field(default_factory=list)


class OutputMessage(BaseModel):
    type: Literal["message"] = "message"
    id: str
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed"]
    content: list[OutputText]


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    input_tokens: int = Field(..., description="tiktoken cl100k_base tokens of the instructions and input's text.")
    input_tokens_details: InputTokensDetails
    output_tokens: int = Field(..., description="tiktoken cl100k_base tokens of the output text.")
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseError(BaseModel):
    code: str
    message: str


class ResponseOut(BaseModel):
    """A response (``stream: false``): OpenAI's fields, then qa's own beside them."""

    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["response"] = "response"
    created_at: int
    completed_at: int | None = None
    status: Literal["in_progress", "completed", "failed"]
    model: str
    output: list[OutputMessage]
    usage: ResponseUsage | None = None
    error: ResponseError | None = None
    incomplete_details: None = None
    instructions: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict, description="The request's, as sent.")
    parallel_tool_calls: bool = True
    tool_choice: Any = "auto"
    tools: list[Any] = Field(default_factory=list)
    text: dict[str, Any] = Field(default_factory=lambda: {"format": {"type": "text"}})
    previous_response_id: None = None
    # qa's own fields, absent from the replies to Open WebUI's background prompts (a chat title...).
    citations: list[CitationOut] | None = Field(None, description="qa's own: each citation with its exact quote.")
    query: str | None = Field(None, description="What was searched: the question, resolved against the conversation.")
    generated: bool | None = None
    note: str | None = None
    sentences: list[SentenceOut] | None = None


class ResponseLifecycleEvent(BaseModel):
    """``response.created``, ``response.in_progress``, ``response.completed`` (the whole response)
    and ``response.failed`` (with its ``error``)."""

    type: Literal["response.created", "response.in_progress", "response.completed", "response.failed"]
    sequence_number: int
    response: ResponseOut


class ResponseItemEvent(BaseModel):
    """``response.output_item.added`` (the message, empty) and ``response.output_item.done`` (whole)."""

    type: Literal["response.output_item.added", "response.output_item.done"]
    sequence_number: int
    output_index: int
    item: OutputMessage


class ResponsePartEvent(BaseModel):
    """``response.content_part.added`` (empty) and ``response.content_part.done`` (with annotations)."""

    type: Literal["response.content_part.added", "response.content_part.done"]
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    part: OutputText


class ResponseTextDeltaEvent(BaseModel):
    """``response.output_text.delta`` (repeated): a piece of the text; joined, the pieces are the text."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any]


class ResponseAnnotationEvent(BaseModel):
    """``response.output_text.annotation.added``: one citation, once all the text is sent."""

    type: Literal["response.output_text.annotation.added"] = "response.output_text.annotation.added"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    annotation_index: int
    annotation: UrlCitationOut


class ResponseTextDoneEvent(BaseModel):
    """``response.output_text.done``: the whole text."""

    type: Literal["response.output_text.done"] = "response.output_text.done"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any]


class ResponseErrorEvent(BaseModel):
    """``error``: the answer failed once the stream had started (``response.failed`` follows)."""

    type: Literal["error"] = "error"
    sequence_number: int
    code: str
    message: str
    param: str | None = None


# The events of `POST /v1/responses` with `"stream": true`, by name (`event:` line, and `type`).
RESPONSE_EVENTS: dict[str, type[BaseModel]] = {
    "response.created": ResponseLifecycleEvent,
    "response.in_progress": ResponseLifecycleEvent,
    "response.output_item.added": ResponseItemEvent,
    "response.content_part.added": ResponsePartEvent,
    "response.output_text.delta": ResponseTextDeltaEvent,
    "response.output_text.annotation.added": ResponseAnnotationEvent,
    "response.output_text.done": ResponseTextDoneEvent,
    "response.content_part.done": ResponsePartEvent,
    "response.output_item.done": ResponseItemEvent,
    "response.completed": ResponseLifecycleEvent,
    "error": ResponseErrorEvent,
    "response.failed": ResponseLifecycleEvent,
}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(..., description="invalid_request_error, or server_error.")
    param: str | None = Field(None, description="The request field at fault, when one is.")
    code: str


class OpenAIErrorOut(BaseModel):
    error: OpenAIErrorDetail


# OpenAI's error shape, so OpenAI clients show the message: 400 for a request that does not parse
# or asks for what qa does not do, 401 for a missing or wrong key (QA_API_KEYS), 403 for a browser
# page of another site, 404 for an unknown model, and the service's own statuses for what it refuses.
OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": OpenAIErrorOut, "description": "An error, in OpenAI's shape."}
    for code in (400, 401, 403, 404, 409, 413, 503)
}


def event_stream(description: str, events: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """The ``text/event-stream`` body of a streaming route, beside its JSON under the same 200.

    OpenAPI 3.1 has no schema for the items of a stream (3.2's ``itemSchema``): the body is a
    string, and ``x-events`` names the schema of each event's ``data`` (the empty name: unnamed
    ``data:`` lines), each one under ``components.schemas`` (``DOCUMENTED_MODELS``)."""
    return {
        "schema": {"type": "string", "description": description},
        "x-events": {name: {"$ref": f"#/components/schemas/{m.__name__}"} for name, m in events.items()},
    }


# Models no route declares as its body or response, registered under `components.schemas` by
# qa/api/app.py: the bodies the routes read themselves, and the data of streamed events.
DOCUMENTED_MODELS: tuple[type[BaseModel], ...] = (
    DocumentIn,
    DocumentsIn,
    DocumentUpload,
    OpenAIChatIn,
    EmbeddingsIn,
    OpenAIChatChunk,
    ResponsesIn,
    *CHAT_EVENTS.values(),
    *dict.fromkeys(RESPONSE_EVENTS.values()),
)


# -- from the service's records ----------------------------------------------------------------


def passage_out(p: Passage) -> PassageOut:
    # Read off the dataclass's attributes: `asdict` deep-copies and cost 6x as much per passage.
    metadata = safe_metadata(p.metadata)
    if metadata is not p.metadata:
        p = replace(p, metadata=metadata)
    return PassageOut.model_validate(p, from_attributes=True)


def citation_out(c: Citation) -> CitationOut:
    return CitationOut(**asdict(c))


def sentences_out(a: Answer) -> list[SentenceOut] | None:
    if a.sentences is None:
        return None
    return [SentenceOut(text=s.text, supported=s.supported, citations=list(s.citations)) for s in a.sentences]


def short_out(a: Answer) -> ShortOut | None:
    return ShortOut(**asdict(a.short)) if a.short else None


def answer_fields(a: Answer) -> dict[str, Any]:
    """The ``AnswerOut`` fields of an answer, all but ``question``."""
    return {
        "answer": a.answer,
        "found": a.found,
        "score": a.score,
        "short_answer": short_out(a),
        "citations": [citation_out(c) for c in a.citations],
        "passages": [passage_out(p) for p in a.passages],
        "generated": a.generated,
        "note": a.note,
        "sentences": sentences_out(a),
    }


def document_out(info: DocumentInfo, text: str | None = None, pages: bool = False) -> DocumentOut:
    """``info`` for the API; ``pages``: with its page offsets (one document asked for, not a list)."""
    fields = asdict(info)
    fields.pop("chunker")
    starts = fields.pop("page_starts")
    # Stored before the limits on metadata, a value could break serializing the whole response.
    fields["metadata"] = safe_metadata(fields["metadata"])
    return DocumentOut(**fields, text=text, page_starts=list(starts) if pages and starts else None)
