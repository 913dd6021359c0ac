"""The embedded store's FAISS index types (flat, HNSW, auto by size), memory-mapped loading,
HNSW tombstones, and the checksum: real FAISS and SQLite, random clustered unit vectors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa.service import QAService
from qa.store import Write
from qa.store.embedded import FAISS_FILE, FAISS_META, EmbeddedStore
from qa.store.embedded.faiss_index import IndexOptions, ids_of, kind_of
from qa.types import Chunk, Document

DIM = 32
CHUNKS_PER_DOC = 4


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    """Clustered unit vectors: neighbours exist, as with real embeddings."""
    centres = rng.normal(size=(max(2, n // 20), DIM))
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def doc_write(doc_id: str, vectors: np.ndarray, **meta: object) -> Write:
    words = [f"{doc_id}w{i}" for i in range(len(vectors))]
    text = " ".join(words)
    doc = Document(id=doc_id, text=text, title=doc_id, metadata=dict(meta))
    chunks, pos = [], 0
    for i, word in enumerate(words):
        chunks.append(Chunk(doc_id, i, pos, pos + len(word), word))
        pos += len(word) + 1
    return Write(doc, chunks, vectors, "test")


def fill(store: EmbeddedStore, rng: np.random.Generator, n_docs: int, first: int = 0) -> dict[str, np.ndarray]:
    """Write ``n_docs`` documents of CHUNKS_PER_DOC chunks; return their vectors by doc id."""
    vecs = unit(rng, n_docs * CHUNKS_PER_DOC)
    docs = {f"d{first + i:04d}": vecs[i * CHUNKS_PER_DOC : (i + 1) * CHUNKS_PER_DOC] for i in range(n_docs)}
    store.write([doc_write(d, v, group=int(d[1:]) % 5) for d, v in docs.items()])
    return docs


def opened(path: Path, **options: object) -> EmbeddedStore:
    return EmbeddedStore(path, model="m", dim=DIM, index_options=IndexOptions(**options))  # type: ignore[arg-type]


def finds_itself(store: EmbeddedStore, docs: dict[str, np.ndarray]) -> None:
    """Each chunk vector's best hit is that chunk (document and ordinal)."""
    for doc_id, vecs in docs.items():
        for ordinal, v in enumerate(vecs):
            top = store.search(v, 1)[0]
            assert (top.doc_id, top.ordinal) == (doc_id, ordinal)
            assert top.score == pytest.approx(1.0, abs=1e-5)


def test_auto_switches_to_hnsw_when_a_save_crosses_the_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    store = opened(tmp_path / "idx", hnsw_threshold=100)
    docs = fill(store, rng, 20)  # 80 chunks
    store.save()
    assert kind_of(store.index) == "flat" and json.loads((tmp_path / "idx" / FAISS_META).read_text())["index"] == "flat"
    docs |= fill(store, rng, 10, first=20)  # 120 chunks: past the threshold, but no switch mid-write
    assert kind_of(store.index) == "flat"
    finds_itself(store, docs)
    store.save()
    assert kind_of(store.index) == "hnsw" and store.stats()["vector_index"] == "hnsw"
    assert json.loads((tmp_path / "idx" / FAISS_META).read_text())["index"] == "hnsw"
    finds_itself(store, docs)
    store.close()
    # Reopened: the saved HNSW file is loaded, not rebuilt.
    again = opened(tmp_path / "idx", hnsw_threshold=100)
    assert kind_of(again.index) == "hnsw" and again.faiss_problem is None
    finds_itself(again, docs)
    assert again.verify() == []
    again.close()
    # Overridden: QA_FAISS_INDEX=flat rebuilds an exact index at open.
    flat = opened(tmp_path / "idx", kind="flat")
    assert kind_of(flat.index) == "flat" and flat.index.ntotal == 120
    finds_itself(flat, docs)
    flat.close()


def test_hnsw_delete_and_replace_leave_tombstones_that_searches_skip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = opened(tmp_path / "idx", kind="hnsw")
    docs = fill(store, rng, 50)  # 200 chunks
    store.save()
    gone, replaced = "d0003", "d0007"
    assert store.delete(gone)
    new_vecs = unit(rng, 2)
    store.write([doc_write(replaced, new_vecs, group=2)])  # 4 chunks replaced by 2
    assert store.tombstones and len(store.tombstones) == 8
    assert store.stats()["vectors"] == 200 - 4 - 4 + 2 == store.live_vectors
    assert store.verify() == []
    for v in [*docs[gone], *docs[replaced]]:
        hits = store.search(v, 10)
        assert len(hits) == 10 and all(h.doc_id != gone for h in hits)
        assert all(h.doc_id != replaced or h.text.startswith(replaced) for h in hits)
        assert all(h.chunk_id not in store.tombstones for h in hits)
    top = store.search(new_vecs[1], 1)[0]
    assert (top.doc_id, top.ordinal) == (replaced, 1)
    store.close()
    # Tombstones are saved with the file: a reopened store still skips them, without a rebuild.
    again = opened(tmp_path / "idx", kind="hnsw")
    assert again.faiss_problem is None and len(again.tombstones) == 8 and again.verify() == []
    assert all(h.doc_id != gone for v in docs[gone] for h in again.search(v, 10))
    del docs[gone], docs[replaced]
    finds_itself(again, docs)
    again.close()


def test_hnsw_filters_and_compaction(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    store = opened(tmp_path / "idx", kind="hnsw", ef_search=16)
    docs = fill(store, rng, 100)  # 400 chunks
    store.save()
    query = unit(rng, 1)[0]
    hits = store.search(query, 10, {"group": 3})
    assert len(hits) == 10 and {h.metadata["group"] for h in hits} == {3}
    # Exactly the best 10 of the group (a filter of 80 chunks: brute force is the reference).
    group = {d: v for d, v in docs.items() if int(d[1:]) % 5 == 3}
    scored = sorted(((float(v @ query), d, i) for d, vs in group.items() for i, v in enumerate(vs)), reverse=True)
    assert [(h.doc_id, h.ordinal) for h in hits] == [(d, i) for _, d, i in scored[:10]]
    # A filter that allows one document of 100 still finds all its chunks, even with efSearch 16.
    one = store.search(query, 10, {"doc_id": "d0042"})
    assert sorted(h.ordinal for h in one) == [0, 1, 2, 3]
    # Larger filters go through the graph with an IDSelector: approximate, but only matching chunks.
    store.options = IndexOptions(kind="hnsw", ef_search=64, exact_filter_max=0)
    graph = store.search(query, 10, {"group": 3})
    assert len(graph) == 10 and {h.metadata["group"] for h in graph} == {3}
    assert len({(h.doc_id, h.ordinal) for h in graph} & {(d, i) for _, d, i in scored[:10]}) >= 8
    # Deleting past TOMBSTONE_REBUILD_FRACTION (0.2) rebuilds the graph at the next save.
    for i in range(25):
        store.delete(f"d{i:04d}")
    assert len(store.tombstones) == 100
    assert all(int(h.doc_id[1:]) >= 25 for h in store.search(query, 20))
    store.save()
    assert store.tombstones == set() and store.index.ntotal == 300 and kind_of(store.index) == "hnsw"
    assert set(ids_of(store.index).tolist()) == {r[0] for r in store.db.execute("SELECT id FROM chunks")}
    finds_itself(store, {d: v for d, v in docs.items() if int(d[1:]) >= 25})
    store.close()


def test_hnsw_recall_against_exact_search(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    exact, approx = opened(tmp_path / "flat", kind="flat"), opened(tmp_path / "hnsw", kind="hnsw", ef_search=64)
    vecs = unit(rng, 3000)
    writes = [doc_write(f"d{i:04d}", vecs[i * 4 : (i + 1) * 4]) for i in range(750)]
    exact.write(writes)
    approx.write(writes)
    hits = 0
    queries = unit(rng, 100)
    for q in queries:
        want = {(h.doc_id, h.ordinal) for h in exact.search(q, 10)}
        hits += len(want & {(h.doc_id, h.ordinal) for h in approx.search(q, 10)})
    assert hits / (10 * len(queries)) >= 0.95
    exact.close()
    approx.close()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_mmap_load_then_write(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(4)
    store = opened(tmp_path / "idx", kind=kind)
    docs = fill(store, rng, 30)
    store.close()
    mapped = opened(tmp_path / "idx", kind=kind, mmap=True)
    assert mapped.stats()["mmap"] is True
    finds_itself(mapped, docs)
    # A write (replace: a removal and additions) copies the mapped index into memory first; FAISS
    # would abort the process if it had to grow a mapped one.
    docs |= fill(mapped, rng, 5, first=30)
    docs["d0001"] = unit(rng, 4)
    mapped.write([doc_write("d0001", docs["d0001"], group=1)])
    assert mapped.delete("d0002")
    del docs["d0002"]
    assert mapped.stats()["mmap"] is False and mapped.verify() == []
    finds_itself(mapped, docs)
    mapped.close()
    again = opened(tmp_path / "idx", kind=kind, mmap=True)
    assert again.stats()["mmap"] is True and again.faiss_problem is None
    finds_itself(again, docs)
    again.close()
    plain = opened(tmp_path / "idx", kind=kind, mmap=False)
    assert plain.stats()["mmap"] is False
    finds_itself(plain, docs)
    plain.close()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_checksum_catches_a_flipped_byte(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(5)
    store = opened(tmp_path / "idx", kind=kind)
    docs = fill(store, rng, 30)
    if kind == "hnsw":
        store.delete("d0004")  # a tombstone too
        del docs["d0004"]
    store.close()
    path = tmp_path / "idx" / FAISS_FILE
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # still parses: only the checksum can tell
    path.write_bytes(bytes(raw))
    again = opened(tmp_path / "idx", kind=kind, mmap=True)
    assert again.faiss_problem is not None and "checksum mismatch" in again.faiss_problem
    assert kind_of(again.index) == kind and again.verify() == [] and not again.tombstones
    finds_itself(again, docs)
    again.close()
    assert opened(tmp_path / "idx", kind=kind).faiss_problem is None


def test_service_with_hnsw_index(make_service: Callable[..., QAService]) -> None:
    svc = make_service(faiss_index="hnsw", faiss_ef_search=32)
    svc.add_documents(
        [
            Document(id="paris", text="Paris is the capital of France. The Seine flows through it."),
            Document(id="tokyo", text="Tokyo is the capital of Japan and its largest city."),
            Document(id="bees", text="Honey bees make honey from nectar and live in hives."),
        ]
    )
    assert svc.store.stats()["vector_index"] == "hnsw"
    assert svc.search("Which river flows through Paris?", k=1, mode="dense")[0].doc_id == "paris"
    svc.delete("paris")
    hits = svc.search("Which river flows through Paris?", k=3, mode="dense")
    assert hits and all(h.doc_id != "paris" for h in hits)


def test_a_stale_hnsw_file_is_caught_up_not_rebuilt(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    store = opened(tmp_path / "idx", kind="hnsw")
    docs = fill(store, rng, 30)
    store.delete("d0001")
    del docs["d0001"]
    store.save()
    docs |= fill(store, rng, 3, first=30)  # committed, FAISS file not saved: as if killed here
    store.delete("d0002")
    del docs["d0002"]
    store.db.close()
    again = opened(tmp_path / "idx", kind="hnsw")
    # A rebuild would have dropped the tombstones; catching up keeps them and adds the new ones.
    assert again.faiss_problem is None and len(again.tombstones) == 8
    assert (
        again.verify() == []
        and json.loads((tmp_path / "idx" / FAISS_META).read_text())["generation"] == again.generation
    )
    finds_itself(again, docs)
    again.close()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_another_writers_changes_are_caught_up(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(7)
    reader = opened(tmp_path / "idx", kind=kind)
    writer = opened(tmp_path / "idx", kind=kind)
    docs = fill(writer, rng, 20)
    writer.save()
    finds_itself(reader, docs)
    docs |= fill(writer, rng, 2, first=20)
    writer.delete("d0005")
    del docs["d0005"]
    finds_itself(reader, docs)  # the reader's next search catches up: adds 8 chunks, drops 4
    assert reader.verify() == [] and reader.live_vectors == 4 * len(docs)
    if kind == "hnsw":
        assert len(reader.tombstones) == 4
    # Both write between the other's sync and commit: each mirrors both writes.
    docs |= fill(reader, rng, 1, first=30)
    docs |= fill(writer, rng, 1, first=31)
    docs |= fill(reader, rng, 1, first=32)
    for s in (reader, writer):
        finds_itself(s, docs)
        assert s.verify() == []
    reader.close()
    writer.close()


def test_a_file_checksummed_with_sha256_by_an_earlier_version_is_still_checked(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    store = opened(tmp_path / "idx", kind="flat")
    docs = fill(store, rng, 10)
    store.close()
    meta_path, path = tmp_path / "idx" / FAISS_META, tmp_path / "idx" / FAISS_FILE
    meta = json.loads(meta_path.read_text())
    del meta["xxh3_128"]
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    whole = opened(tmp_path / "idx", kind="flat")
    assert whole.faiss_problem is None and whole.stats()["mmap"] is True
    whole.db.close()
    raw = bytearray(path.read_bytes())
    raw[-7] ^= 0x01
    path.write_bytes(bytes(raw))
    damaged = opened(tmp_path / "idx", kind="flat")
    assert damaged.faiss_problem is not None and "checksum mismatch" in damaged.faiss_problem
    finds_itself(damaged, docs)
    damaged.close()
    assert "xxh3_128" in json.loads(meta_path.read_text())  # the rebuilt file has today's checksum


def test_searches_from_any_thread_run_faiss_on_one_openmp_thread(tmp_path: Path) -> None:
    """OpenMP's thread count is per thread: a server's request thread starts at the core count,
    and a team of threads for one query vector cost 24 ms instead of 1.8 ms at SciFact scale."""
    import threading

    import faiss

    store = opened(tmp_path / "idx")
    docs = fill(store, np.random.default_rng(3), 20)
    seen: list[tuple[int, str]] = []

    def worker() -> None:
        faiss.omp_set_num_threads(2)  # as a fresh thread on a 2-core machine starts
        v = docs["d0003"][1]
        top = store.search(v, 1)[0]
        seen.append((faiss.omp_get_max_threads(), top.doc_id))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [(1, "d0003")]
    store.close()


def test_hnsw_access_filter_is_exact_and_follows_writes(tmp_path: Path) -> None:
    """An access filter (visible ids from tantivy's access field, cached per generation) scored
    exactly over the stored vectors, in blocks; new chunks and access changes are seen at once."""
    from qa.store.embedded import schema
    from qa.store.filters import Filters

    rng = np.random.default_rng(5)
    store = opened(tmp_path / "idx", kind="hnsw", ef_search=16)
    vecs = unit(rng, 1600)
    docs = {f"d{i:04d}": vecs[i * 4 : (i + 1) * 4] for i in range(400)}
    store.write([doc_write(d, v, access=[f"group:g{int(d[1:]) % 2}"]) for d, v in docs.items()])
    g0 = Filters(access=("group:g0",))

    def best(query: np.ndarray, visible: dict[str, np.ndarray], k: int) -> list[tuple[str, int]]:
        scored = sorted(((float(v @ query), d, i) for d, vs in visible.items() for i, v in enumerate(vs)), reverse=True)
        return [(d, i) for _, d, i in scored[:k]]

    with store.snapshot():
        assert np.array_equal(store.lexical.ids_with_access(["*", "group:g0"]), schema.filter_chunk_ids(store.db, g0))
    query = unit(rng, 1)[0]
    visible = {d: v for d, v in docs.items() if int(d[1:]) % 2 == 0}  # 800 chunks: two blocks
    hits = store.search(query, 10, g0)
    assert [(h.doc_id, h.ordinal) for h in hits] == best(query, visible, 10)
    # A new document of the group, and one opened to it: found by the next search.
    store.write([doc_write("new", query.reshape(1, -1), access=["group:g0"])])
    assert store.search(query, 1, g0)[0].doc_id == "new"
    assert store.set_access("d0001", ["group:g0"])
    visible |= {"d0001": docs["d0001"], "new": query.reshape(1, -1)}
    assert [(h.doc_id, h.ordinal) for h in store.search(query, 10, g0)] == best(query, visible, 10)
    store.close()


def test_visible_ids_come_from_sqlite_when_the_lexical_index_fails_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.store.embedded.lexical import LexicalDamaged
    from qa.store.filters import Filters

    store = opened(tmp_path / "idx", kind="hnsw")
    rng = np.random.default_rng(6)
    vecs = unit(rng, 40)
    store.write([doc_write(f"d{i}", vecs[i * 4 : (i + 1) * 4], access=[f"group:g{i % 2}"]) for i in range(10)])

    def damaged(_: object) -> None:
        raise LexicalDamaged("damaged")

    monkeypatch.setattr(store.lexical, "ids_with_access", damaged)
    hits = store.search(vecs[0], 5, Filters(access=("group:g0",)))
    assert len(hits) == 5 and {h.metadata["access"][0] for h in hits} == {"group:g0"}
    store.close()
