"""The embedding cache: re-ingesting a changed document embeds only the chunks whose text changed.

The real bundled model does the embedding, behind a wrapper that records every text it is given.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.embed import Embedder, embedding_text
from qa.service import QAService
from qa.types import Document

from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)


class CountingEmbedder:
    """Passes everything to a real embedder and records the texts it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.backend = getattr(inner, "backend", "")
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += list(texts)
        return self.inner.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def truncate(self, text: str, max_tokens: int) -> str:
        return self.inner.truncate(text, max_tokens)


def chunk_texts(svc: QAService, doc: Document) -> list[str]:
    return [embedding_text(doc.title, c.heading, c.text, svc.embedder) for c in svc.chunker.chunk(doc)]


def make(tmp_path: Path, counting: CountingEmbedder, name: str = "cache") -> QAService:
    from qa.config import Settings

    # Small chunks, so the seed article makes many of them.
    settings = Settings(index_dir=tmp_path / "index", index_name=name, chunk_tokens=64, chunk_overlap=16)
    return QAService(settings, embedder=counting)


def test_reingest_changed_document_embeds_only_changed_chunks(
    tmp_path: Path, embedder: Embedder, seed_article: Path
) -> None:
    counting = CountingEmbedder(embedder)
    svc = make(tmp_path, counting)
    text = seed_article.read_text(encoding="utf-8")
    doc = Document(id="paris", text=text, title="Talks in Paris")
    svc.add_documents([doc])
    before = chunk_texts(svc, doc)
    assert len(before) >= 8, "the test needs a document of many chunks"
    assert sorted(counting.texts) == sorted(set(before))

    # Edit one paragraph: a new last sentence in the fourth one.
    paragraphs = text.split("\n\n")
    paragraphs[3] = paragraphs[3].rstrip() + " The delegations also agreed to meet again in Geneva in the spring."
    edited = Document(id="paris", text="\n\n".join(paragraphs), title="Talks in Paris")
    after = chunk_texts(svc, edited)
    changed = set(after) - set(before)

    counting.texts.clear()
    (result,) = svc.add_documents([edited])
    assert result.status == "updated" and result.chunks == len(after)
    assert sorted(counting.texts) == sorted(changed), "only the chunks whose text changed are embedded"
    assert 1 <= len(changed) <= len(after) // 2

    # Stored vectors are right: reused ones equal a fresh embedding of their text, and search finds the edit.
    chunks, vecs = svc.store.document_chunks("paris")  # type: ignore[attr-defined]
    fresh = embedder.embed(after)
    assert len(chunks) == len(after)
    assert np.min(np.sum(vecs * fresh, axis=1)) > 0.9999
    hits = svc.search("Where will the delegations meet again?", k=1, mode="dense")
    assert "Geneva" in hits[0].text
    hits = svc.search("Who met in Paris?", k=3, mode="dense")
    assert any("Dermer" in h.text for h in hits)

    # The same text under another id embeds nothing: the cache is keyed by text, not by document.
    counting.texts.clear()
    svc.add_documents([Document(id="paris-copy", text=edited.text, title=edited.title)])
    assert counting.texts == []
    assert svc.stats()["chunks"] == 2 * len(after)


def test_index_from_before_the_cache_is_migrated(tmp_path: Path, embedder: Embedder, seed_article: Path) -> None:
    text = seed_article.read_text(encoding="utf-8")
    doc = Document(id="paris", text=text, title="Talks in Paris")
    counting = CountingEmbedder(embedder)
    svc = make(tmp_path, counting, name="old")
    svc.add_documents([doc])
    svc.close()
    # Make it an index of the old format: no text_hash column.
    db = sqlite3.connect(tmp_path / "index" / "old" / "qa.sqlite")
    db.execute("DROP INDEX chunks_text_hash")
    db.execute("ALTER TABLE chunks DROP COLUMN text_hash")
    db.commit()
    db.close()

    svc = make(tmp_path, counting, name="old")
    assert svc.search("Who met in Paris?", k=1, mode="dense"), "the old index still searches"
    edited = Document(id="paris", text=text + "\n\nA closing note on Geneva.", title="Talks in Paris")
    counting.texts.clear()
    svc.add_documents([edited])
    assert sorted(counting.texts) == sorted(set(chunk_texts(svc, edited))), "old chunks have no hash: all embed"
    counting.texts.clear()
    svc.add_documents([Document(id="paris", text=text, title="Talks in Paris")])
    assert len(counting.texts) < len(chunk_texts(svc, doc)), "after one write, the cache works"
    svc.close()


@pytest.mark.postgres
def test_postgres_store_reuses_vectors_too(tmp_path: Path, pg_url: str, embedder: Embedder, seed_article: Path) -> None:
    from qa.config import Settings

    counting = CountingEmbedder(embedder)
    settings = Settings(index_dir=tmp_path / "index", store=pg_url, chunk_tokens=64, chunk_overlap=16)
    svc = QAService(settings, embedder=counting)
    try:
        text = seed_article.read_text(encoding="utf-8")
        svc.add_documents([Document(id="paris", text=text, title="Talks in Paris")])
        edited = Document(id="paris", text=text.replace("Paris", "Paris, France", 1), title="Talks in Paris")
        changed = set(chunk_texts(svc, edited)) - set(chunk_texts(svc, Document(id="p", text=text, title=edited.title)))
        counting.texts.clear()
        svc.add_documents([edited])
        assert sorted(counting.texts) == sorted(changed) and 1 <= len(changed) <= 3
        hits = svc.search("Who met in Paris?", k=3, mode="dense")
        assert any("Dermer" in h.text for h in hits)
    finally:
        svc.close()
