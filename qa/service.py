"""The service: ingestion, search and answering over one index. The API and the CLI both use it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np

from qa.answer import ExtractiveAnswerer
from qa.chunk import Chunker, tiktoken_counter
from qa.config import Settings
from qa.embed import PREFIX_TOKENS, Embedder, SentenceTransformerEmbedder, embedding_text
from qa.errors import IndexMismatch, InvalidInput, NotFound, TooLarge
from qa.parse import normalize_text
from qa.retrieve import DenseRetriever, HybridRetriever, LexicalRetriever, Mode
from qa.store import DocumentInfo, Store, Write
from qa.store.embedded import EmbeddedStore
from qa.types import Answer, Document, Metadata, Passage

MAX_ID_CHARS = 512
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
        # Dimension for a new index when it is known without the model (`qa import` sets it).
        self.new_index_dim: int | None = None
        self.model_name = embedder.name if embedder else settings.model
        # Everything that shapes chunks and their vectors; a document indexed under another
        # signature is re-chunked even if its content is unchanged.
        self.chunker_signature = (
            f"v1:{settings.encoding}:{settings.chunk_tokens}:{settings.chunk_overlap}:{self.model_name}:{PREFIX_TOKENS}"
        )

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = SentenceTransformerEmbedder(
                    self.settings.model, batch_size=self.settings.embed_batch_size
                )
            embedder = self._embedder
        if self._store is not None and self._store.manifest.dim != embedder.dim:
            raise IndexMismatch(
                f"index {self.settings.index_location} holds {self._store.manifest.dim}-dim vectors but model "
                f"{self.model_name!r} makes {embedder.dim}-dim ones; use another QA_INDEX_NAME"
            )
        return embedder

    @property
    def store(self) -> Store:
        if self._store is None:
            if self.settings.store:
                self._open_postgres()
            else:
                path = self.settings.index_path
                # An existing index knows its dimension; only a new one needs the model to tell.
                dim = EmbeddedStore.stored_dim(path)
                if dim is None:
                    dim = self.new_index_dim or self.embedder.dim
                with self._lock:
                    if self._store is None:
                        self._store = EmbeddedStore(
                            path, model=self.model_name, dim=dim, lexical_tokenizer=self._fts_tokenizer()
                        )
        assert self._store is not None
        return self._store

    def _fts_tokenizer(self) -> str:
        base = "unicode61 remove_diacritics 2"
        return f"porter {base}" if self.settings.lexical_stemmer == "porter" else base

    def _open_postgres(self) -> None:
        # Imported here: the embedded default needs no Postgres driver.
        from qa.store.postgres import PostgresStore

        s = self.settings
        dim = PostgresStore.stored_dim(s.store, s.index_name)
        if dim is None:
            dim = self.new_index_dim or self.embedder.dim
        with self._lock:
            if self._store is None:
                self._store = PostgresStore(
                    s.store,
                    model=self.model_name,
                    dim=dim,
                    index_name=s.index_name,
                    ef_search=s.pg_ef_search,
                    pool_size=s.pg_pool_size,
                )

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
        self, question: str, k: int, filters: Metadata | None, mode: Mode | None, vector: np.ndarray | None = None
    ) -> list[Passage]:
        """Passages by the chosen mode; ``vector`` is the question's embedding when already known."""
        mode = mode or self.settings.retrieval_mode
        if mode == "lexical":
            return self.lexical.search(question, k, filters)
        if vector is None:
            vector = self.retriever.embed_query(question)
        if mode == "dense":
            return self.store.search(vector, k, filters)
        if mode == "hybrid":
            return self.hybrid.search_vector(question, vector, k, filters)
        raise InvalidInput(f"mode must be 'dense', 'lexical' or 'hybrid', got {mode!r}")

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(self.embedder, min_score=self.settings.min_answer_score)

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
            results += self._add_group([self.validate(d) for d in group])
            if progress:
                progress(len(group))
        self.store.save()
        return results

    def _add_group(self, docs: list[Document]) -> list[IngestResult]:
        results: dict[str, IngestResult] = {}
        todo = []
        # The same id twice in one write would race with itself: the last version wins.
        for doc in {d.id: d for d in docs}.values():
            info = self.store.get(doc.id)
            if info and info.content_hash == doc.content_hash and info.chunker == self.chunker_signature:
                results[doc.id] = IngestResult(doc.id, "unchanged", info.n_chunks)
                continue
            chunks = self.chunker.chunk(doc)
            todo.append((doc, chunks, info is not None))
        if not todo:
            return [results[d.id] for d in docs]
        texts = [embedding_text(d.title, c.heading, c.text, self.embedder) for d, cs, _ in todo for c in cs]
        vectors = self.embedder.embed(texts)
        writes, offset = [], 0
        for doc, chunks, existed in todo:
            writes.append(Write(doc, chunks, vectors[offset : offset + len(chunks)], self.chunker_signature))
            offset += len(chunks)
            results[doc.id] = IngestResult(doc.id, "updated" if existed else "added", len(chunks))
        self.store.write(writes)
        return [results[d.id] for d in docs]

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
        if offset < 0 or not 1 <= limit <= 1000:
            raise InvalidInput(f"offset must be >= 0 and limit 1..1000, got offset={offset}, limit={limit}")
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
        self, question: str, k: int | None = None, filters: Metadata | None = None, mode: Mode | None = None
    ) -> list[Passage]:
        q, k = self._check(question, k)
        return self.retrieve(q, k, filters, mode)

    def ask(
        self, question: str, k: int | None = None, filters: Metadata | None = None, mode: Mode | None = None
    ) -> Answer:
        q, k = self._check(question, k)
        vector = self.retriever.embed_query(q)
        passages = self.retrieve(q, k, filters, mode, vector)
        return self.answer(q, passages, vector)

    def answer(self, question: str, passages: list[Passage], vector: np.ndarray | None = None) -> Answer:
        """The best sentence of ``passages`` for ``question``, cited by its exact span.

        Passages count by their stored vectors' cosine with the question (where the store keeps
        vectors), so the answer does not depend on the scale of the retrieval mode's scores."""
        get = getattr(self.store, "vectors", None)
        vectors = get([p.chunk_id for p in passages]) if get else None
        return self.answerer.answer(question, passages, query_vector=vector, passage_vectors=vectors)

    def stats(self) -> dict[str, Any]:
        return {**self.store.stats(), "chunker": self.chunker_signature}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _groups(items: Iterable[Document], n: int) -> Iterator[list[Document]]:
    group: list[Document] = []
    for item in items:
        group.append(item)
        if len(group) == n:
            yield group
            group = []
    if group:
        yield group
