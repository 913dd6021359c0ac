"""Retrieval: a question in, ranked passages out.

A retriever implements ``search``; the dense retriever embeds the question and asks the
store for its nearest chunks. Lexical retrieval and fusion plug in behind the same protocol.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from qa.embed import Embedder
from qa.store import Store
from qa.types import Metadata, Passage


class Retriever(Protocol):
    def search(self, question: str, k: int, filters: Metadata | None = None) -> list[Passage]: ...


class DenseRetriever:
    """Nearest chunks by cosine similarity of normalized embeddings."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def embed_query(self, question: str) -> np.ndarray:
        return self.embedder.embed([question])[0]

    def search(self, question: str, k: int, filters: Metadata | None = None) -> list[Passage]:
        return self.store.search(self.embed_query(question), k, filters)
