"""The embedded store's lexical index (tantivy) kept in step with SQLite: built for indexes made
before it, rebuilt when a killed writer left it ahead of SQLite or it is damaged, analyzed the
same way for text and questions, and releasing tantivy's writer lock whatever happens."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import tantivy

from qa.store import Write
from qa.store.embedded import DB_FILE, EmbeddedStore
from qa.store.embedded.lexical import LEXICAL_DIR, LEXICAL_META, LexicalIndex, spec
from qa.types import Chunk, Document

DIM = 8


def write_doc(store: EmbeddedStore, doc_id: str, text: str, title: str = "", **meta: object) -> list[int]:
    """One chunk per sentence; returns the new chunk ids."""
    doc = Document(id=doc_id, text=text, title=title, metadata=dict(meta))
    chunks, pos = [], 0
    for i, sentence in enumerate(s for s in text.split(". ") if s):
        start = text.index(sentence, pos)
        pos = start + len(sentence)
        chunks.append(Chunk(doc_id, i, start, pos, sentence))
    rng = np.random.default_rng(len(text))
    vectors = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.write([Write(doc, chunks, vectors, "test")])
    return [r[0] for r in store.db.execute("SELECT id FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,))]


def open_store(path: Path, **kw: object) -> EmbeddedStore:
    return EmbeddedStore(path, model="m", dim=DIM, **kw)  # type: ignore[arg-type]


def found(store: EmbeddedStore, *terms: str) -> list[str]:
    return [p.doc_id for p in store.lexical_search(list(terms), 10)]


def test_text_and_questions_are_analyzed_alike(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i")
    write_doc(store, "cafe", "The Café Müller opened in 1921. Its owners were bakers", title="Vienna")
    write_doc(store, "long", "A token " + "x" * 60 + " sits here. Nothing else")
    write_doc(store, "runs", "Runners were running relays")
    assert found(store, "cafe") == ["cafe"] and found(store, "CAFÉ") == ["cafe"] and found(store, "muller") == ["cafe"]
    assert found(store, "1921") == ["cafe"]
    assert found(store, "vienna") == ["cafe", "cafe"]  # the title is searchable with each chunk of its document
    assert found(store, "run") == ["runs"] and found(store, "relay") == ["runs"]  # Snowball English stems
    assert found(store, "x" * 60) == []  # words over 40 characters are not indexed
    # Query syntax is never interpreted: every term is a word looked up as is.
    for q in ['"cafe', "cafe AND NOT", "text:cafe", "caf*", "id:1", "()", "-", "cafe^10", "[1 TO 9]"]:
        store.lexical_search([q], 5)
    assert found(store, "owners", "bakers")[0] == "cafe"
    store.close()


def test_an_index_made_with_sqlite_fts5_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "i"
    store = open_store(path)
    write_doc(store, "a", "Zebras graze on the savanna. Lions watch them")
    store.close()
    # What an earlier version left: an FTS5 table and its tokenizer in the manifest, no lexical/.
    db = sqlite3.connect(path / DB_FILE)
    db.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(title, body)")
    db.execute("INSERT INTO chunks_fts(rowid, title, body) SELECT id, '', 'stale' FROM chunks")
    db.execute("INSERT INTO manifest(key, value) VALUES ('lexical_tokenizer', 'porter unicode61')")
    db.commit()
    db.close()
    (path / LEXICAL_META).unlink()
    import shutil

    shutil.rmtree(path / LEXICAL_DIR)
    store = open_store(path)
    try:
        assert found(store, "savanna") == ["a"] and found(store, "lions") == ["a"]
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert not any(n.startswith("chunks_fts") for n in names)
        assert store.db.execute("SELECT 1 FROM manifest WHERE key = 'lexical_tokenizer'").fetchone() is None
        assert store.verify() == []
    finally:
        store.close()


def test_a_writer_killed_between_the_lexical_and_sqlite_commits_is_undone_by_the_next_opener(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "i"
    store = open_store(path)
    write_doc(store, "a", "Alpine lakes freeze in winter")
    gen = store.generation
    next_id = 1 + store.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()[0]
    # The lexical commit of a write whose SQLite commit never happened (the process died between).
    store.lexical.commit(gen + 1, [], [(next_id, "", "phantom glaciers", ["*"])])
    assert store.lexical.recorded()["generation"] == gen + 1  # type: ignore[index]
    store.close()
    caplog.set_level(logging.INFO, logger="qa.store.embedded")
    store = open_store(path)
    try:
        assert "built the lexical index" in caplog.text
        assert found(store, "phantom", "glaciers") == [] and found(store, "alpine") == ["a"]
        # The chunk id the dead write used is given again (its SQLite transaction rolled back):
        # it must find the new text only.
        assert write_doc(store, "b", "Desert dunes shift") == [next_id]
        assert found(store, "dunes") == ["b"] and found(store, "glaciers") == []
        assert store.verify() == []
    finally:
        store.close()


def test_a_writer_killed_between_commits_is_undone_by_the_next_write_of_an_open_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "i"
    store = open_store(path)
    other = open_store(path)  # stands for another process, open all along
    write_doc(store, "a", "Alpine lakes freeze in winter")
    other.lexical.commit(store.generation + 1, [], [(999, "", "phantom glaciers", ["*"])])
    caplog.set_level(logging.WARNING, logger="qa.store.embedded")
    write_doc(store, "b", "Desert dunes shift")
    assert "rebuilding it from SQLite" in caplog.text
    assert found(store, "glaciers") == [] and found(store, "dunes") == ["b"] and found(other, "dunes") == ["b"]
    assert store.verify() == []
    store.close()
    other.close()


@pytest.mark.parametrize("damage", ["meta-garbage", "dir-gone", "record-gone", "other-spec"])
def test_a_damaged_or_foreign_lexical_index_is_rebuilt_at_open(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "i"
    store = open_store(path)
    write_doc(store, "a", "Coral reefs host many fish. Reefs bleach in warm water")
    store.close()
    if damage == "meta-garbage":
        (path / LEXICAL_DIR / "meta.json").write_text("{not json")
    elif damage == "dir-gone":
        import shutil

        shutil.rmtree(path / LEXICAL_DIR)
    elif damage == "record-gone":
        (path / LEXICAL_META).unlink()
    else:
        record = json.loads((path / LEXICAL_META).read_text())
        (path / LEXICAL_META).write_text(json.dumps({**record, "spec": "something older"}))
    store = open_store(path)
    try:
        assert found(store, "reef") == ["a", "a"] and found(store, "bleach") == ["a"]
        assert store.verify() == []
        assert json.loads((path / LEXICAL_META).read_text())["spec"] == spec("english")
    finally:
        store.close()


def test_a_failed_lexical_write_rolls_back_and_releases_the_writer_lock(tmp_path: Path) -> None:
    lex = LexicalIndex(tmp_path, "english")
    lex.rebuild(0, [(1, "", "first text", ["*"])])
    with pytest.raises(RuntimeError, match="boom"), lex._writer(32_000_000, 1) as writer:
        writer.add_document(tantivy.Document(id=2, text="never committed"))
        raise RuntimeError("boom")
    # The lock is free again (a held one makes tantivy refuse a second writer), nothing was added.
    lex.commit(1, [1], [(3, "", "second text", ["*"])])
    assert lex.ids() == {3} and lex.search(["never"], 5) == [] and [i for i, _ in lex.search(["second"], 5)] == [3]


def test_a_store_write_that_fails_leaves_sqlite_and_the_lexical_index_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "i")
    write_doc(store, "a", "Volcanoes erupt lava")
    gen = store.generation

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.lexical, "commit", fail)
    with pytest.raises(OSError, match="disk full"):
        write_doc(store, "b", "Geysers spout water")
    monkeypatch.undo()
    assert store.generation == gen and store.get("b") is None and found(store, "geysers") == []
    write_doc(store, "c", "Glaciers carve valleys")
    assert found(store, "glaciers") == ["c"] and found(store, "volcanoes") == ["a"]
    assert store.verify() == []
    store.close()


def test_filters_restrict_lexical_hits_to_the_allowed_chunks(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i")
    for i in range(30):
        write_doc(store, f"d{i}", f"Shared words about rivers number {i}", topic="odd" if i % 2 else "even")
    odd = store.lexical_search(["rivers"], 50, {"topic": "odd"})
    assert len(odd) == 15 and all(int(p.doc_id[1:]) % 2 for p in odd)
    assert [p.doc_id for p in store.lexical_search(["rivers", "7"], 3, {"topic": "odd"})][0] == "d7"
    assert store.lexical_search(["rivers"], 5, {"topic": "none"}) == []
    assert store.lexical_search(["oceans"], 5, {"topic": "odd"}) == []
    store.close()


def test_scores_are_bm25_best_first(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i")
    write_doc(store, "rare", "The axolotl regrows limbs")
    write_doc(store, "common", "The limbs of the common frog")
    write_doc(store, "none", "Nothing relevant at all")
    hits = store.lexical_hits(["axolotl", "limbs"], 10)
    assert [h[0] for h in hits][:1] == [store.db.execute("SELECT id FROM chunks WHERE doc_id='rare'").fetchone()[0]]
    assert len(hits) == 2 and hits[0][1] > hits[1][1] > 0
    store.close()


def test_exact_tokens_find_options_that_lower_casing_makes_one_word(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i")
    write_doc(store, "verbose", "The -v option prints every file name as it is processed", title="arcs")
    write_doc(store, "version", "The -V option prints the version number and exits", title="arcs")
    write_doc(store, "all", "Use -a to list hidden files too", title="arcs")
    # The words alone cannot tell them apart; the exact token can, either way round.
    assert set(found(store, "v")) == {"verbose", "version"}
    assert [p.doc_id for p in store.lexical_search(["v"], 5, exact=["-V"])][0] == "version"
    assert [p.doc_id for p in store.lexical_search(["v"], 5, exact=["-v"])][0] == "verbose"
    hits = store.lexical_hits(["v", "option"], 5, None, ["-V"])
    assert hits[0][1] > hits[1][1] > 0
    # A token whose word is a stop word (dropped from the question's terms) is still found.
    assert [p.doc_id for p in store.lexical_search([], 5, exact=["-a"])] == ["all"]
    assert store.lexical_search([], 5, exact=["-A"]) == [] and store.lexical_search([], 5) == []
    # Filters hold for the exact clause too.
    assert store.lexical_search([], 5, {"doc_id": "verbose"}, ["-a"]) == []
    # Never query syntax: an exact token is a term looked up as is.
    for token in ["-V*", "%d:", "(-v)", '"-V"', "-v^9", "exact:-V"]:
        store.lexical_search(["v"], 5, exact=[token])
    store.close()


def _v1_analyzer() -> tantivy.TextAnalyzer:
    """The analyzer of schema version 1, as the previous qa built it."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def make_v1_index(path: Path) -> None:
    """Replace the lexical index of the store at ``path`` with what qa's schema version 1 left: one
    ``text`` field, no ``exact`` field, and its spec recorded at SQLite's generation."""
    import shutil

    db = sqlite3.connect(path / DB_FILE)
    rows = db.execute(
        "SELECT c.id, d.title || ' ' || COALESCE(c.heading, ''), substr(d.text, c.start + 1, c.\"end\" - c.start)"
        " FROM chunks c JOIN documents d ON d.id = c.doc_id"
    ).fetchall()
    gen = int(db.execute("SELECT value FROM manifest WHERE key = 'generation'").fetchone()[0])
    db.close()
    shutil.rmtree(path / LEXICAL_DIR)
    (path / LEXICAL_DIR).mkdir()
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=False, indexed=True, fast=True)
    sb.add_text_field("text", stored=False, tokenizer_name="qa", index_option="freq")
    index = tantivy.Index(sb.build(), path=str(path / LEXICAL_DIR))
    index.register_tokenizer("qa", _v1_analyzer())
    writer = index.writer(heap_size=32_000_000, num_threads=1)
    for chunk_id, title, body in rows:
        writer.add_document(tantivy.Document(id=chunk_id, text=f"{title}\n{body}"))
    writer.commit()
    writer.wait_merging_threads()
    v1 = "tantivy v1 simple remove_long 40 lowercase ascii_fold stem english"
    (path / LEXICAL_META).write_text(json.dumps({"generation": gen, "spec": v1}))


def test_an_index_of_lexical_schema_v1_is_rebuilt_when_opened_and_keeps_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "i"
    store = open_store(path)
    write_doc(store, "verbose", "The -v option prints every file name", title="arcs")
    write_doc(store, "version", "The -V option prints the version number", title="arcs")
    store.close()
    make_v1_index(path)
    old = tantivy.Index.open(str(path / LEXICAL_DIR))
    assert "exact" not in str(old.schema) and old.searcher().num_docs == 2  # what version 1 left
    caplog.set_level(logging.INFO, logger="qa.store.embedded")
    store = open_store(path)
    try:
        assert "built the lexical index" in caplog.text
        assert json.loads((path / LEXICAL_META).read_text())["spec"] == spec("english")
        assert [p.doc_id for p in store.lexical_search(["v"], 5, exact=["-V"])][0] == "version"
        assert set(found(store, "version", "file")) == {"verbose", "version"}
        write_doc(store, "quiet", "The -q option prints nothing", title="arcs")  # and takes writes
        assert found(store, "nothing") == ["quiet"]
        assert store.verify() == []
    finally:
        store.close()
