"""The LangChain and LlamaIndex retrievers (``qa.integrations``) with the real libraries, against
a real uvicorn server: passages with their citation offsets in the metadata, sync and async."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import anyio
import pytest
from langchain_core.documents import Document
from llama_index.core.schema import MetadataMode, NodeRelationship, QueryBundle

from qa.client import BadRequestError, Client
from qa.config import Settings
from qa.embed import Embedder
from qa.integrations import langchain, llamaindex
from qa.service import QAService
from qa.sync import SyncOptions

from ..conftest import EXAMPLES
from ..live_server import live_server

KEY = "integrations-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """The sample documents behind a live server that needs a key for reads too."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("integrations"), api_keys=KEY, require_key_for_read=True)
    svc = QAService(settings, embedder=embedder)
    svc.index_paths([EXAMPLES], options=SyncOptions(source="examples"))
    with live_server(svc) as base:
        yield base
    svc.close()


@pytest.fixture(scope="module")
def texts(server: str) -> dict[str, str]:
    with Client(server, api_key=KEY) as c:
        return {d.id: c.get_document(d.id, include_text=True).text or "" for d in c.iter_documents()}


def test_langchain_retriever(server: str, texts: dict[str, str]) -> None:
    retriever = langchain.QARetriever(base_url=server, api_key=KEY, k=3)
    docs = retriever.invoke("Who met in Paris?")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0].metadata
    assert top["doc_id"] == "examples/paris-talks.md" and top["title"].startswith("Syrian and Israeli")
    assert set(top) >= {"doc_id", "title", "start", "end", "page", "score"} and top["page"] is None
    for d in docs:
        assert texts[d.metadata["doc_id"]][d.metadata["start"] : d.metadata["end"]] == d.page_content
    assert KEY not in repr(retriever)

    filtered = langchain.QARetriever(base_url=server, api_key=KEY, filters={"doc_id": "examples/bread-baking.txt"}, k=2)
    assert {d.metadata["doc_id"] for d in filtered.invoke("Who met in Paris?")} == {"examples/bread-baking.txt"}
    async_docs = anyio.run(retriever.ainvoke, "Who met in Paris?")
    assert [d.metadata for d in async_docs] == [d.metadata for d in docs]

    with pytest.raises(BadRequestError, match="k must be between"):
        langchain.QARetriever(base_url=server, api_key=KEY, k=1000).invoke("x")


def test_llamaindex_retriever(server: str, texts: dict[str, str]) -> None:
    retriever = llamaindex.QARetriever(server, api_key=KEY, k=3)
    hits = retriever.retrieve("Who met in Paris?")
    assert len(hits) == 3 and hits[0].node.metadata["doc_id"] == "examples/paris-talks.md"
    for hit in hits:
        node, meta = hit.node, hit.node.metadata
        assert hit.score == meta["score"] and (node.start_char_idx, node.end_char_idx) == (meta["start"], meta["end"])
        assert texts[meta["doc_id"]][meta["start"] : meta["end"]] == node.get_content()
        assert node.relationships[NodeRelationship.SOURCE].node_id == meta["doc_id"]
    # What an LLM reads: the title and the text, not the offsets.
    llm_text = hits[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "examples/paris-talks.md" in llm_text and "start:" not in llm_text

    async_hits = anyio.run(retriever.aretrieve, QueryBundle("Who met in Paris?"))
    assert [h.node.node_id for h in async_hits] == [h.node.node_id for h in hits]

    solar = "examples/solar-system.html"
    lexical = llamaindex.QARetriever(server, api_key=KEY, mode="lexical", filters={"doc_id": solar})
    assert {h.node.metadata["doc_id"] for h in lexical.retrieve("planets orbit the sun")} == {solar}


def test_retrievers_search_their_collection(server: str) -> None:
    with Client(server, api_key=KEY) as admin:
        admin.create_collection("kitchen")
        with Client(server, api_key=KEY, collection="kitchen") as kitchen:
            kitchen.add_document("Knives stay sharp when honed before each use.", id="knives")
    try:
        docs = langchain.QARetriever(base_url=server, api_key=KEY, collection="kitchen").invoke("sharp knives")
        assert [d.metadata["doc_id"] for d in docs] == ["knives"]
        hits = llamaindex.QARetriever(server, api_key=KEY, collection="kitchen").retrieve("sharp knives")
        assert [h.node.metadata["doc_id"] for h in hits] == ["knives"]
        default = langchain.QARetriever(base_url=server, api_key=KEY, k=5).invoke("sharp knives")
        assert "knives" not in [d.metadata["doc_id"] for d in default]
    finally:
        with Client(server, api_key=KEY) as admin:
            admin.delete_collection("kitchen")


@pytest.mark.parametrize(
    ("module", "library", "extra"),
    [("langchain", "langchain_core", "langchain"), ("llamaindex", "llama_index", "llamaindex")],
)
def test_a_missing_library_gives_the_install_hint(module: str, library: str, extra: str) -> None:
    code = f"import sys; sys.modules[{library!r}] = None; import qa.integrations.{module}"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and f"pip install 'qa[{extra}]'" in r.stderr
