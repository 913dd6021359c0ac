"""The FAISS mirror of the chunk vectors stored in SQLite: loaded, caught up, rebuilt, searched, saved.

``vectors.faiss`` + ``vectors.json`` hold a FAISS ``IndexIDMap2`` (exact flat, or HNSW past
``QA_FAISS_HNSW_THRESHOLD`` chunks; see ``faiss_index.py``) whose ids are chunk row ids, and the
generation it reflects. It is derived data: when it is missing or unreadable, it is rebuilt from
the vectors in SQLite; when it is of an older generation (the process died between the SQLite
commit and the FAISS save, or another process wrote), it is caught up with the rows added and
deleted since.

Not thread-safe by itself: the store calls searches under its read lock and everything else
under its write lock, and everything here that reads SQLite uses the store's write connection.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.errors import IndexCorrupt
from qa.store.base import atomic_write
from qa.store.embedded.faiss_index import (
    CHECKSUM,
    TOMBSTONE_REBUILD_FRACTION,
    IndexOptions,
    LoadedIndex,
    file_checksum,
    ids_of,
    kind_of,
    new_index,
    search_params,
    stored_vectors,
    write_index,
)
from qa.store.embedded.schema import DB_FILE, chunk_count, generation
from qa.types import Hit

log = logging.getLogger(__name__)

FAISS_FILE = "vectors.faiss"
FAISS_META = "vectors.json"
# Vectors per FAISS add while rebuilding: large enough for HNSW to insert in parallel (about 100 MB).
REBUILD_BATCH = 65536
# Rows gathered and scored at a time by an exact search among allowed ids (``_exact_among``).
EXACT_BLOCK = 512

# Vectors written by one store write: (chunk ids, their vectors) per document.
Added = list[tuple[np.ndarray, np.ndarray]]


class VectorIndex:
    """The FAISS index of one store directory, at SQLite's generation ``generation``."""

    def __init__(self, path: Path, db: sqlite3.Connection, dim: int, options: IndexOptions) -> None:
        self.path = path
        self.db = db
        self.dim = dim
        self.options = options
        self.generation = -1
        # What was wrong with the FAISS file when it was last found damaged and rebuilt (`qa repair` reports it).
        self.problem: str | None = None
        # HNSW cannot remove vectors: ids of deleted chunks still in the graph, skipped by searches.
        self.tombstones: set[int] = set()
        self._live_sel: faiss.IDSelector | None = None
        # Set while the index is the memory-mapped file itself; copied into memory before a write.
        self._mapped: LoadedIndex | None = None
        self._dirty = False
        self.index: faiss.Index = self._new_index("flat")
        # ``_sorted_ids``: (index object, its ntotal, its ids if increasing).
        self._ids_cache: tuple[faiss.Index, int, np.ndarray | None] | None = None

    def _new_index(self, kind: str) -> faiss.Index:
        return new_index("hnsw" if kind == "hnsw" else "flat", self.dim, self.options.hnsw_m)

    def _set_index(self, index: faiss.Index, tombstones: set[int], mapped: LoadedIndex | None = None) -> None:
        if self._mapped is not None and self._mapped is not mapped:
            self._mapped.close()
        self.index, self.tombstones, self._mapped, self._live_sel = index, tombstones, mapped, None

    @property
    def live_vectors(self) -> int:
        """Vectors a search can return: the index's, less tombstones."""
        return int(self.index.ntotal) - len(self.tombstones)

    @property
    def mapped(self) -> bool:
        """Whether the index is the memory-mapped file itself."""
        return self._mapped is not None

    def ids(self) -> set[int]:
        """The chunk ids a search can return."""
        return set(ids_of(self.index).tolist()) - self.tombstones

    def _writable(self) -> None:
        """Before changing the index: copy a memory-mapped one into memory (FAISS cannot grow a
        mapped index; it would abort the process)."""
        if self._mapped is not None:
            self.index = self._mapped.owned()
            self._mapped = None

    # -- in step with SQLite -----------------------------------------------------------------

    def load_or_rebuild(self) -> None:
        """Bring the index to SQLite's generation: load the file if it is of that generation, else
        catch up from the newest index at hand (this process's or the file's), else rebuild."""
        gen = generation(self.db)
        meta, problem = self._read_meta()
        file_gen = meta.get("generation") if meta else None
        if self.generation >= 0:
            # This process holds an index of an earlier generation: updating it reads only the
            # changed rows, where loading the file would read (and checksum) all of it.
            if self.catch_up():
                # Not saved here: a reader catching up with a long `qa index` run would rewrite
                # the whole file at every batch. The writer saves; so does close(), if still needed.
                if file_gen == gen:
                    self._dirty = False  # another process saved this generation already
                return
        elif meta is not None:
            loaded, tombstones, problem = self._read_faiss(meta, gen)
            if loaded is not None:
                index = loaded.index
                n_live = index.ntotal - len(tombstones)
                if kind_of(index) == self.options.kind_for(n_live, kind_of(index)):
                    self._set_index(index, tombstones, loaded if loaded.mapped else None)
                    self.generation = int(meta["generation"])
                    if self.generation == gen:
                        return
                    # Stale (killed between commit and save, or another process wrote): add and
                    # drop what changed since, rather than rebuild a large HNSW graph.
                    if self.catch_up():
                        self.save(force=False)
                        return
                else:
                    # QA_FAISS_INDEX or the threshold changed: build the type asked for.
                    loaded.close()
                del index, loaded
        if problem:
            # Damaged, not merely stale: say so (the CLI prints warnings; the server logs them).
            self.problem = problem
            log.warning("%s; rebuilding it from the vectors in %s", problem, self.path / DB_FILE)
        self.rebuild()

    def _read_meta(self) -> tuple[dict[str, Any] | None, str | None]:
        meta_path = self.path / FAISS_META
        try:
            meta = json.loads(meta_path.read_text())
            if not isinstance(meta, dict) or not isinstance(meta.get("generation"), int):
                raise ValueError("not a JSON object with a generation")
            meta["tombstones"] = {int(i) for i in meta.get("tombstones", [])}
        except FileNotFoundError:
            return None, None
        except (ValueError, TypeError, OSError) as exc:
            return None, f"FAISS metadata {meta_path} is unreadable ({exc})"
        return meta, None

    def _read_faiss(self, meta: dict[str, Any], gen: int) -> tuple[LoadedIndex | None, set[int], str | None]:
        """The FAISS file described by ``meta`` and its tombstones, if it is whole; else None and
        what is wrong with it. A file of generation ``gen`` must also match the chunk count."""
        faiss_path = self.path / FAISS_FILE
        tombstones: set[int] = meta["tombstones"]
        try:
            before = os.stat(faiss_path)
            # Streamed: a large index is never read into one bytes object to be checked.
            algorithm = next((a for a in (CHECKSUM, "sha256") if a in meta), None)
            digest = file_checksum(faiss_path, algorithm) if algorithm else None
        except FileNotFoundError:
            return None, set(), f"FAISS file {faiss_path} is missing"
        except OSError as exc:
            return None, set(), f"FAISS file {faiss_path} is unreadable ({exc})"
        # Files written before checksums were recorded have none; their size and count still are checked.
        if algorithm and digest != meta[algorithm]:
            return None, set(), f"FAISS file {faiss_path} is corrupt (checksum mismatch, {before.st_size} bytes)"
        try:
            # Only a file whose checksum matched is mapped: FAISS trusts the sizes it reads.
            loaded = LoadedIndex(faiss_path, mmap=self.options.mmap and digest is not None)
        except (ValueError, RuntimeError, OSError) as exc:
            return None, set(), f"FAISS file {faiss_path} is corrupt or truncated ({before.st_size} bytes: {exc})"
        after = os.stat(faiss_path)
        if (after.st_ino, after.st_mtime_ns) != (before.st_ino, before.st_mtime_ns):
            loaded.close()
            return None, set(), None  # replaced by another process's save while we read it: rebuild
        index = loaded.index
        n_chunks = chunk_count(self.db) if meta["generation"] == gen else None
        if index.d != self.dim or (n_chunks is not None and index.ntotal - len(tombstones) != n_chunks):
            loaded.close()
            problem = (
                f"FAISS file {faiss_path} does not match the database "
                f"({index.ntotal - len(tombstones)} live vectors of dim {index.d}, "
                f"expected {n_chunks} of dim {self.dim})"
            )
            return None, set(), problem
        return loaded, tombstones, None

    def catch_up(self) -> bool:
        """Update the index from an older generation to SQLite's, without a rebuild: add the chunks
        made since (ids only grow) and drop the ones deleted since. False when the index does not
        match SQLite's history (then it must be rebuilt); nothing is changed in that case."""
        ids = ids_of(self.index)
        if ids.size > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            return False
        top = int(ids[-1]) if ids.size else 0
        self.db.execute("BEGIN")  # one read snapshot
        try:
            gen = generation(self.db)
            db_ids = np.fromiter((r[0] for r in self.db.execute("SELECT id FROM chunks")), dtype=np.int64)
            dead = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
            live = np.setdiff1d(ids, dead, assume_unique=True)
            old = db_ids[db_ids <= top]
            if np.setdiff1d(old, live, assume_unique=True).size:
                return False  # a chunk the index should hold but does not
            removed = np.setdiff1d(live, old, assume_unique=True)
            self.mirror(removed.tolist(), [])
            cur = self.db.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (top,))
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # many rows may have come: as in a rebuild
            try:
                while rows := cur.fetchmany(REBUILD_BATCH):
                    new_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                    self.mirror([], [(new_ids, vecs)])
            finally:
                faiss.omp_set_num_threads(threads)
            self.generation = gen
        finally:
            self.db.execute("COMMIT")
        self._dirty = True
        return True

    def rebuild(self) -> None:
        """Build the index from the vectors in SQLite (of the type the chunk count calls for) and save it."""
        # One read transaction: the generation, the count and the vectors are of one committed state.
        self.db.execute("BEGIN")
        try:
            self._fill_from_db()
        finally:
            self.db.execute("COMMIT")
        self._dirty = True
        self.save(force=True)

    def _fill_from_db(self) -> None:
        gen = generation(self.db)
        n_chunks = chunk_count(self.db)
        current = kind_of(self.index) if self.index.ntotal else None
        kind = self.options.kind_for(n_chunks, current)
        # Drop the old index first: two copies of a large index would double the peak memory.
        self._set_index(self._new_index(kind), set())
        index = self.index
        threads = faiss.omp_get_max_threads()
        # A build adds many vectors at once: it uses every core (searches use one, see the store).
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            cur = self.db.execute("SELECT id, vector FROM chunks ORDER BY id")
            while rows := cur.fetchmany(REBUILD_BATCH):
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                if vecs.shape[1] != self.dim:
                    raise IndexCorrupt(f"stored vectors in {self.path} have dim {vecs.shape[1]}, expected {self.dim}")
                index.add_with_ids(vecs, ids)
        finally:
            faiss.omp_set_num_threads(threads)
        self.generation = gen

    # -- writes --------------------------------------------------------------------------------

    def apply(self, before: int, removed: list[int], added: Added) -> None:
        """Mirror a committed write, made on generation ``before``."""
        if before != self.generation:
            # Another process wrote between our sync and our commit: catch up with both writes.
            if not self.catch_up():
                self.rebuild()
            return
        self.mirror(removed, added)
        self.generation = before + 1
        self._dirty = True

    def advance(self, before: int) -> None:
        """Mirror a committed write, made on generation ``before``, that changed no chunk (an
        access list): the vectors are as they were, so a FAISS file that was current is recorded
        at the new generation as it is, never written again (1.8 GB at 1M chunks)."""
        if before != self.generation:
            self.apply(before, [], [])  # another process wrote meanwhile: catch up
            return
        self.generation = before + 1
        on_disk, _ = self._read_meta()
        if self._dirty or on_disk is None or on_disk["generation"] != before:
            self._dirty = True  # the next save writes the file (a crash before: caught up on open)
            return
        meta = dict(on_disk, generation=before + 1, tombstones=sorted(on_disk["tombstones"]))
        atomic_write(self.path / FAISS_META, lambda p: Path(p).write_text(json.dumps(meta)))

    def mirror(self, removed: list[int], added: Added) -> None:
        """Drop ``removed`` chunk ids and add ``added`` vectors."""
        if removed and kind_of(self.index) == "hnsw":
            # HNSW cannot remove: the ids become tombstones, skipped by every search until the
            # next rebuild (save() rebuilds once they pass TOMBSTONE_REBUILD_FRACTION).
            self.tombstones.update(removed)
            self._live_sel = None
        elif removed:
            self._writable()
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(removed, dtype=np.int64)))
        if added:
            self._writable()
        for ids, vecs in added:
            if vecs.shape[1] != self.dim:
                raise IndexCorrupt(f"stored vectors in {self.path} have dim {vecs.shape[1]}, expected {self.dim}")
            self.index.add_with_ids(vecs, ids)

    def save(self, force: bool) -> None:
        """Write the FAISS file if it changed. This is where the index changes type (the chunk
        count crossed ``QA_FAISS_HNSW_THRESHOLD``) or drops its tombstones: by a rebuild, once,
        here and not in the middle of a search. ``force``: write even if the file claims this
        generation (it was found damaged)."""
        if not self._dirty:
            return
        on_disk, _ = self._read_meta()
        if not force and on_disk is not None and on_disk["generation"] >= self.generation:
            self._dirty = False  # another process saved this state, or a newer one
            return
        current = kind_of(self.index)
        if self.options.kind_for(self.live_vectors, current) != current or (
            len(self.tombstones) > TOMBSTONE_REBUILD_FRACTION * max(1, self.index.ntotal)
        ):
            self.rebuild()  # saves the new index
            return
        digest = ""

        def write(path: str) -> None:
            nonlocal digest
            digest = write_index(self.index, Path(path))

        atomic_write(self.path / FAISS_FILE, write)
        # The checksum catches a damaged file that still parses (a flipped bit in a vector).
        meta = json.dumps(
            {
                "generation": self.generation,
                "ntotal": int(self.index.ntotal),
                CHECKSUM: digest,
                "index": current,
                "tombstones": sorted(self.tombstones),
            }
        )
        atomic_write(self.path / FAISS_META, lambda p: Path(p).write_text(meta))
        self._dirty = False

    def close(self) -> None:
        if self._mapped is not None:
            self._mapped.close()

    # -- search --------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[Hit]:
        """The ``k`` nearest live chunks to ``vector`` (among the ``allowed`` ids, if given; then
        they must all be live), best first."""
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        # OpenMP's thread count belongs to the calling thread, and a server's request threads start
        # at the core count: FAISS then wakes a team for one vector (24 ms instead of 1.8 ms per
        # search at SciFact scale, measured from a thread pool). One thread per query, every time.
        if faiss.omp_get_max_threads() != 1:
            faiss.omp_set_num_threads(1)
        live = self.live_vectors
        if live == 0:
            return []
        selector: faiss.IDSelector | None = None  # must outlive the search call
        if allowed is not None:
            if allowed.size == 0:
                return []
            if allowed.size <= self.options.exact_filter_max:
                exact = self._exact_among(query[0], allowed, k)
                if exact is not None:
                    return exact
            selector = faiss.IDSelectorBatch(allowed)
            k = min(k, int(allowed.size))
        elif self.tombstones:
            selector = self._live_selector()
        k = min(k, live)
        params = search_params(self.index, k, self.options.ef_search, selector)
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _exact_among(self, query: np.ndarray, allowed: np.ndarray, k: int) -> list[Hit] | None:
        """HNSW: the exact top ``k`` of the ``allowed`` chunks, scored over their stored vectors;
        None when the index cannot give them (flat: its selector search is exact already)."""
        index = self.index
        xb = stored_vectors(index)
        if xb is None:
            return None
        ids = self._sorted_ids(index)
        if ids is None:
            return None
        pos = np.searchsorted(ids, allowed)
        pos = pos[(pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == allowed)]
        if pos.size == 0:
            return []
        # Gathered a block at a time: the rows stay in the CPU cache between the copy and the
        # product (10,000 rows at 1M chunks: 1.3 ms, against 6 ms for one 15 MB gather).
        scores = np.empty(pos.size, dtype=np.float32)
        for start in range(0, pos.size, EXACT_BLOCK):
            scores[start : start + EXACT_BLOCK] = xb[pos[start : start + EXACT_BLOCK]] @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[pos[i]]), float(scores[i])) for i in top]

    def _sorted_ids(self, index: faiss.Index) -> np.ndarray | None:
        """The ids of ``index`` in position order, if increasing (None if not), kept while the index
        object and its size stay the same: HNSW only grows (removals are tombstones), and a rebuild
        or load is a new object. Copying and checking them took 1 to 9 ms per search at 1M chunks."""
        cached = self._ids_cache
        if cached is not None and cached[0] is index and cached[1] == index.ntotal:
            return cached[2]
        ids = ids_of(index)
        # Ids are appended in increasing order (AUTOINCREMENT; rebuilds go in id order), so a
        # chunk's position is found by bisection.
        found = ids if ids.size <= 1 or bool(np.all(ids[1:] > ids[:-1])) else None
        self._ids_cache = (index, int(index.ntotal), found)
        return found

    def _live_selector(self) -> faiss.IDSelector:
        """Every id but the tombstones; kept until the tombstones change. Two readers may both
        build it at first; each searches with the one it built."""
        sel = self._live_sel
        if sel is None:
            dead = faiss.IDSelectorBatch(np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones)))
            sel = faiss.IDSelectorNot(dead)
            sel.referenced = dead  # type: ignore[attr-defined]  # the Python object keeps the C++ one alive
            self._live_sel = sel
        return sel
