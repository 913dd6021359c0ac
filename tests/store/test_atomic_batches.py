"""One ``add_documents`` call (one API request, one file) is all or nothing, in both stores: an
invalid document anywhere refuses the whole call before anything is written, and a store write
that fails part-way leaves none of its documents (one transaction, not one per group)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import InvalidInput
from qa.ingest import EMBED_GROUP_DOCS, Ingestor, chunker_signature, make_chunker
from qa.store import Store, Write
from qa.types import Chunk, Document

from ..fakes import HashEmbedder
from .test_store_contract import open_store, pg_url_fixture  # noqa: F401  (the store fixtures)

EMB = HashEmbedder(dim=8)


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:  # noqa: F811  (the contract tests' fixture)
    return open_store()


def ingestor(store: Store) -> Ingestor:
    settings = Settings(chunk_tokens=24, chunk_overlap=4)
    chunker = make_chunker(settings, EMB)  # type: ignore[arg-type]
    sig = chunker_signature(settings, EMB.name, "torch")
    return Ingestor(store, lambda: EMB, lambda: chunker, sig, settings.max_document_bytes)  # type: ignore[arg-type,return-value]


def docs(n: int, tag: str = "v1") -> list[Document]:
    return [
        Document(id=f"d{i}", title=f"D{i}", text=" ".join(f"Doc {i} {tag} sentence {j}." for j in range(20)))
        for i in range(n)
    ]


def stored(store: Store) -> dict[str, str | None]:
    infos, _ = store.list_documents(0, 1000)
    return {i.id: store.get_text(i.id) for i in infos}


def test_forty_documents_with_the_last_invalid_store_nothing(store: Store) -> None:
    batch = docs(40)
    batch[-1] = Document(id="d39", title="", text="   ")  # no text: invalid
    assert len(batch) > EMBED_GROUP_DOCS  # more than one embedding round
    with pytest.raises(InvalidInput, match="has no text"):
        ingestor(store).add_documents(batch)
    assert stored(store) == {} and store.counts()["chunks"] == 0


def test_a_failed_batch_leaves_the_previous_versions(store: Store) -> None:
    ing = ingestor(store)
    assert {r.status for r in ing.add_documents(docs(5))} == {"added"}
    before = stored(store)
    batch = docs(40, tag="v2") + [Document(id="", text="no id")]
    with pytest.raises(InvalidInput):
        ing.add_documents(batch)
    assert stored(store) == before


def test_store_write_failing_part_way_writes_none_of_the_batch(store: Store) -> None:
    """``Store.write`` is one transaction: the 40th document failing inside it undoes the 39 before."""
    writes = []
    for i in range(40):
        meta: dict[str, object] = {"n": i} if i < 39 else {"bad": object()}  # not JSON: fails inside the write
        doc = Document(id=f"w{i}", text="text of it", metadata=meta)  # type: ignore[arg-type]
        vec = np.zeros((1, 8), dtype=np.float32)
        vec[0, i % 8] = 1.0
        writes.append(Write(doc, [Chunk(doc.id, 0, 0, 4, "text", None)], vec, "sig"))
    with pytest.raises(TypeError):
        store.write(writes)
    assert stored(store) == {} and store.counts()["chunks"] == 0
    # Still writable, and searchable, afterwards.
    store.write(writes[:2])
    assert set(stored(store)) == {"w0", "w1"}
    assert {p.doc_id for p in store.search(writes[1].vectors[0], 1)} == {"w1"}
