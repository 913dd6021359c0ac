"""Index stores: one protocol, one backend each.

A store keeps documents, their chunks (as offsets into the document text) and one vector
per chunk, and answers nearest-neighbour and BM25 queries. Writes are all-or-nothing per call.

- ``base.py``: ``Store``, the protocol (everything a caller outside this package may use), and its records.
- ``open_store``: the store the settings name; ``index_exists``: whether it holds an index yet;
  ``stored_manifest``: its manifest, read without opening it; ``index_names``: the indexes of the
  settings' directory or database; ``drop_index``: remove one; ``describe_location``: where it is, for messages.
- ``embedded/``: SQLite + FAISS + tantivy in a directory (the default).
- ``postgres/``: PostgreSQL with pgvector (``QA_STORE=postgresql://...``).
- ``filters.py``: metadata filters, checked once for both.
- ``transfer.py``: `qa export` / `qa import` between stores.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from typing import Any

from qa.config import Settings
from qa.errors import IndexGone, InvalidInput
from qa.language import LANGUAGES
from qa.store.base import (
    FORMAT_VERSION,
    INFO_COLUMNS,
    DocumentInfo,
    FileRecord,
    Manifest,
    Store,
    Write,
    atomic_write,
    check_manifest,
    document_info,
)

__all__ = [
    "FORMAT_VERSION",
    "INFO_COLUMNS",
    "DocumentInfo",
    "FileRecord",
    "Manifest",
    "Store",
    "Write",
    "atomic_write",
    "check_manifest",
    "describe_location",
    "document_info",
    "drop_index",
    "index_exists",
    "index_names",
    "open_store",
    "stored_manifest",
]


def open_store(
    settings: Settings,
    model: str,
    new_dim: Callable[[], int],
    extra: dict[str, Any] | None = None,
    new_only: bool = False,
    existing_only: bool = False,
) -> Store:
    """The store ``settings`` name: Postgres when ``QA_STORE`` is a URL, else the embedded store
    at ``settings.index_path``. An existing index knows its dimension; ``new_dim`` (which may load
    the embedding model) is called only when the index does not exist yet, and ``extra`` is
    written into a new index's manifest (a collection's settings, ``qa.collections``).
    ``new_only``: Postgres raises ``Conflict`` if the index exists already (checked under the
    bootstrap's lock; the embedded store's caller makes the directory itself, atomically).
    ``existing_only``: the index must exist (a collection opened by name): ``IndexGone`` if it
    does not, and nothing is made (no directory, file or schema), so an index another process
    deleted is never made again, empty and without its collection's record, by opening it."""
    if settings.store:
        if settings.language not in LANGUAGES:
            raise InvalidInput(f"QA_LANGUAGE={settings.language} is not one of {', '.join(LANGUAGES)}")
        # Imported here: the embedded default needs no Postgres driver.
        from qa.store.postgres import PostgresStore

        dim = PostgresStore.stored_dim(settings.store, settings.index_name)
        if dim is None and existing_only:
            raise gone(settings)
        return PostgresStore(
            settings.store,
            model=model,
            dim=new_dim() if dim is None else dim,
            index_name=settings.index_name,
            extra=extra,
            new_only=new_only,
            existing_only=existing_only,
            ef_search=settings.pg_ef_search,
            pool_size=settings.pg_pool_size,
            # English is Postgres's `english` configuration; any other language qa.language's
            # analysis, the embedded store's (postgres/analysis.py).
            language=settings.language,
            lexical_stemmer=settings.lexical_stemmer,
        )
    from qa.store.embedded import EmbeddedStore, index_options

    path = settings.index_path
    dim = EmbeddedStore.stored_dim(path)
    if dim is None and existing_only:
        raise gone(settings)
    return EmbeddedStore(
        path,
        model=model,
        dim=new_dim() if dim is None else dim,
        extra=extra,
        lexical_stemmer=settings.lexical_stemmer,
        index_options=index_options(settings),
        language=settings.language,
        create=not existing_only,
    )


def gone(settings: Settings) -> IndexGone:
    """The error of opening an index that does not exist (any more) where it must."""
    return IndexGone(f"index {describe_location(settings)} does not exist: it was deleted")


def index_exists(settings: Settings) -> bool:
    """Whether the store ``settings`` name holds an index already (read commands refuse to make one)."""
    if settings.store:
        from qa.store.postgres import PostgresStore

        return PostgresStore.stored_dim(settings.store, settings.index_name) is not None
    from qa.store.embedded import EmbeddedStore

    return EmbeddedStore.stored_dim(settings.index_path) is not None


def stored_manifest(settings: Settings) -> dict[str, str] | None:
    """The manifest rows of the index ``settings`` name, read without opening it; None: no index."""
    if settings.store:
        from qa.store.postgres import PostgresStore

        return PostgresStore.stored_manifest(settings.store, settings.index_name)
    from qa.store.embedded import EmbeddedStore

    return EmbeddedStore.stored_manifest(settings.index_path)


def index_names(settings: Settings) -> list[str]:
    """The names of the indexes in ``QA_INDEX_DIR`` (or, with ``QA_STORE``, the database), sorted."""
    if settings.store:
        from qa.store.postgres import PostgresStore

        return PostgresStore.index_names(settings.store)
    from qa.store.embedded import DB_FILE

    if not settings.index_dir.is_dir():
        return []
    return sorted(
        p.name for p in settings.index_dir.iterdir() if not p.name.startswith(".") and (p / DB_FILE).is_file()
    )


def drop_index(settings: Settings) -> None:
    """Remove the index ``settings`` name, with everything in it (close it first). With
    ``QA_STORE``, its schema is dropped; its directory (jobs) is removed in both cases."""
    if settings.store:
        from qa.store.postgres import PostgresStore

        PostgresStore.drop_index(settings.store, settings.index_name)
    path = settings.index_path
    if not path.exists():
        return
    # Renamed first (atomic), so a crash half way through the removal never leaves half an index
    # under the name; hidden names are never listed as indexes.
    gone = path.with_name(f".deleted-{path.name}-{uuid.uuid4().hex[:8]}")
    path.rename(gone)
    shutil.rmtree(gone, ignore_errors=True)


def describe_location(settings: Settings) -> str:
    """Where the index lives, for messages: a directory, or a Postgres schema (password hidden)."""
    if not settings.store:
        return str(settings.index_path)
    from qa.store.postgres import redact, schema_name

    return f"{redact(settings.store)} schema {schema_name(settings.index_name)}"
