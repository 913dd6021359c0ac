"""The service: ingestion, search and answering over one index. The API and the CLI both use it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np

from qa.answer import ExtractiveAnswerer
from qa.chunk import Chunker, tiktoken_counter
from qa.config import Settings
from qa.embed import PREFIX_TOKENS, Embedder, embedding_key, embedding_text, load_embedder, vector_backend
from qa.errors import IndexMismatch, InvalidInput, NotFound, TooLarge
from qa.generate import Generated, OpenAICompatibleLLM, final, generate_stream
from qa.parse import normalize_text
from qa.query_embed import QueryEmbedder
from qa.rerank import CrossEncoderReranker, Reranker, SentenceEvidenceReranker, diversify
from qa.retrieve import DenseRetriever, HybridRetriever, LexicalRetriever, Mode
from qa.store import DocumentInfo, Store, Write, describe_location, open_store
from qa.types import Answer, Document, Metadata, Passage

MAX_ID_CHARS = 512
# Largest list offset: SQLite integers are 64-bit (a larger one was a 500, found by schemathesis).
MAX_OFFSET = 2**63 - 1
# Documents per write transaction (and per embedding round) during bulk ingestion.
WRITE_GROUP_DOCS = 32


@dataclass(frozen=True)
class IngestResult:
    id: str
    status: Literal["added", "updated", "unchanged"]
    chunks: int


class QAService:
    """One index with its embedder. The model loads on first need: listing, stats, deletes and
    re-indexing unchanged documents never pay for it; `warm()` loads it up front (the server does)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._store = store
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()  # opening the store may take _lock (to load the model)
        # Dimension for a new index when it is known without the model (`qa import` sets it).
        self.new_index_dim: int | None = None
        # Texts the model embedded during ingestion (the rest came from the embedding cache).
        self.embedded_texts = 0
        # Wall time spent per ingestion stage (bench/run.py reports the split).
        self.ingest_seconds = {"validate": 0.0, "chunk": 0.0, "embed": 0.0, "index": 0.0}
        self.model_name = embedder.name if embedder else settings.model
        # Everything that shapes chunks and their vectors; a document indexed under another
        # signature is re-chunked even if its content is unchanged.
        self.chunker_signature = (
            f"v1:{settings.encoding}:{settings.chunk_tokens}:{settings.chunk_overlap}:{self.model_name}:{PREFIX_TOKENS}"
        )
        # The backend shapes vectors too (int8 ones differ a little, and so do two versions of an
        # ONNX export); torch, the first, adds nothing, so indexes made before backends existed
        # stay unchanged.
        backend = getattr(embedder, "backend", "torch") if embedder else settings.embed_backend
        if backend != "torch":
            self.chunker_signature += f":{vector_backend(backend)}"

    def _fast_queries(self, base: Embedder) -> Embedder:
        """``base`` with its single-text calls (questions) LRU-cached and micro-batched."""
        if isinstance(base, QueryEmbedder):
            return base
        s = self.settings
        return QueryEmbedder(
            base, cache_size=s.query_cache_size, max_batch=s.query_batch_max, max_wait=s.query_batch_wait_ms / 1000
        )

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings)
            self._embedder = self._fast_queries(self._embedder)
            embedder = self._embedder
        if self._store is not None and self._store.manifest.dim != embedder.dim:
            raise IndexMismatch(
                f"index {describe_location(self.settings)} holds {self._store.manifest.dim}-dim vectors but model "
                f"{self.model_name!r} makes {embedder.dim}-dim ones; use another QA_INDEX_NAME"
            )
        return embedder

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    # Only a new index needs the model to tell its dimension.
                    new_dim = lambda: self.new_index_dim or self.embedder.dim  # noqa: E731
                    self._store = open_store(self.settings, self.model_name, new_dim)
        assert self._store is not None
        return self._store

    @cached_property
    def chunker(self) -> Chunker:
        embedder = self.embedder
        window_limit = None
        if embedder.max_tokens is not None:
            # Room for the title/heading prefix and the newline after it.
            window_limit = embedder.max_tokens - PREFIX_TOKENS - 1
        return Chunker(
            max_tokens=self.settings.chunk_tokens,
            overlap=self.settings.chunk_overlap,
            count_tokens=tiktoken_counter(self.settings.encoding),
            window=embedder.count_tokens if window_limit else None,
            window_limit=window_limit,
        )

    @cached_property
    def retriever(self) -> DenseRetriever:
        return DenseRetriever(self.store, self.embedder)

    @cached_property
    def lexical(self) -> LexicalRetriever:
        return LexicalRetriever(self.store, stopwords=self.settings.lexical_stopwords)

    @cached_property
    def hybrid(self) -> HybridRetriever:
        s = self.settings
        return HybridRetriever(self.retriever, self.lexical, s.fusion, s.hybrid_candidates, s.fusion_alpha, s.rrf_k)

    def retrieve(
        self,
        question: str,
        k: int,
        filters: Metadata | None,
        mode: Mode | None,
        vector: np.ndarray | None = None,
        rerank: bool | None = None,
    ) -> list[Passage]:
        """The top ``k`` passages: first stage by ``mode``, then the second stage (unless
        ``rerank`` is False), then near-duplicates stitched and at most ``max_per_doc`` per document.
        ``vector`` is the question's embedding when already known."""
        s = self.settings
        rerank = s.rerank if rerank is None else rerank
        # Stitching and the per-document cap drop passages: fetch more than k.
        depth = max(2 * k, s.rerank_candidates if rerank else 0)
        passages = self._first_stage(question, depth, filters, mode or s.retrieval_mode, vector)
        if rerank:
            passages = self._second_stage(question, passages)
        return diversify(passages, k, s.max_per_doc)

    def _first_stage(
        self, question: str, n: int, filters: Metadata | None, mode: str, vector: np.ndarray | None
    ) -> list[Passage]:
        if mode == "lexical":
            return self.lexical.search(question, n, filters)
        if vector is None:
            vector = self.retriever.embed_query(question)
        if mode == "dense":
            return self.store.search(vector, n, filters)
        if mode == "hybrid":
            return self.hybrid.search_vector(question, vector, n, filters)
        raise InvalidInput(f"mode must be 'dense', 'lexical' or 'hybrid', got {mode!r}")

    def _second_stage(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The top ``rerank_candidates`` rescored; the rest follow in first-stage order, scored
        below every rescored one so scores stay decreasing."""
        n = self.settings.rerank_candidates
        head = self.reranker.rerank(question, passages[:n])
        if not head or len(passages) <= n:
            return head
        floor = min(p.score for p in head)
        return head + [replace(p, score=floor - (i + 1) * 1e-6) for i, p in enumerate(passages[n:])]

    @cached_property
    def reranker(self) -> Reranker:
        s = self.settings
        if s.rerank_model:
            return CrossEncoderReranker(s.rerank_model)
        return SentenceEvidenceReranker(s.rerank_weight)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(
            self.embedder, min_score=self.settings.min_answer_score, passages=self.settings.answer_passages
        )

    def warm(self) -> None:
        """Load the model, open the index and build every stage now rather than on first request."""
        _ = self.store, self.chunker, self.retriever, self.answerer
        if self.settings.retrieval_mode != "dense":
            _ = self.hybrid

    # -- ingestion --------------------------------------------------------------------------

    def validate(self, doc: Document) -> Document:
        """Check id, size and text; return the document with normalized text."""
        if not doc.id or not doc.id.strip() or len(doc.id) > MAX_ID_CHARS:
            raise InvalidInput(f"document id {doc.id[:80]!r} must be 1 to {MAX_ID_CHARS} characters, not blank")
        size = len(doc.text.encode("utf-8", "surrogatepass"))
        if size > self.settings.max_document_bytes:
            raise TooLarge(
                f"document {doc.id!r} is {size} bytes, over the limit of {self.settings.max_document_bytes} "
                "(QA_MAX_DOCUMENT_BYTES)"
            )
        text = normalize_text(doc.text)
        if not text.strip():
            raise InvalidInput(f"document {doc.id!r} has no text: nothing to index")
        return replace(doc, text=text, title=normalize_text(doc.title), id=normalize_text(doc.id))

    def add_documents(
        self, docs: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> list[IngestResult]:
        """Index documents: unchanged ones do no work, changed ones replace their old chunks."""
        results: list[IngestResult] = []
        for group in _groups(docs, WRITE_GROUP_DOCS):
            t = time.perf_counter()
            valid = [self.validate(d) for d in group]
            self.ingest_seconds["validate"] += time.perf_counter() - t
            results += self._add_group(valid)
            if progress:
                progress(len(group))
        t = time.perf_counter()
        self.store.save()
        self.ingest_seconds["index"] += time.perf_counter() - t
        return results

    def _add_group(self, docs: list[Document]) -> list[IngestResult]:
        results: dict[str, IngestResult] = {}
        todo = []
        started = time.perf_counter()
        # The same id twice in one write would race with itself: the last version wins.
        for doc in {d.id: d for d in docs}.values():
            info = self.store.get(doc.id)
            if info and info.content_hash == doc.content_hash and info.chunker == self.chunker_signature:
                results[doc.id] = IngestResult(doc.id, "unchanged", info.n_chunks)
                continue
            chunks = self.chunker.chunk(doc)
            todo.append((doc, chunks, info is not None))
        chunked = time.perf_counter()
        self.ingest_seconds["chunk"] += chunked - started
        if not todo:
            return [results[d.id] for d in docs]
        texts = [embedding_text(d.title, c.heading, c.text, self.embedder) for d, cs, _ in todo for c in cs]
        hashes = [embedding_key(self.embedder, t) for t in texts]
        vectors = self._embed_cached(texts, hashes)
        embedded = time.perf_counter()
        self.ingest_seconds["embed"] += embedded - chunked
        writes, offset = [], 0
        for doc, chunks, existed in todo:
            span = slice(offset, offset + len(chunks))
            writes.append(Write(doc, chunks, vectors[span], self.chunker_signature, hashes[span]))
            offset += len(chunks)
            results[doc.id] = IngestResult(doc.id, "updated" if existed else "added", len(chunks))
        self.store.write(writes)
        self.ingest_seconds["index"] += time.perf_counter() - embedded
        return [results[d.id] for d in docs]

    def _embed_cached(self, texts: list[str], hashes: list[str]) -> np.ndarray:
        """Vectors of ``texts``: the embedding cache (vectors already stored under the same
        hash of embedder and text) first, the model only for texts not seen before, once each."""
        lookup = getattr(self.store, "vectors_by_hash", None)
        known: dict[str, np.ndarray] = lookup(hashes) if lookup else {}
        todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
        if todo:
            fresh = self.embedder.embed(list(todo.values()))
            known.update(zip(todo, fresh, strict=True))
        self.embedded_texts += len(todo)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)

    def delete(self, doc_id: str) -> None:
        if not self.store.delete(doc_id):
            raise NotFound(f"no document with id {doc_id!r}; list ids with GET /v1/documents or `qa stats`")
        self.store.save()

    def get(self, doc_id: str) -> DocumentInfo:
        info = self.store.get(doc_id)
        if info is None:
            raise NotFound(f"no document with id {doc_id!r}; list ids with GET /v1/documents or `qa stats`")
        return info

    def list_documents(self, offset: int = 0, limit: int = 50) -> tuple[list[DocumentInfo], int]:
        if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= 1000:
            raise InvalidInput(f"offset must be 0..{MAX_OFFSET} and limit 1..1000, got offset={offset}, limit={limit}")
        return self.store.list_documents(offset, limit)

    # -- questions --------------------------------------------------------------------------

    def _check(self, question: str, k: int | None) -> tuple[str, int]:
        q = question.strip() if isinstance(question, str) else ""
        if not q:
            raise InvalidInput("question is empty: send a non-blank 'question'")
        if len(q) > self.settings.max_question_chars:
            raise TooLarge(
                f"question is {len(q)} characters, over the limit of {self.settings.max_question_chars} "
                "(QA_MAX_QUESTION_CHARS)"
            )
        k = self.settings.default_k if k is None else k
        if not 1 <= k <= self.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.settings.max_k} (QA_MAX_K), got {k}")
        return q, k

    def search(
        self,
        question: str,
        k: int | None = None,
        filters: Metadata | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
    ) -> list[Passage]:
        q, k = self._check(question, k)
        return self.retrieve(q, k, filters, mode, rerank=rerank)

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Metadata | None = None,
        mode: Mode | None = None,
        rerank: bool | None = None,
    ) -> Answer:
        q, k = self._check(question, k)
        vector = self.retriever.embed_query(q)
        passages = self.retrieve(q, k, filters, mode, vector, rerank)
        return self.answer(q, passages, vector)

    def answer(self, question: str, passages: list[Passage], vector: np.ndarray | None = None) -> Answer:
        """The best sentence of ``passages`` for ``question``, cited by its exact span.

        Passages count by their stored vectors' cosine with the question (where the store keeps
        vectors), so the answer does not depend on the scale of the retrieval mode's scores."""
        return self.answerer.answer(question, passages, vector, self.passage_vectors(passages))

    def passage_vectors(self, passages: list[Passage]) -> dict[int, np.ndarray] | None:
        """The stored vectors of ``passages``' chunks, where the store keeps them."""
        get = getattr(self.store, "vectors", None)
        return get([p.chunk_id for p in passages]) if get else None

    @cached_property
    def llm(self) -> OpenAICompatibleLLM | None:
        """The LLM that writes generated answers; None (extractive only) without QA_LLM_BASE_URL."""
        s = self.settings
        if not s.llm_base_url:
            return None
        return OpenAICompatibleLLM(
            s.llm_base_url, s.llm_model, s.llm_timeout, api_key=s.llm_api_key, max_tokens=s.llm_max_tokens
        )

    def generate_stream(
        self, question: str, passages: list[Passage], extractive: Answer
    ) -> Generator[str | Generated, None, None]:
        """The generated answer's text as the LLM writes it, then the checked ``Generated``
        (the extractive answer with a note when generation fails; see ``qa.generate``)."""
        if self.llm is None:
            yield Generated(extractive.answer, extractive.citations, generated=False)
            return
        yield from generate_stream(self.llm, question, passages, self.embedder, extractive)

    def generate(self, question: str, passages: list[Passage], extractive: Answer) -> Generated:
        return final(self.generate_stream(question, passages, extractive))

    def stats(self) -> dict[str, Any]:
        return {**self.store.stats(), "chunker": self.chunker_signature}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self.__dict__.get("llm") is not None:
            self.__dict__["llm"].close()


def _groups(items: Iterable[Document], n: int) -> Iterator[list[Document]]:
    group: list[Document] = []
    for item in items:
        group.append(item)
        if len(group) == n:
            yield group
            group = []
    if group:
        yield group
