"""The store contract: the same assertions against the embedded store and the postgres store.

Every method of the ``Store`` protocol (qa/store/__init__.py) is exercised here on both backends.
The postgres cases run on a real PostgreSQL with pgvector (tests/pg.py), one fresh database per
test. Backend-specific behaviour stays with the backend: FAISS, tantivy, repair and locking in
tests/test_store.py, test_faiss_index.py, test_lexical.py, test_repair.py and
test_store_concurrency.py; schema and migrations in tests/test_postgres_store.py.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexMismatch, InvalidInput
from qa.store import FileRecord, Store, Write
from qa.store.embedded import EmbeddedStore
from qa.store.postgres import PostgresStore
from qa.store.transfer import export_index, import_index
from qa.types import Chunk, Document

from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

DIM = 8
Opener = Callable[..., Store]


def vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for h in hot:
        v[h] = 1.0
    return v / np.linalg.norm(v)


def words(doc_id: str, text: str, hots: list[int], title: str | None = None, **meta: object) -> Write:
    """One chunk per whitespace-separated word of text, each with a one-hot vector."""
    doc = Document(id=doc_id, text=text, title=doc_id.upper() if title is None else title, metadata=dict(meta))
    chunks, pos = [], 0
    for i, word in enumerate(text.split()):
        start = text.index(word, pos)
        pos = start + len(word)
        chunks.append(Chunk(doc_id, i, start, pos, word))
    vectors = np.stack([vec(h) for h in hots[: len(chunks)]]) if chunks else np.zeros((0, DIM), np.float32)
    return Write(doc, chunks, vectors, "test")


def write_doc(store: Store, doc_id: str, text: str, hots: list[int], **meta: object) -> None:
    store.write([words(doc_id, text, hots, **meta)])


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Open (or reopen) one index location in the backend under test; closes everything after."""
    opened: list[Store] = []
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")

        def make(model: str = "m", dim: int = DIM, name: str = "default") -> Store:
            s = PostgresStore(url, model=model, dim=dim, index_name=name, pool_size=4)
            opened.append(s)
            return s
    else:

        def make(model: str = "m", dim: int = DIM, name: str = "default") -> Store:
            s = EmbeddedStore(tmp_path / name, model=model, dim=dim)
            opened.append(s)
            return s

    yield make
    for s in opened:
        try:
            s.close()
        except Exception:
            pass


@pytest.fixture
def store(open_store: Opener) -> Store:
    return open_store()


def test_search_returns_exact_spans_and_metadata(store: Store) -> None:
    write_doc(store, "a", "alpha beta", [0, 1], topic="x")
    write_doc(store, "b", "gamma", [2], topic="y")
    hits = store.search(vec(1), k=3)
    assert [h.doc_id for h in hits][:1] == ["a"] and len(hits) == 3
    top = hits[0]
    assert top.text == "beta" and (top.start, top.end) == (6, 10) and top.title == "A"
    assert top.metadata == {"topic": "x"} and top.score == pytest.approx(1.0)
    assert top.ordinal == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_spans_count_characters_not_bytes(store: Store) -> None:
    text = "héllo 🍞🍞 日本語 naïve"
    write_doc(store, "u", text, [0, 1, 2, 3])
    full = store.get_text("u")
    assert full == text
    for i in range(4):
        (hit,) = store.search(vec(i), 1)
        assert hit.text == text[hit.start : hit.end] == text.split()[i]


def test_filters_match_exact_metadata_values(store: Store) -> None:
    write_doc(store, "a", "alpha", [0], topic="x", year=2020, draft=True)
    write_doc(store, "b", "beta", [0], topic="y", year=2021, draft=False)
    write_doc(store, "c", "gamma", [0], topic=["x", "y"], year="2020")
    assert [h.doc_id for h in store.search(vec(0), 5, {"topic": "y"})] == ["b"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"year": 2020})] == ["a"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"year": "2020"})] == ["c"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"draft": False})] == ["b"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"topic": "x", "draft": True})] == ["a"]
    assert sorted(h.doc_id for h in store.search(vec(0), 5, {"doc_id": ["a", "c"]})) == ["a", "c"]
    assert [h.doc_id for h in store.search(vec(0), 5, {"doc_id": "b"})] == ["b"]
    assert store.search(vec(0), 5, {"topic": "nope"}) == []
    with pytest.raises(InvalidInput, match="not a valid metadata field"):
        store.search(vec(0), 5, {"bad'field": "x"})
    with pytest.raises(InvalidInput, match="must be a string, number or boolean"):
        store.search(vec(0), 5, {"topic": {"nested": 1}})


def test_filtered_search_finds_rare_matches_among_many(store: Store) -> None:
    """A filter that only a few far-away chunks pass still returns them (no empty HNSW page)."""
    rng = np.random.default_rng(0)
    writes = []
    for i in range(300):
        w = words(f"bulk{i:03d}", "filler", [0], kind="bulk")
        writes.append(Write(w.doc, w.chunks, np.asarray([vec(0)]), "test"))
    far = rng.normal(size=(3, DIM)).astype(np.float32)
    far[:, 0] = -5  # pointing away from the query
    far /= np.linalg.norm(far, axis=1, keepdims=True)
    for i in range(3):
        w = words(f"rare{i}", "needle", [1], kind="rare")
        writes.append(Write(w.doc, w.chunks, far[i : i + 1], "test"))
    store.write(writes)
    hits = store.search(vec(0), 5, {"kind": "rare"})
    assert sorted(h.doc_id for h in hits) == ["rare0", "rare1", "rare2"]
    assert len(store.search(vec(0), 50)) == 50


def test_lexical_search_matches_stemmed_terms_and_honours_filters(store: Store) -> None:
    lex = store
    store.write(
        [
            words("dogs", "running dogs bark loudly", [0, 1, 2, 3], title="Dogs", topic="pets"),
            words("cats", "cats sleep all day", [4, 5, 6, 7], title="Felines", topic="pets"),
            words("race", "the runner runs fast", [0, 1, 2, 3], title="Race", topic="sport"),
        ]
    )
    hits = lex.lexical_search(["run"], 10)
    assert {h.doc_id for h in hits} == {"dogs", "race"}
    assert all(h.text == store.get_text(h.doc_id)[h.start : h.end] for h in hits)  # type: ignore[index]
    assert [h.doc_id for h in lex.lexical_search(["run"], 10, {"topic": "sport"})] == ["race"]
    assert [h.text for h in lex.lexical_search(["sleep"], 10)] == ["sleep"]
    assert [h.doc_id for h in lex.lexical_search(["sleep", "bark"], 10, {"doc_id": "cats"})] == ["cats"]
    assert {h.doc_id for h in lex.lexical_search(["felines"], 10)} == {"cats"}  # title words count too
    assert lex.lexical_search([], 10) == [] and lex.lexical_search(["zebra"], 10) == []
    assert lex.lexical_search(["it's", "a|b", "(x)", "\\"], 5) == []  # never parsed as query syntax
    store.delete("dogs")
    assert {h.doc_id for h in lex.lexical_search(["run"], 10)} == {"race"}


def test_exact_tokens_rank_the_token_as_written_first(store: Store) -> None:
    def one(doc_id: str, text: str, hot: int) -> Write:
        return Write(
            Document(id=doc_id, text=text, title="arcs"),
            [Chunk(doc_id, 0, 0, len(text), text)],
            np.asarray([vec(hot)]),
            "test",
        )

    store.write(
        [
            one("verbose", "-v, --verbose: print every file name as it is processed", 0),
            one("version", "-V, --version: print the version number and exit", 1),
            one("day", "%d is the day of the month, from 01 to 31", 2),
            one("date", "%D is the whole date as month/day/year", 3),
            one("noise", "a v and a d, both letters in lower case", 4),
        ]
    )

    def ranked(terms: list[str], exact: list[str], filters: dict[str, object] | None = None) -> list[str]:
        hits = store.lexical_search(terms, 5, filters, exact)
        assert [(h.chunk_id, h.score) for h in hits] == store.lexical_hits(terms, 5, filters, exact)
        return [h.doc_id for h in hits]

    assert {"verbose", "version", "noise"} <= set(ranked(["v"], []))  # one word in lower case
    assert ranked(["v"], ["-V"])[0] == "version" and ranked(["v"], ["-v"])[0] == "verbose"
    assert ranked(["d"], ["%D"])[0] == "date" and ranked(["d"], ["%d"])[0] == "day"
    assert ranked(["v", "print"], ["-V"], {"doc_id": ["verbose", "noise"]})[0] == "verbose"  # filters hold
    assert set(ranked(["v"], ["-Vx", "x-V"])) == set(ranked(["v"], []))  # whole tokens only


def test_stored_vectors_round_trip(store: Store) -> None:
    write_doc(store, "a", "alpha beta", [0, 3])
    ids = sorted(h.chunk_id for h in store.search(vec(0), 2))
    got = store.vectors(ids)
    assert sorted(got) == ids
    assert sorted(int(np.argmax(v)) for v in got.values()) == [0, 3]


def test_replace_and_delete_leave_nothing_behind(store: Store) -> None:
    write_doc(store, "a", "one two three", [0, 1, 2])
    created = store.get("a")
    write_doc(store, "a", "four", [3])
    info = store.get("a")
    assert info and created and info.n_chunks == 1 and info.chars == 4
    assert info.created_at == created.created_at and info.updated_at >= created.updated_at
    stats = store.stats()
    assert stats["chunks"] == 1 and stats["vectors"] == 1 and stats["documents"] == 1
    assert [h.text for h in store.search(vec(0), 5)] == ["four"]
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert store.search(vec(3), 5) == [] and store.get("a") is None and store.get_text("a") is None
    stats = store.stats()
    assert stats["chunks"] == 0 and stats["vectors"] == 0 and stats["documents"] == 0


def test_a_failed_write_changes_nothing(store: Store) -> None:
    write_doc(store, "a", "alpha", [0])
    good = words("b", "beta", [1])
    bad = words("c", "gamma delta", [2, 3])
    # Two chunks with the same ordinal: the database refuses the second, after "b" was written.
    dup = Write(bad.doc, [bad.chunks[0], Chunk("c", 0, 6, 11, "delta")], bad.vectors, "test")
    with pytest.raises(Exception):  # noqa: B017  (sqlite3 or psycopg integrity error)
        store.write([words("a", "replaced", [5]), good, dup])
    assert store.get("b") is None and store.get("c") is None
    assert store.get_text("a") == "alpha" and [h.doc_id for h in store.search(vec(1), 5)] == ["a"]
    with pytest.raises(InvalidInput, match="does not match"):
        store.write([Write(good.doc, good.chunks, np.zeros((2, DIM), np.float32), "test")])
    assert store.stats()["documents"] == 1


def test_a_document_without_chunks_is_stored(store: Store) -> None:
    store.write([words("empty", "", [])])
    info = store.get("empty")
    assert info and info.n_chunks == 0 and store.search(vec(0), 5) == []


def test_reopen_gives_same_results(open_store: Opener) -> None:
    s1 = open_store()
    write_doc(s1, "a", "alpha beta", [0, 1])
    write_doc(s1, "b", "gamma delta", [2, 3])
    before = [(h.chunk_id, h.score) for h in s1.search(vec(1, 2), 4)]
    s1.close()
    s2 = open_store()
    assert [(h.chunk_id, h.score) for h in s2.search(vec(1, 2), 4)] == before


def test_other_instances_see_writes_at_once(open_store: Opener) -> None:
    reader, writer = open_store(), open_store()
    write_doc(writer, "a", "alpha", [0])
    assert [h.doc_id for h in reader.search(vec(0), 1)] == ["a"]
    assert reader.get("a") is not None
    writer.delete("a")
    assert reader.search(vec(0), 1) == [] and reader.get("a") is None


def test_concurrent_writers_of_the_same_documents_never_duplicate_chunks(open_store: Opener) -> None:
    stores = [open_store(), open_store()]
    errors: list[BaseException] = []

    def run(s: Store, seed: int) -> None:
        try:
            for i in range(15):
                # Both writers replace the same two documents, in opposite orders.
                batch = [words("p", "one two three", [seed, 1, 2]), words("q", "four five", [3, seed])]
                s.write(batch if (i + seed) % 2 else batch[::-1])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stats = stores[0].stats()
    assert stats["documents"] == 2 and stats["chunks"] == 5
    assert len(stores[1].search(vec(1), 10)) == 5


def test_opening_with_another_model_is_a_clear_error(open_store: Opener) -> None:
    open_store().close()
    with pytest.raises(IndexMismatch, match="built with model 'm'"):
        open_store(model="other")
    with pytest.raises(IndexMismatch, match="dim 8"):
        open_store(dim=16)
    # Another index name is another index, with its own manifest.
    assert open_store(model="other", dim=16, name="second").manifest.dim == 16


def test_list_pages_in_id_order(store: Store) -> None:
    for i in range(5):
        write_doc(store, f"d{i}", "word", [i], n=i)
    page, total = store.list_documents(offset=1, limit=2)
    assert total == 5 and [d.id for d in page] == ["d1", "d2"]
    assert page[0].n_chunks == 1 and page[0].chars == 4 and page[0].metadata == {"n": 1}
    assert page[0].title == "D1" and page[0].chunker == "test" and page[0].content_hash


def test_stats_name_the_store(store: Store) -> None:
    write_doc(store, "a", "alpha beta", [0, 1])
    stats = store.stats()
    assert stats["store"] in {"embedded", "postgres"}
    assert (stats["documents"], stats["chars"], stats["chunks"], stats["model"], stats["dim"]) == (1, 10, 2, "m", DIM)
    assert stats["bytes_on_disk"] > 0


# -- hits, passages and snapshots ---------------------------------------------------------------


def corpus(store: Store) -> None:
    store.write(
        [
            words("dogs", "running dogs bark loudly", [0, 1, 2, 3], title="Dogs", topic="pets"),
            words("cats", "cats sleep all day", [4, 5, 6, 7], title="Felines", topic="pets"),
            words("race", "the runner runs fast", [0, 1, 2, 3], title="Race", topic="sport"),
        ]
    )


@pytest.mark.parametrize("filters", [None, {"topic": "pets"}, {"doc_id": ["race", "cats"]}, {"topic": "none"}])
def test_search_hits_then_passages_equal_search(store: Store, filters: dict[str, object] | None) -> None:
    corpus(store)
    for query in (vec(1), vec(1, 5), vec(7)):
        passages = store.search(query, 5, filters)
        hits = store.search_hits(query, 5, filters)
        assert hits == [(p.chunk_id, p.score) for p in passages]
        assert store.passages(hits) == passages


@pytest.mark.parametrize("filters", [None, {"topic": "pets"}, {"doc_id": "race"}, {"topic": "none"}])
def test_lexical_hits_then_passages_equal_lexical_search(store: Store, filters: dict[str, object] | None) -> None:
    corpus(store)
    for terms in (["run"], ["sleep", "bark", "fast"], ["felines"], [], ["zebra"]):
        passages = store.lexical_search(terms, 5, filters)
        hits = store.lexical_hits(terms, 5, filters)
        assert hits == [(p.chunk_id, p.score) for p in passages]
        assert store.passages(hits) == passages


def test_passages_follow_the_hits_order_and_scores_and_skip_missing_chunks(store: Store) -> None:
    corpus(store)
    hits = store.search_hits(vec(0), 4)
    chosen = [(hits[2][0], 9.5), (hits[0][0], -1.0), (10**9, 3.0), (hits[1][0], 0.25)]
    got = store.passages(chosen)
    assert [(p.chunk_id, p.score) for p in got] == [chosen[0], chosen[1], chosen[3]]
    assert all(p.text == store.get_text(p.doc_id)[p.start : p.end] for p in got)  # type: ignore[index]
    assert store.passages([]) == []
    store.delete(got[0].doc_id)
    assert got[0].chunk_id not in {p.chunk_id for p in store.passages(chosen)}


def test_reads_inside_a_snapshot_see_the_index(store: Store) -> None:
    corpus(store)
    with store.snapshot():
        dense = store.search_hits(vec(4), 3)
        lexical = store.lexical_hits(["sleep"], 3)
        fused = [dense[0], lexical[0]]
        assert [p.doc_id for p in store.passages(fused)] == ["cats", "cats"]
    with store.snapshot(), store.snapshot():  # nested snapshots are fine
        assert store.get("cats") is not None


def test_hit_methods_check_filters_like_search(store: Store) -> None:
    corpus(store)
    for bad, message in (({"bad'field": "x"}, "not a valid metadata field"), ({"t": [1]}, "string, number or bool")):
        with pytest.raises(InvalidInput, match=message):
            store.search_hits(vec(0), 5, bad)
        with pytest.raises(InvalidInput, match=message):
            store.lexical_hits(["run"], 5, bad)
        with pytest.raises(InvalidInput, match=message):
            store.lexical_search(["run"], 5, bad)


# -- vectors, chunks, counts, checks -------------------------------------------------------------


def test_vectors_by_hash_find_stored_vectors_of_the_same_text(store: Store) -> None:
    w = words("a", "alpha beta", [0, 3])
    store.write([Write(w.doc, w.chunks, w.vectors, "test", ["h-alpha", "h-beta"])])
    got = store.vectors_by_hash(["h-beta", "h-unknown", "h-beta", "h-alpha"])
    assert sorted(got) == ["h-alpha", "h-beta"]
    assert int(np.argmax(got["h-alpha"])) == 0 and int(np.argmax(got["h-beta"])) == 3
    assert store.vectors_by_hash([]) == {} and store.vectors([]) == {}
    store.delete("a")
    assert store.vectors_by_hash(["h-alpha"]) == {}


def test_document_chunks_give_back_what_was_written(store: Store) -> None:
    w = words("u", "héllo 🍞 naïve", [0, 1, 2])
    store.write([w])
    chunks, vectors = store.document_chunks("u")
    assert chunks == w.chunks
    assert vectors.shape == (3, DIM) and np.allclose(vectors, w.vectors)
    assert store.document_chunks("missing")[0] == []


def test_page_offsets_are_stored_with_the_document(store: Store) -> None:
    paged = words("manual.pdf", "kiln fires hot, then cools slowly", [0, 1, 2, 3, 4, 5])
    paged = Write(replace(paged.doc, page_starts=(0, 11, 11, 22)), paged.chunks, paged.vectors, "test")
    store.write([paged, words("notes", "plain text", [6, 7])])
    info = store.get("manual.pdf")
    assert info is not None and info.page_starts == (0, 11, 11, 22)
    assert store.get("notes").page_starts == ()  # type: ignore[union-attr]
    ids = {p.doc_id: p.chunk_id for p in store.search(vec(0), 1) + store.search(vec(6), 1)}
    # By chunk id, for documents with pages only; an unknown chunk id is left out.
    assert store.page_starts([ids["manual.pdf"], ids["notes"], 10**9]) == {ids["manual.pdf"]: (0, 11, 11, 22)}
    assert store.page_starts([]) == {}
    # Replaced without pages: none left; its old chunks are gone with their pages.
    store.write([words("manual.pdf", "kiln fires hot", [0, 1, 2])])
    assert store.get("manual.pdf").page_starts == ()  # type: ignore[union-attr]
    assert store.page_starts([ids["manual.pdf"]]) == {}


def test_export_and_import_keep_page_offsets(open_store: Opener, tmp_path: Path) -> None:
    src, dst = open_store(name="src"), open_store(name="dst")
    paged = words("manual.pdf", "kiln fires hot", [0, 1, 2])
    src.write([Write(replace(paged.doc, page_starts=(0, 5)), paged.chunks, paged.vectors, "test")])
    src.write([words("notes", "plain text", [3, 4])])
    export_index(src, tmp_path / "out.jsonl.gz")
    import_index(dst, tmp_path / "out.jsonl.gz")
    assert [(i.id, i.page_starts) for i in dst.list_documents()[0]] == [("manual.pdf", (0, 5)), ("notes", ())]


def test_counts_are_cheap_stats(store: Store) -> None:
    assert store.counts() == {"documents": 0, "chunks": 0, "model": "m"}
    corpus(store)
    store.write([words("empty", "", [])])
    assert store.counts() == {"documents": 4, "chunks": 12, "model": "m"}
    store.save()  # durable already; saving derived structures changes nothing visible
    assert store.counts()["chunks"] == store.stats()["chunks"] == 12


def test_verify_finds_a_sound_index_sound(store: Store) -> None:
    assert store.verify() == []
    corpus(store)
    store.delete("cats")
    assert store.verify() == []


def test_repair_rebuilds_what_the_store_can_rebuild(store: Store) -> None:
    corpus(store)
    if store.stats()["store"] == "postgres":
        with pytest.raises(InvalidInput, match="Postgres' own tools"):
            store.repair()
    else:
        report = store.repair()
        assert report["found"] == [] and report["remaining"] == [] and report["rebuilt"]
        assert (report["documents"], report["chunks"]) == (3, 12)
    assert [h.doc_id for h in store.search(vec(5), 1)] == ["cats"]


def test_both_stores_implement_the_whole_protocol() -> None:
    members = {name for name, _ in inspect.getmembers(Store) if not name.startswith("_")} | {"manifest"}
    assert {"search_hits", "lexical_hits", "passages", "snapshot", "verify", "repair", "vectors_by_hash"} <= members
    for cls in (EmbeddedStore, PostgresStore):
        missing = {m for m in members - {"manifest"} if not callable(getattr(cls, m, None))}
        assert not missing, f"{cls.__name__} lacks {sorted(missing)}"
        for name in members - {"manifest"}:
            want = inspect.signature(getattr(Store, name)).parameters
            got = inspect.signature(getattr(cls, name)).parameters
            assert list(got) == list(want), (cls.__name__, name)


def sourced(doc_id: str, source: str, path: str, text: str, hot: int) -> Write:
    w = words(doc_id, text, [hot] * len(text.split()))
    return replace(w, doc=replace(w.doc, source=source, path=path))


def record(source: str, path: str, *doc_ids: str, size: int = 10) -> FileRecord:
    return FileRecord(source, path, size, 111, 222, "ab" * 32, "fp", tuple(doc_ids))


def test_file_records_are_written_with_their_documents(store: Store) -> None:
    store.write([sourced("/r/a.md", "/r", "a.md", "otters swim", 0)], [record("/r", "a.md", "/r/a.md")])
    assert store.file_records("/r") == {"a.md": record("/r", "a.md", "/r/a.md")}
    assert store.file_records("/other") == {}
    info = store.get("/r/a.md")
    assert info is not None and (info.source, info.path) == ("/r", "a.md")
    # A record alone (a touched file): only the record changes.
    store.write([], [record("/r", "a.md", "/r/a.md", size=11)])
    assert store.file_records("/r")["a.md"].size == 11 and store.counts()["documents"] == 1


def test_a_file_that_gives_fewer_documents_loses_the_others(store: Store) -> None:
    ws = [sourced("x1", "/r", "d.jsonl", "otters swim", 0), sourced("x2", "/r", "d.jsonl", "beavers build", 1)]
    store.write(ws, [record("/r", "d.jsonl", "x1", "x2")])
    store.write([], [record("/r", "d.jsonl", "x1")])  # line x2 removed, x1 unchanged
    assert [d.id for d in store.list_documents()[0]] == ["x1"]
    assert store.lexical_search(["beavers"], 5) == [] and store.search(vec(1), 5)[0].doc_id == "x1"


def test_forget_files_deletes_their_documents_and_records(store: Store) -> None:
    store.write(
        [sourced("/r/a.md", "/r", "a.md", "otters swim", 0), sourced("/r/b.md", "/r", "b.md", "beavers build", 1)],
        [record("/r", "a.md", "/r/a.md"), record("/r", "b.md", "/r/b.md")],
    )
    write_doc(store, "other", "otters elsewhere", [2, 2])  # not in a source: never a sync's to delete
    assert store.source_paths("/r") == {"a.md", "b.md"}
    assert store.forget_files("/r", ["a.md", "gone.md"]) == ["/r/a.md"]
    assert set(store.file_records("/r")) == {"b.md"} and store.source_paths("/r") == {"b.md"}
    assert {d.id for d in store.list_documents()[0]} == {"/r/b.md", "other"}
    assert [p.doc_id for p in store.lexical_search(["otters"], 5)] == ["other"]
    # Deleting a document drops its file's record: the next sync reads the file again.
    assert store.delete("/r/b.md") and store.file_records("/r") == {}
    assert store.verify() == []


def test_a_record_whose_documents_are_gone_is_not_written(store: Store) -> None:
    """A sync that read a record, then another process deleting its document: the touched
    record the sync writes back must not vouch for a document that is gone."""
    store.write([sourced("/r/a.md", "/r", "a.md", "otters swim", 0)], [record("/r", "a.md", "/r/a.md")])
    assert store.delete("/r/a.md")
    store.write([], [record("/r", "a.md", "/r/a.md", size=12)])
    assert store.file_records("/r") == {}
