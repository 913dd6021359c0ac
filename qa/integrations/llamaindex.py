"""A LlamaIndex retriever over a qa server: ``QARetriever`` (``pip install 'qa[llamaindex]'``).

::

    from qa.integrations.llamaindex import QARetriever

    retriever = QARetriever(base_url="http://127.0.0.1:8000", k=4)
    for hit in retriever.retrieve("Who met in Paris?"):
        print(hit.score, hit.node.metadata["doc_id"], hit.node.start_char_idx, hit.node.end_char_idx)

Each ``NodeWithScore`` is a passage: its ``TextNode``'s text is exactly the source document's
text[start:end], ``start_char_idx``/``end_char_idx`` are those offsets, its source relationship
names the document, and ``metadata`` holds ``doc_id``, ``title``, ``start``, ``end``, ``page``
(PDFs; else None), ``score``, ``heading`` and the document's own metadata under ``doc_metadata``
(the offsets and score are kept out of what an LLM or embedder reads). Errors are ``qa.client``
exceptions.
"""

from __future__ import annotations

from typing import Any, Literal

from qa.client import AsyncClient, Client, Passage

try:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode
except ImportError as exc:  # tested in a subprocess (tests/api/test_integrations.py)
    raise ImportError(
        "qa.integrations.llamaindex needs llama-index-core, which qa does not install by default: "
        "pip install 'qa[llamaindex]'"
    ) from exc

__all__ = ["QARetriever", "to_node"]

# Metadata for the application, not for the text an LLM or an embedder reads.
HIDDEN = ["start", "end", "score", "doc_metadata"]


def to_node(p: Passage) -> NodeWithScore:
    """A passage as a scored ``TextNode`` carrying its citation offsets."""
    node = TextNode(
        id_=f"{p.doc_id}#{p.start}-{p.end}",
        text=p.text,
        start_char_idx=p.start,
        end_char_idx=p.end,
        metadata={
            "doc_id": p.doc_id,
            "title": p.title,
            "start": p.start,
            "end": p.end,
            "page": p.page,
            "score": p.score,
            "heading": p.heading,
            "doc_metadata": p.metadata,
        },
        excluded_llm_metadata_keys=HIDDEN,
        excluded_embed_metadata_keys=HIDDEN,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=p.doc_id)},
    )
    return NodeWithScore(node=node, score=p.score)


class QARetriever(BaseRetriever):
    """Passages of a qa server's index for a query (``POST /v1/search``), best first.

    Args:
        base_url: the qa server.
        api_key: sent as a Bearer token (needed when the server has QA_REQUIRE_KEY_FOR_READ).
        k, filters, mode, rerank, max_per_doc: as for ``/v1/search`` (None: the server's default).
        collection: the collection to search (None: the server's default collection).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
        mode: Literal["dense", "lexical", "hybrid"] | None = None,
        rerank: bool | None = None,
        max_per_doc: int | None = None,
        timeout: float = 60.0,
        collection: str | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.base_url, self._api_key, self.timeout = base_url, api_key, timeout
        self.collection = collection
        self.options: dict[str, Any] = {
            "k": k,
            "filters": filters,
            "mode": mode,
            "rerank": rerank,
            "max_per_doc": max_per_doc,
        }
        self._client: Client | None = None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self._client is None:
            self._client = Client(
                self.base_url, api_key=self._api_key, timeout=self.timeout, collection=self.collection
            )
        return [to_node(p) for p in self._client.search(query_bundle.query_str, **self.options)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # A client per call: an httpx.AsyncClient belongs to the event loop it was first used in.
        async with AsyncClient(
            self.base_url, api_key=self._api_key, timeout=self.timeout, collection=self.collection
        ) as client:
            return [to_node(p) for p in await client.search(query_bundle.query_str, **self.options)]
