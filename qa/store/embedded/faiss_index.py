"""The FAISS side of the embedded store: which index type, how it is searched, read and written.

Two index types, both wrapped in ``IndexIDMap2`` so FAISS ids are chunk row ids:

- ``flat``: ``IndexFlatIP``, exact. Search time grows linearly with the chunk count (on this
  project's 2-core machine, one thread: about 20 ms at 100k chunks, 43 ms at 200k).
- ``hnsw``: ``IndexHNSWFlat`` (inner product), approximate, a few ms at 1M chunks. FAISS's HNSW
  cannot remove vectors, so a deleted or replaced chunk stays in the graph as a *tombstone*:
  every search excludes tombstones with an ``IDSelector``, and the store rebuilds the graph
  from SQLite when tombstones pass ``TOMBSTONE_REBUILD_FRACTION`` of it.

``auto`` (the default) uses flat below ``hnsw_threshold`` chunks and HNSW from there on; the
type only changes when the file is saved or rebuilt, never in the middle of a search.

Loading can be memory-mapped (``IO_FLAG_MMAP_IFC``): the vectors stay in the page cache, shared
and reclaimable, instead of being copied into the process. FAISS cannot grow a mapped index (it
aborts the process), so the store copies it into memory before its first write (``owned``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import faiss
import numpy as np
import xxhash

if TYPE_CHECKING:
    from qa.config import Settings

IndexKind = Literal["auto", "flat", "hnsw"]

# HNSW build: FAISS's default candidate list while inserting. 40 reaches Recall@10 >= 0.95 at 1M
# chunks with efSearch 128 (bench/results/scale.md); higher values slow the build for little gain.
EF_CONSTRUCTION = 40
# Rebuild the HNSW graph from SQLite when this share of its vectors are tombstones: they cost
# memory and search time (every one is visited, then rejected by the selector).
TOMBSTONE_REBUILD_FRACTION = 0.2
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class IndexOptions:
    """How the embedded store builds and loads its FAISS index (``QA_FAISS_*`` settings)."""

    kind: IndexKind = "auto"
    hnsw_threshold: int = 100_000
    hnsw_m: int = 32
    ef_search: int = 128
    mmap: bool = True
    # HNSW: a filter that allows at most this many chunks is scored exactly over their vectors
    # (10k x 384 dims is about a millisecond). The graph search with a selector is approximate
    # and, when few chunks match, can stop before it finds k of them.
    exact_filter_max: int = 10_000

    def kind_for(self, n_vectors: int, current: str | None = None) -> Literal["flat", "hnsw"]:
        """The index type for ``n_vectors`` live chunks, given the ``current`` one.

        ``auto`` keeps an HNSW index until the count falls below half the threshold, so an index
        that hovers around the threshold is not rebuilt at every save."""
        if self.kind != "auto":
            return self.kind
        if current == "hnsw" and n_vectors >= self.hnsw_threshold // 2:
            return "hnsw"
        return "hnsw" if n_vectors >= self.hnsw_threshold else "flat"


def new_index(kind: Literal["flat", "hnsw"], dim: int, m: int = 32) -> faiss.Index:
    """An empty ``IndexIDMap2`` of ``kind``; ids are chunk row ids."""
    # Inner product equals cosine similarity on normalized vectors; on unit vectors it also
    # orders neighbours exactly as L2 does, so the HNSW graph is built as well as with L2.
    inner: faiss.Index
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = EF_CONSTRUCTION
    else:
        inner = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap2(inner)


def kind_of(index: faiss.Index) -> Literal["flat", "hnsw"]:
    inner = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
    return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"


def ids_of(index: faiss.Index) -> np.ndarray:
    """Every id in an ``IndexIDMap2``, tombstones included, as int64."""
    return faiss.vector_to_array(index.id_map).astype(np.int64, copy=False)  # type: ignore[attr-defined]


def stored_vectors(index: faiss.Index) -> np.ndarray | None:
    """A read-only view of the vectors of an HNSW ``IndexIDMap2`` in insertion order (None for other types)."""
    inner = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
    if not isinstance(inner, faiss.IndexHNSW):
        return None
    storage = faiss.downcast_index(inner.storage)
    if not isinstance(storage, faiss.IndexFlat) or storage.ntotal == 0:
        return None
    flat = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d)
    return np.asarray(flat).reshape(storage.ntotal, storage.d)


def search_params(
    index: faiss.Index, k: int, ef_search: int, sel: faiss.IDSelector | None
) -> faiss.SearchParameters | None:
    """Per-search parameters: the HNSW candidate list and an optional id selector.

    The selector must outlive the search call (FAISS keeps a raw pointer)."""
    if kind_of(index) == "hnsw":
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        # Fewer candidates than k would return fewer than k hits.
        params.efSearch = max(ef_search, k)
    elif sel is None:
        return None
    else:
        params = faiss.SearchParameters()
    if sel is not None:
        params.sel = sel
    return params


# The checksum recorded in vectors.json. XXH3-128 reads a 1.8 GB index (1M chunks) in 0.4 s where
# SHA-256 takes 2.2 s on this machine, and the check is on every open: it is the cold start. It
# guards against damage (a torn write, a flipped bit), not against tampering. Files written
# before carry "sha256", still checked.
CHECKSUM = "xxh3_128"


def file_checksum(path: Path, algorithm: str = CHECKSUM) -> str:
    """Checksum of a file, read in blocks: a 2 GB index is never one bytes object."""
    h: Any = xxhash.xxh3_128() if algorithm == "xxh3_128" else hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def write_index(index: faiss.Index, path: Path) -> str:
    """Write ``index`` to ``path`` (FAISS streams it, no in-memory copy); return its checksum."""
    faiss.write_index(index, str(path))
    return file_checksum(path)


class LoadedIndex:
    """An index read from a file, memory-mapped or not, that can be made writable later."""

    def __init__(self, path: Path, mmap: bool) -> None:
        self.mapped = mmap
        self._fd: int | None = None
        if mmap:
            # Keep the mapped file open: if another process replaces ``path`` (a save is a
            # rename), ``owned`` still reads the very file that is mapped, via /proc/self/fd.
            self._fd = os.open(path, os.O_RDONLY)
            self.index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        else:
            self.index = faiss.read_index(str(path))

    def owned(self) -> faiss.Index:
        """An in-memory copy of a mapped index (the index itself when it was read into memory)."""
        if not self.mapped:
            return self.index
        fd_path = f"/proc/self/fd/{self._fd}"
        if os.path.exists(fd_path):
            index = faiss.read_index(fd_path)
        else:  # no /proc (not Linux): a round trip through memory, twice the size for a moment
            index = faiss.deserialize_index(faiss.serialize_index(self.index))
        self.close()
        return index

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.mapped = False


def index_options(settings: Settings) -> IndexOptions:
    """The ``QA_FAISS_*`` settings as ``IndexOptions``."""
    return IndexOptions(
        kind=settings.faiss_index,
        hnsw_threshold=settings.faiss_hnsw_threshold,
        hnsw_m=settings.faiss_hnsw_m,
        ef_search=settings.faiss_ef_search,
        mmap=settings.faiss_mmap,
    )
