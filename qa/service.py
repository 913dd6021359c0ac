"""The service: the composition root and the one facade the API, the CLI and the evals use.

It builds each stage from the settings (store, embedder, ingestion, retrieval, answering, the
optional LLM) and answers in one call: ``ask``/``chat`` retrieve, pick the extractive answer and,
when an LLM is configured, generate and check it, returning the finished ``Answer``. The model
loads on first need: listing, stats, deletes and re-indexing unchanged documents never pay for it;
``warm()`` loads it up front (the server does).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa import answerability
from qa.access import ADMIN, Caller, check_access, document_access
from qa.answer import ExtractiveAnswerer
from qa.answer_model import AnswerModel, load_answer_model
from qa.chat import Turn, resolve
from qa.chunk import Chunker
from qa.config import Settings
from qa.embed import Embedder, load_embedder
from qa.embed.onnx import OnnxEmbedder
from qa.embed.queries import QueryEmbedder
from qa.errors import Forbidden, IndexCorrupt, IndexGone, IndexMismatch, InvalidInput, NotFound, TooLarge
from qa.generate import OpenAICompatibleLLM, final, generate_stream
from qa.ingest import (
    ChunkProgress,
    FileProgress,
    FileStart,
    IndexSummary,
    Ingestor,
    chunker_signature,
    make_chunker,
    validate,
)
from qa.jobs import JOBS_FILE, Job, JobKind, JobRunner, JobStore
from qa.langid import conversation_language
from qa.language import Analyser
from qa.limits import Limits, check_max_per_doc, check_unicode
from qa.parse.files import Skipped
from qa.parse.worker import ParseLimits, parse_limited
from qa.rerank import CrossEncoderReranker, Reranker, SentenceEvidenceReranker
from qa.retrieve import Mode, Options, Retriever
from qa.shard import Shard
from qa.sources import document_id
from qa.stages import outcome, stage
from qa.store import DocumentInfo, FileRecord, Store, describe_location, open_store
from qa.store.embedded import DB_FILE
from qa.store.filters import Filters, parse_filters
from qa.sync import Syncer, SyncOptions, targets
from qa.terms import terms
from qa.types import Answer, Document, IngestResult, Metadata, Passage, Retrieved, page_at
from qa.workqueue import BoundedWorker

# Most strings one embeddings request may hold (OpenAI's own limit).
MAX_EMBED_INPUTS = 2048

# Largest list offset: SQLite integers are 64-bit (a larger one was a 500, found by schemathesis).
MAX_OFFSET = 2**63 - 1

# What an answer stream yields: what was retrieved, then text pieces of a generated answer as the
# LLM writes them (markers held back; a preview), then the finished ``Answer``.
Event = Retrieved | str | Answer


class QAService:
    """One index with its embedder, and every question and document operation on it."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        store: Store | None = None,
        load_embedder: Callable[[], Embedder] | None = None,
        ingest_worker: BoundedWorker | None = None,
        collection: str | None = None,
    ) -> None:
        """``load_embedder``: how to get the model when it is first needed (default: load the one
        the settings name; ``qa.collections`` shares one between collections of the same model);
        ``ingest_worker``: a shared ingestion worker (not closed with the service); ``collection``:
        the collection this is (default: the index name), for metrics' labels."""
        self.settings = settings
        self._embedder = embedder
        self._load_embedder = load_embedder
        self._store = store
        self._shared_worker = ingest_worker
        self._serving = False  # ``serving()`` was called
        self.collection = collection or settings.index_name
        # The manifest's ``extra`` of a new index (a collection's settings), written at creation.
        self.new_index_extra: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()  # opening the store may take _lock (to load the model)
        # Dimension for a new index when it is known without the model (`qa import` sets it).
        self.new_index_dim: int | None = None
        # The index must be made now, not found (a collection being created): Conflict if it exists.
        self.new_index_only = False
        # The index must be found, never made (a collection opened by name): IndexGone if it is not
        # there, e.g. deleted by another process after this one found it (``qa.collections``).
        self.existing_index_only = False
        self.model_name = embedder.name if embedder else settings.model
        backend = getattr(embedder, "backend", "torch") if embedder else settings.embed_backend
        self.chunker_signature = chunker_signature(settings, self.model_name, backend)

    # -- the stages ---------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load_embedder() if self._load_embedder else load_embedder(self.settings)
                if self._serving:
                    self._serve_embedder(self._embedder)
            if not isinstance(self._embedder, QueryEmbedder):
                # Single-text calls (questions) LRU-cached and micro-batched.
                s = self.settings
                self._embedder = QueryEmbedder(
                    self._embedder,
                    cache_size=s.query_cache_size,
                    max_batch=s.query_batch_max,
                    max_wait=s.query_batch_wait_ms / 1000,
                )
                if self._serving:
                    self._serve_embedder(self._embedder)
            embedder = self._embedder
        if self._store is not None and self._store.manifest.dim != embedder.dim:
            raise IndexMismatch(
                f"index {describe_location(self.settings)} holds {self._store.manifest.dim}-dim vectors but model "
                f"{self.model_name!r} makes {embedder.dim}-dim ones; use another QA_INDEX_NAME"
            )
        return embedder

    @property
    def embedder_loaded(self) -> bool:
        """Whether the model is loaded (or was given) already."""
        return self._embedder is not None

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    # Only a new index needs the model to tell its dimension.
                    new_dim = lambda: self.new_index_dim or self.embedder.dim  # noqa: E731
                    self._store = open_store(
                        self.settings,
                        self.model_name,
                        new_dim,
                        self.new_index_extra,
                        self.new_index_only,
                        self.existing_index_only,
                    )
        assert self._store is not None
        return self._store

    @property
    def opened_store(self) -> Store | None:
        """The store if it has been opened, else None (without opening it)."""
        return self._store

    @cached_property
    def chunker(self) -> Chunker:
        return make_chunker(self.settings, self.embedder)

    @cached_property
    def ingestor(self) -> Ingestor:
        ingestor = self._new_ingestor()
        if self._serving:
            ingestor.threads = self.settings.ingest_threads
        return ingestor

    def _new_ingestor(self) -> Ingestor:
        return Ingestor(
            self.store,
            embedder=lambda: self.embedder,
            chunker=lambda: self.chunker,
            signature=self.chunker_signature,
            max_document_bytes=self.settings.max_document_bytes,
            limits=Limits.of(self.settings),
        )

    @cached_property
    def analyser(self) -> Analyser:
        """The lexical analysis of ``QA_LANGUAGE`` (``qa.language``)."""
        return Analyser.of(self.settings.language, self.settings.lexical_stemmer)

    @cached_property
    def reranker(self) -> Reranker:
        s = self.settings
        if s.rerank_model:
            return CrossEncoderReranker(s.rerank_model)
        return SentenceEvidenceReranker(s.rerank_weight, self.analyser)

    @cached_property
    def retriever(self) -> Retriever:
        s = self.settings
        options = Options(
            mode=s.retrieval_mode,
            fusion=s.fusion,
            alpha=s.fusion_alpha,
            rrf_k=s.rrf_k,
            candidates=s.hybrid_candidates,
            rerank=s.rerank,
            rerank_candidates=s.rerank_candidates,
            max_per_doc=s.max_per_doc,
            stopwords=s.lexical_stopwords,
            analyser=self.analyser,
        )
        return Retriever(self.store, self.embedder, self.reranker, options)

    @cached_property
    def answer_model(self) -> AnswerModel | None:
        """``QA_ANSWER_MODEL``, when it reads the collection's language (``load_answer_model``:
        ``bundled`` is the bundled model for that language); otherwise None, and the feature scorer
        answers alone. On XQuAD the English model lowers Chinese answers (evals/reports/xquad-answers)."""
        return load_answer_model(self.settings.answer_model, self.settings.language)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        s = self.settings
        model = self.answer_model
        # The answer's score, fitted for this embedder and chooser (``qa.answerability``); without
        # one, the evidence decides.
        chooser = model.name if model is not None else answerability.FEATURES_CHOOSER
        return ExtractiveAnswerer(
            self.embedder,
            min_score=s.min_answer_score,
            calibration=answerability.find(s.model, chooser, s.language),
            crosslingual_shortlist=s.answer_crosslingual_shortlist,
            crosslingual_calibration=answerability.find_crosslingual(s.model, chooser),
            passages=s.answer_passages,
            model=model,
            shortlist=s.answer_shortlist,
            embed_sentences=s.answer_embed_sentences,
            analyser=self.analyser,
        )

    @cached_property
    def llm(self) -> OpenAICompatibleLLM | None:
        """The LLM that writes generated answers; None (extractive only) without QA_LLM_BASE_URL."""
        s = self.settings
        if not s.llm_base_url:
            return None
        return OpenAICompatibleLLM(
            s.llm_base_url, s.llm_model, s.llm_timeout, api_key=s.llm_api_key, max_tokens=s.llm_max_tokens
        )

    def generates(self, extractive: bool = False) -> bool:
        """Whether an answer asked for with ``extractive`` is written by the LLM."""
        return self.llm is not None and not extractive

    def warm(self) -> None:
        """Load the model, open the index and build every stage now rather than on first request."""
        _ = self.store, self.chunker, self.retriever, self.answerer

    def serving(self) -> None:
        """Share the cores between questions and ingestion, as a server must (``qa serve`` calls
        it; ``qa index`` does not, and embeds on every core). A request's embedding (its question,
        an answer's sentences) runs on the request's own thread; ingestion (``ingest_worker``) on
        ``QA_INGEST_THREADS`` cores, so documents being ingested do not take every core from the
        questions, nor make them wait for the model's bulk lock. Applied now to what is loaded,
        and to the model and ingestion when they load (a collection opened by a request)."""
        self._serving = True
        if self._embedder is not None:
            self._serve_embedder(self._embedder)
        if "ingestor" in self.__dict__:
            self.ingestor.threads = self.settings.ingest_threads

    @staticmethod
    def _serve_embedder(embedder: Embedder) -> None:
        base = getattr(embedder, "base", embedder)
        if isinstance(base, OnnxEmbedder):
            base.parallel = 1

    @cached_property
    def ingest_worker(self) -> BoundedWorker:
        """The server's ingestion: one request at a time on a thread of its own, at most
        ``QA_INGEST_QUEUE`` waiting (beyond that ``Busy``: a 503 with Retry-After); shared by
        the collections of a server when one was given."""
        if self._shared_worker is not None:
            return self._shared_worker
        return BoundedWorker("ingestion", self.settings.ingest_queue, "QA_INGEST_QUEUE")

    @cached_property
    def jobs(self) -> JobRunner:
        """Ingestion jobs (``qa.jobs``): stored in ``jobs.sqlite`` in the index directory (for the
        Postgres store too: on this server's disk), run on the ingestion worker. ``start()`` it to
        run them (the server does; ``submit_job`` does too)."""
        s = self.settings
        # The directory of an embedded collection is its index's: made with it, never by its jobs.
        keep_out = self.existing_index_only and not s.store
        if keep_out and not (s.index_path / DB_FILE).is_file():
            raise IndexGone(f"index {s.index_path} does not exist: it was deleted")
        store = JobStore(s.index_path / JOBS_FILE, make_dir=not keep_out)
        return JobRunner(store, self._job_documents, self._job_ingest, s.job_keep, s.job_keep_days * 86400)

    def submit_job(
        self, kind: JobKind, options: dict[str, Any], items: Sequence[tuple[str, bytes]], caller: Caller = ADMIN
    ) -> Job:
        """Store a job durably and queue it; returns its record (status ``queued``).

        ``kind`` ``upload``: items are files (a path inside ``options["source"]``, the bytes),
        parsed as uploads are (``parse_upload``) with ``options`` ``id``, ``title``, ``metadata``.
        ``documents``: items are documents as JSON (``Document``'s fields), already validated."""
        runner = self.jobs
        # Its owner (``job_owner``): who may see it besides admins.
        job = runner.store.create(kind, {**options, "owner": job_owner(caller)}, items)
        runner.start()
        runner.wake()
        return job

    def job(self, job_id: str, caller: Caller = ADMIN) -> Job:
        """A job, for its owner or an admin (to others it does not exist)."""
        store = self.jobs.store
        job = store.get(job_id)
        if job is None or not (caller.can("admin", self.collection) or store.owner(job_id) == job_owner(caller)):
            raise NotFound(f"no job with id {job_id!r}; list jobs with GET /v1/jobs")
        return job

    def list_jobs(self, offset: int = 0, limit: int = 50, caller: Caller = ADMIN) -> tuple[list[Job], int]:
        """Jobs, newest first, without their items: all of them for an admin, else the caller's own."""
        owner = None if caller.can("admin", self.collection) else job_owner(caller)
        return self.jobs.store.page(offset, limit, owner)

    def parse_upload(
        self,
        data: bytes,
        path: str,
        source: str,
        doc_id: str | None = None,
        title: str | None = None,
        metadata: Metadata | None = None,
    ) -> list[Document]:
        """The documents of an uploaded file (``path`` inside ``source``), parsed in a worker
        process within QA_PARSE_TIMEOUT / QA_PARSE_MEMORY_MB (``qa.parse.worker``)."""
        parsed = parse_limited(
            data,
            path,
            ParseLimits.of(self.settings),
            doc_id=doc_id or document_id(source, path),
            title=title or None,
            metadata=dict(metadata or {}),
            max_bytes=self.settings.max_document_bytes,
        )
        return [replace(d, source=source, path=path) for d in parsed]

    def _job_documents(self, kind: JobKind, options: dict[str, Any], name: str, data: bytes) -> list[Document]:
        if kind == "documents":
            d = json.loads(data)
            return [Document(d["id"], d["text"], d["title"], d["metadata"], source=d["source"], path=d["path"])]
        return self.parse_upload(
            data, name, options["source"], options.get("id"), options.get("title"), options.get("metadata")
        )

    def _job_ingest(self, docs: list[Document], on_chunks: ChunkProgress) -> list[IngestResult]:
        # On the ingestion worker, as a request's documents are: one call at a time, QA_INGEST_THREADS cores.
        return self.ingest_worker.submit(lambda: self.add_documents(docs, on_chunks=on_chunks)).result()

    # -- documents ----------------------------------------------------------------------------

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` by the index's own model, L2-normalized float32 as its chunks' are
        (``/v1/embeddings``).

        Raises:
            InvalidInput: no texts, more than ``MAX_EMBED_INPUTS``, a blank one, a lone surrogate,
                or one longer than the model reads (it would be cut silently).
        """
        if not texts:
            raise InvalidInput("input is empty: send a string or a list of strings")
        if len(texts) > MAX_EMBED_INPUTS:
            raise InvalidInput(f"input has {len(texts)} strings, over the limit of {MAX_EMBED_INPUTS}; send fewer")
        embedder = self.embedder
        for i, text in enumerate(texts):
            what = f"input[{i}]" if len(texts) > 1 else "input"
            if not text.strip():
                raise InvalidInput(f"{what} is blank: send text to embed")
            check_unicode(text, what)
            if embedder.max_tokens is not None and (n := embedder.count_tokens(text)) > embedder.max_tokens:
                raise InvalidInput(
                    f"{what} is {n} tokens of the model {embedder.name!r}, over the {embedder.max_tokens} it reads; "
                    "split the text into shorter pieces"
                )
        return embedder.embed(list(texts))

    def validate(self, doc: Document) -> Document:
        """Check id, size, text, title and metadata; return the document normalized (see ``qa.ingest.validate``)."""
        return validate(doc, self.settings.max_document_bytes, Limits.of(self.settings))

    def add_documents(
        self,
        docs: Iterable[Document],
        progress: Callable[[int], None] | None = None,
        files: Sequence[FileRecord] = (),
        on_chunks: ChunkProgress | None = None,
    ) -> list[IngestResult]:
        """Index documents: unchanged ones do no work, changed ones replace their old chunks;
        ``files``: the records of the files they were read from (``qa.sync``), written with them;
        ``on_chunks``: chunks embedded of the call's chunks so far, as embedding goes."""
        results = self.ingestor.add_documents(docs, progress, files, on_chunks)
        for r in results:
            outcome("ingested", r.status)
            if r.status != "unchanged":
                outcome("ingested_chunks", "written", r.chunks)
        return results

    def index_paths(
        self,
        paths: Sequence[str | Path],
        follow_symlinks: bool = False,
        shard: Shard | None = None,
        on_start: Callable[[list[Path]], None] | None = None,
        on_file: FileProgress | None = None,
        options: SyncOptions | None = None,
        on_begin: FileStart | None = None,
        on_chunks: ChunkProgress | None = None,
    ) -> IndexSummary:
        """Sync files and directories (recursively) into their sources (``qa.sync``): each
        directory is mirrored (files gone are deleted unless ``options.delete`` is off); a file
        that fails is recorded, the rest go on. Progress: ``on_start`` gets the files found,
        ``on_begin`` each before it is looked at, ``on_chunks`` its chunks embedded of its total
        as they are, and ``on_file`` each after."""
        options = replace(options or SyncOptions(), follow_symlinks=follow_symlinks, shard=shard)
        skipped: list[Skipped] = []
        # An index inside a folder being synced is not part of it (its own files would be indexed).
        own = [] if self.settings.store else [self.settings.index_path]
        found = targets(paths, options.source, follow_symlinks, skipped, exclude=own)
        if on_start:
            on_start([f for t in found for f in t.files])
        syncer = Syncer(
            self.store,
            lambda docs, files: self.add_documents(docs, files=files, on_chunks=on_chunks),
            self.chunker_signature,
            self.settings.max_document_bytes,
            options,
            ParseLimits.of(self.settings),
            on_file,
            on_begin,
        )
        return syncer.run(found, skipped)

    @property
    def embedded_texts(self) -> int:
        """Texts the model embedded during ingestion (the rest came from the embedding cache)."""
        return self.ingestor.embedded_texts

    @property
    def ingest_seconds(self) -> dict[str, float]:
        """Wall time spent per ingestion stage."""
        return self.ingestor.seconds

    def delete(self, doc_id: str, caller: Caller = ADMIN) -> None:
        """Remove a document; a caller that cannot see it is told it does not exist."""
        self.get(doc_id, caller)
        if not self.store.delete(doc_id):
            raise NotFound(f"no document with id {doc_id!r}; list ids with GET /v1/documents or `qa stats`")
        self.store.save()

    def get(self, doc_id: str, caller: Caller = ADMIN) -> DocumentInfo:
        """A document's record. One the caller may not see is not found, as one that does not exist
        (a 404 either way, so a caller cannot learn which ids exist)."""
        info = self.store.get(doc_id)
        if info is None or not caller.sees(document_access(info.metadata), self.collection):
            raise NotFound(f"no document with id {doc_id!r}; list ids with GET /v1/documents or `qa stats`")
        return info

    def get_text(self, doc_id: str, caller: Caller = ADMIN) -> str:
        with self.store.snapshot():
            self.get(doc_id, caller)
            text = self.store.get_text(doc_id)
        if text is None:
            raise NotFound(f"no document with id {doc_id!r}; list ids with GET /v1/documents or `qa stats`")
        return text

    def document(
        self, doc_id: str, include_text: bool = False, caller: Caller = ADMIN
    ) -> tuple[DocumentInfo, str | None]:
        """A document's record and, when asked for, its text (what citations' offsets index)."""
        with self.store.snapshot():
            return self.get(doc_id, caller), self.get_text(doc_id, caller) if include_text else None

    def list_documents(
        self, offset: int = 0, limit: int = 50, caller: Caller = ADMIN
    ) -> tuple[list[DocumentInfo], int]:
        """A page of the documents the caller may see, and how many those are."""
        if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= 1000:
            raise InvalidInput(f"offset must be 0..{MAX_OFFSET} and limit 1..1000, got offset={offset}, limit={limit}")
        return self.store.list_documents(offset, limit, caller.visibility(self.collection))

    def check_replaceable(self, doc_ids: Iterable[str], caller: Caller = ADMIN) -> None:
        """Refuse a write that would replace a document the caller may not see.

        Raises:
            Forbidden: one of ``doc_ids`` is a document hidden from the caller.
        """
        if caller.visibility(self.collection) is None:
            return
        for doc_id in doc_ids:
            info = self.store.get(doc_id)
            if info is not None and not caller.sees(document_access(info.metadata), self.collection):
                raise Forbidden(
                    f"document id {doc_id!r} is taken by a document this key may not see; choose another id"
                )

    def set_access(self, doc_id: str, access: Any, caller: Caller = ADMIN) -> DocumentInfo:
        """Replace a document's access list (None: remove it, the document becomes public) without
        re-embedding it. The caller must see the document now.

        Raises:
            InvalidInput: a malformed list. NotFound: no such document, or not one the caller sees.
        """
        checked = None if access is None else check_access(access)
        self.get(doc_id, caller)
        if not self.store.set_access(doc_id, checked):
            raise NotFound(f"no document with id {doc_id!r}; list ids with GET /v1/documents or `qa stats`")
        self.store.save()
        return self.get(doc_id)

    # -- questions ----------------------------------------------------------------------------

    def scoped(self, filters: Metadata | None, caller: Caller) -> Filters:
        """``filters`` parsed, with what ``caller`` may see (``qa.access``): what the stores apply
        inside the first stage, so ``k`` counts visible passages only.

        Raises:
            InvalidInput: a bad filter.
        """
        return replace(parse_filters(filters), access=caller.visibility(self.collection))

    def _check(
        self, question: str, k: int | None, filters: Metadata | None, max_per_doc: int | None = None
    ) -> tuple[str, int]:
        q = question.strip() if isinstance(question, str) else ""
        if not q:
            raise InvalidInput("question is empty: send a non-blank 'question'")
        if len(q) > self.settings.max_question_chars:
            raise TooLarge(
                f"question is {len(q)} characters, over the limit of {self.settings.max_question_chars} "
                "(QA_MAX_QUESTION_CHARS)"
            )
        check_unicode(q, "question")
        # The stores parse filters again when they search; parsed here too, a bad filter is refused
        # before a streamed answer has started.
        parse_filters(filters)
        if max_per_doc is not None:
            check_max_per_doc(max_per_doc)
        return q, self._check_k(k)

    def _check_k(self, k: int | None) -> int:
        k = self.settings.default_k if k is None else k
        if not 1 <= k <= self.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.settings.max_k} (QA_MAX_K), got {k}")
        return k

    def search(
        self,
        question: str,
        k: int | None = None,
        filters: Metadata | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        max_per_doc: int | None = None,
        caller: Caller = ADMIN,
    ) -> list[Passage]:
        """The top ``k`` passages for ``question`` (see ``qa.retrieve``) of the documents ``caller``
        may see; ``max_per_doc`` (0: no cap) overrides QA_MAX_PER_DOC for this search."""
        q, k = self._check(question, k, filters, max_per_doc)
        scoped = self.scoped(filters, caller)
        mode = self.mode_for(q, mode)
        passages, _ = self._with_pages(self.retriever.retrieve(q, k, scoped, mode, rerank, max_per_doc=max_per_doc))
        return passages

    def mode_for(self, query: str, mode: Mode | None) -> Mode | None:
        """The retrieval mode for ``query``: the one asked for; else dense when the query is in
        another language than the documents (``ExtractiveAnswerer.question_language``) and the
        configured mode is hybrid; else the configured one (None). Across languages the question's
        words are not the documents': BM25 adds noise to the embedder's ranking (XQuAD asked in
        English: evals/reports/crosslingual)."""
        if mode is None and self.settings.retrieval_mode == "hybrid" and self.answerer.question_language(query):
            return "dense"
        return mode

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Metadata | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        extractive: bool = False,
        max_per_doc: int | None = None,
        caller: Caller = ADMIN,
    ) -> Answer:
        """The finished answer to ``question``: the extractive one, or (with an LLM configured and
        not ``extractive``) the generated one with checked citations."""
        return final(self.ask_stream(question, k, filters, mode, rerank, extractive, max_per_doc, caller))

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        filters: Metadata | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
        extractive: bool = False,
        max_per_doc: int | None = None,
        caller: Caller = ADMIN,
    ) -> Generator[Event, None, None]:
        """``ask`` as a stream of ``Event``s, ending with the finished ``Answer``. The request is
        checked now (raising here); the work happens as the stream is read."""
        q, k = self._check(question, k, filters, max_per_doc)
        return self._answer(q, q, k, self.scoped(filters, caller), mode, rerank, extractive, max_per_doc)

    def chat(
        self,
        turns: Sequence[Turn],
        k: int | None = None,
        filters: Metadata | None = None,
        extractive: bool = False,
        max_per_doc: int | None = None,
        caller: Caller = ADMIN,
    ) -> Answer:
        """The finished answer to the conversation's last question, a follow-up resolved first."""
        return final(self.chat_stream(turns, k, filters, extractive, max_per_doc, caller))

    def chat_stream(
        self,
        turns: Sequence[Turn],
        k: int | None = None,
        filters: Metadata | None = None,
        extractive: bool = False,
        max_per_doc: int | None = None,
        caller: Caller = ADMIN,
    ) -> Generator[Event, None, None]:
        """``chat`` as a stream of ``Event``s, checked now and worked as read (see ``ask_stream``).
        Retrieval searches the resolved query; the answer sentence is chosen against the user's
        own words (the query when they carry no content word, e.g. "Why?")."""
        for i, turn in enumerate(turns):
            check_unicode(turn.content, f"message {i}")
        asked = [t.content for t in turns if t.role == "user"]
        resolved = resolve(
            turns, self.settings.max_question_chars, conversation_language(asked, self.settings.language)
        )
        scoped = self.scoped(filters, caller)
        if max_per_doc is not None:
            check_max_per_doc(max_per_doc)
        k = self._check_k(k)
        return self._answer(resolved.question, resolved.query, k, scoped, None, None, extractive, max_per_doc)

    def _answer(
        self,
        question: str,
        query: str,
        k: int,
        filters: Filters,
        mode: Mode | None,
        rerank: bool | None,
        extractive: bool,
        max_per_doc: int | None = None,
    ) -> Generator[Event, None, None]:
        """The one answer path: retrieve for ``query``, pick the extractive answer to
        ``question``, then generate and check when an LLM is configured."""
        mode = self.mode_for(query, mode)
        vector = self.retriever.embed_query(query)
        passages, starts = self._with_pages(
            self.retriever.retrieve(query, k, filters, mode, rerank, vector, max_per_doc)
        )
        yield Retrieved(question, query, tuple(passages), generating=self.generates(extractive))
        against = question if question == query or terms(question) else query
        with stage("answer"):
            a = self.answer(against, passages, vector if against == query else None)
        a = _cite_pages(replace(a, question=question, query=query), starts)
        if not self.generates(extractive) or self.llm is None:
            outcome("answer", "found" if a.found else "not_found")
            yield a
            return
        with stage("generate"):  # wall time, the stream's reader included
            for event in generate_stream(self.llm, query, passages, self.embedder, a):
                if isinstance(event, Answer):
                    event = _cite_pages(event, starts)
                    outcome("answer", "generated" if event.generated else "found" if event.found else "not_found")
                yield event

    def _with_pages(self, passages: list[Passage]) -> tuple[list[Passage], dict[int, tuple[int, ...]]]:
        """``passages`` with the page each starts on (documents with pages), and the page offsets
        of their documents by chunk id: one store read by chunk id, so the offsets are those of
        the very text the passages were read from, even while a document is being replaced."""
        starts = self.store.page_starts([p.chunk_id for p in passages]) if passages else {}
        if not starts:
            return passages, starts
        paged = [replace(p, page=page_at(starts[p.chunk_id], p.start)) if p.chunk_id in starts else p for p in passages]
        return paged, starts

    def answer(self, question: str, passages: list[Passage], vector: np.ndarray | None = None) -> Answer:
        """The best sentence of ``passages`` for ``question``, cited by its exact span.

        Passages count by their stored vectors' cosine with the question, so the answer does not
        depend on the scale of the retrieval mode's scores."""
        return self.answerer.answer(question, passages, vector, self.passage_vectors(passages))

    def passage_vectors(self, passages: list[Passage]) -> dict[int, np.ndarray]:
        """The stored vectors of ``passages``' chunks."""
        return self.store.vectors([p.chunk_id for p in passages])

    # -- the index ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {**self.store.stats(), "chunker": self.chunker_signature}

    def counts(self) -> dict[str, Any]:
        """Documents, chunks and model: what a health check reports, cheap at any size."""
        return self.store.counts()

    def health(self) -> dict[str, Any]:
        """``/healthz``: ``ok`` with the counts, or ``degraded`` with the problems known (damage
        in the index: reads that touch it answer 503, the rest are served; README, Operations)."""
        store = self.store
        problems = store.problems()
        try:
            counts = store.counts()
        except IndexCorrupt as exc:  # the counts read the damage: it is known now
            counts = {"model": self.model_name}
            problems = store.problems() or [str(exc)]
        if problems:
            return {"status": "degraded", "problems": problems, **counts}
        return {"status": "ok", **counts}

    def close(self) -> None:
        if self.__dict__.get("jobs") is not None:
            self.__dict__["jobs"].stop()
            self.__dict__["jobs"].store.close()
        worker = self.__dict__.get("ingest_worker")
        if worker is not None and worker is not self._shared_worker:
            worker.close()
        if self._store is not None:
            self._store.close()
        if self.__dict__.get("llm") is not None:
            self.__dict__["llm"].close()


def job_owner(caller: Caller) -> str:
    """Who owns the jobs a caller submits: its principal (any of its keys), else the key."""
    return f"user:{caller.principal}" if caller.principal else f"key:{caller.key_id}"


def _cite_pages(a: Answer, starts: dict[int, tuple[int, ...]]) -> Answer:
    """``a`` with the page of each citation and of the short answer: the page of its first
    character, from the page offsets of the passage it was cited from."""
    if not starts:
        return a

    def page(doc_id: str, offset: int) -> int | None:
        for p in a.passages:
            if p.doc_id == doc_id and p.chunk_id in starts and p.start <= offset <= p.end:
                return page_at(starts[p.chunk_id], offset)
        return None

    citations = tuple(replace(c, page=page(c.doc_id, c.start)) for c in a.citations)
    short = replace(a.short, page=page(a.short.doc_id, a.short.start)) if a.short else None
    return replace(a, citations=citations, short=short)
