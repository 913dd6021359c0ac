"""A LangChain retriever over a qa server: ``QARetriever`` (``pip install 'qa[langchain]'``).

::

    from qa.integrations.langchain import QARetriever

    retriever = QARetriever(base_url="http://127.0.0.1:8000", k=4)
    for doc in retriever.invoke("Who met in Paris?"):
        print(doc.metadata["doc_id"], doc.metadata["start"], doc.metadata["end"], doc.page_content)

Each ``Document`` is a passage: ``page_content`` is exactly the source document's text[start:end],
and ``metadata`` holds ``doc_id``, ``title``, ``start``, ``end``, ``page`` (PDFs; else None),
``score``, ``heading`` and the source document's own metadata under ``doc_metadata``. Errors are
``qa.client`` exceptions (e.g. ``BadRequestError`` for a bad ``k``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr

from qa.client import AsyncClient, Client, Passage

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # tested in a subprocess (tests/api/test_integrations.py)
    raise ImportError(
        "qa.integrations.langchain needs langchain-core, which qa does not install by default: "
        "pip install 'qa[langchain]'"
    ) from exc

__all__ = ["QARetriever", "to_document"]


def to_document(p: Passage) -> Document:
    """A passage as a LangChain ``Document`` with its citation offsets in the metadata."""
    metadata = {
        "doc_id": p.doc_id,
        "title": p.title,
        "start": p.start,
        "end": p.end,
        "page": p.page,
        "score": p.score,
        "heading": p.heading,
        "doc_metadata": p.metadata,
    }
    return Document(id=f"{p.doc_id}#{p.start}-{p.end}", page_content=p.text, metadata=metadata)


class QARetriever(BaseRetriever):
    """Passages of a qa server's index for a query (``POST /v1/search``), best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str = Field("http://127.0.0.1:8000", description="The qa server.")
    api_key: str | None = Field(None, repr=False, description="Sent as a Bearer token (QA_REQUIRE_KEY_FOR_READ).")
    k: int | None = Field(None, description="Passages to return (default: the server's QA_DEFAULT_K).")
    filters: dict[str, Any] | None = Field(None, description="Exact-match metadata filters, as for /v1/search.")
    mode: Literal["dense", "lexical", "hybrid"] | None = None
    rerank: bool | None = None
    max_per_doc: int | None = None
    timeout: float = 60.0
    collection: str | None = Field(None, description="The collection to search (default: the server's default).")

    _client: Client | None = PrivateAttr(default=None)

    def _options(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "filters": self.filters,
            "mode": self.mode,
            "rerank": self.rerank,
            "max_per_doc": self.max_per_doc,
        }

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        if self._client is None:
            self._client = Client(self.base_url, api_key=self.api_key, timeout=self.timeout, collection=self.collection)
        return [to_document(p) for p in self._client.search(query, **self._options())]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        # A client per call: an httpx.AsyncClient belongs to the event loop it was first used in.
        async with AsyncClient(
            self.base_url, api_key=self.api_key, timeout=self.timeout, collection=self.collection
        ) as client:
            return [to_document(p) for p in await client.search(query, **self._options())]
