"""Collections: named indexes, each with its own settings, served by one process.

A collection is an index (``<QA_INDEX_DIR>/<name>/``, or the Postgres schema ``qa_<name>``) plus
the settings it overrides: the server's ``Settings`` with a validated dict of overrides of the
fields in ``COLLECTION_FIELDS`` (model, backend, chunking, lexical analyser, language...). The
overrides are stored in the index's own manifest (``extra.collection``, written when the index is
created), so both stores keep them, ``qa export``/``qa import`` carry them, and a restart finds
them. The default collection is ``QA_INDEX_NAME`` (``default``): an index made before collections
opens as it is, with the server's settings.

``Collections`` is the registry: create, list, describe, delete, and ``get`` a ``QAService`` per
collection, opened on first use and kept; thread-safe. Collections of the same model and backend
share one loaded embedder (and its query cache); all share the default's ingestion worker, so
ingestion keeps its ``QA_INGEST_THREADS`` cores whatever the number of collections.

A request holds its collection with ``using`` (or ``acquire``/``release``): ``delete`` refuses new
requests at once, waits up to ``DRAIN_SECONDS`` for those in flight, and closes the service only
when the last one lets go, so a request is never cut off by a close in its own process. Another
process (a second worker, a replica) notices a deletion at its next request: the embedded store
by one stat, Postgres by the list of its schemas, read at most once per ``RECHECK_SECONDS``; the
same list answers unknown names without a connection each. ``gone`` tells the API whether a
request that failed had its collection deleted under it (a 404, not a 500).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from qa.config import Settings
from qa.embed import Embedder, load_embedder
from qa.embed.queries import QueryEmbedder
from qa.errors import Conflict, IndexMismatch, InvalidInput, NotFound, QAError
from qa.jobs import JOBS_FILE
from qa.service import QAService
from qa.store import describe_location, drop_index, index_names, stored_manifest
from qa.store.embedded import DB_FILE, EmbeddedStore

__all__ = [
    "COLLECTION_FIELDS",
    "DRAIN_SECONDS",
    "MAX_NAME_CHARS",
    "NAME_PATTERN",
    "OPENAI_MODEL_ID",
    "RECHECK_SECONDS",
    "CollectionInfo",
    "Collections",
    "check_name",
    "exported_settings",
    "validate_overrides",
]

log = logging.getLogger(__name__)

# The settings a collection may set for itself: what its index is built with (model, backend,
# chunking, lexical analyser, language) and how it answers by default. The rest (limits, keys,
# the server) are the server's. A field the settings do not have yet (``language`` before
# QA_LANGUAGE exists) is still stored and shown, and passed on once ``Settings`` has it.
COLLECTION_FIELDS = (
    "model",
    "embed_backend",
    "chunk_tokens",
    "chunk_overlap",
    "encoding",
    "chunk_counter",
    "lexical_stemmer",
    "lexical_stopwords",
    "language",
    "retrieval_mode",
    "min_answer_score",
)
MAX_NAME_CHARS = 48
# Lower case only: two names differing by case would be one directory on a case-insensitive disk.
NAME_PATTERN = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_NAME_CHARS - 1}}}")
# The model id OpenAI clients have always used for this service: the default collection.
OPENAI_MODEL_ID = "qa"
# Where a collection's record lives in its index's manifest ``extra``.
MANIFEST_KEY = "collection"
# How long DELETE waits for the requests a collection is serving to finish before it drops the
# index (a request still running then, e.g. a long stream, keeps its service open until it ends).
DRAIN_SECONDS = 10.0
# How long the list of a database's collections is trusted (Postgres): deletions and creations by
# other processes are seen within this, and a request never opens a connection just to look.
RECHECK_SECONDS = 1.0


def check_name(name: str) -> str:
    """``name`` if it can name a new collection.

    Raises:
        InvalidInput: empty, too long, or characters other than a-z, 0-9, ``_`` and ``-``.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 80 else f"{str(name)[:80]}..."
        raise InvalidInput(
            f"collection name {shown!r} is not allowed: use 1 to {MAX_NAME_CHARS} lower-case letters, digits, "
            "'_' or '-', starting with a letter or digit"
        )
    if name == OPENAI_MODEL_ID:
        raise InvalidInput(f"collection name {name!r} is reserved: it is the default collection's OpenAI model id")
    return name


def _overrides_model() -> type[BaseModel]:
    """A model of the overridable fields, validated as ``Settings`` validates them."""
    fields: dict[str, Any] = {}
    for name in COLLECTION_FIELDS:
        info = Settings.model_fields.get(name)
        if info is not None:
            fields[name] = (info.annotation, info)
        elif name == "language":
            fields[name] = (
                str | None,
                Field(None, max_length=40, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$|^multilingual$"),
            )
    return create_model("CollectionSettings", __config__=ConfigDict(extra="forbid"), **fields)


_Overrides = _overrides_model()


def validate_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` checked as the settings check them, with only the fields given.

    Raises:
        InvalidInput: a field that is not a collection's, or a bad value (the message quotes it).
    """
    if not isinstance(overrides, dict):
        raise InvalidInput("settings must be an object of setting names and values")
    try:
        validated = _Overrides.model_validate(overrides)
    except ValidationError as exc:
        parts = []
        for e in exc.errors()[:5]:
            field = ".".join(str(x) for x in e.get("loc", ()))
            if e.get("type") == "extra_forbidden":
                parts.append(f"{field!r} is not a collection setting (one of: {', '.join(COLLECTION_FIELDS)})")
            else:
                parts.append(f"{field}: {e.get('msg')} (got {e.get('input')!r})")
        raise InvalidInput("collection settings refused: " + "; ".join(parts)) from exc
    return validated.model_dump(exclude_unset=True, mode="json")


def settings_for(base: Settings, name: str, overrides: dict[str, Any]) -> Settings:
    """The settings of collection ``name``: the server's, its index name, and its overrides of the
    fields ``Settings`` has."""
    # Validated already (``validate_overrides``, with the settings' own field rules).
    known = {k: v for k, v in overrides.items() if k in Settings.model_fields}
    settings = base.model_copy(update={**known, "index_name": name})
    if settings.chunk_overlap >= settings.chunk_tokens:
        raise InvalidInput(
            f"chunk_overlap {settings.chunk_overlap} must be smaller than chunk_tokens {settings.chunk_tokens}"
        )
    return settings


@dataclass(frozen=True)
class CollectionInfo:
    """What ``describe`` reports: the settings a collection overrides, the ones it runs with, and its size."""

    name: str
    default: bool
    overrides: dict[str, Any]
    settings: dict[str, Any]
    documents: int
    chunks: int
    model: str
    location: str
    created_at: float | None
    error: str | None = None  # why it cannot be opened (its stored settings no longer validate)


class Collections:
    """The collections of one server or command: ``get`` opens each once, lazily; thread-safe."""

    def __init__(self, settings: Settings, default: QAService | None = None) -> None:
        """``default``: an already built service for the default collection (``QA_INDEX_NAME``)."""
        self.settings = settings
        self.default_name = settings.index_name
        self._lock = threading.RLock()
        self._embedder_lock = threading.Lock()
        self._services: dict[str, QAService] = {}
        self._embedders: dict[tuple[str, ...], Embedder] = {}
        self._serving = False
        # Requests holding each open service, and services deleted while held (closed at the last release).
        self._leases: dict[QAService, int] = {}
        self._retired: set[QAService] = set()
        self._released = threading.Condition(self._lock)
        self._deleting: set[str] = set()
        # Postgres: the database's index names, and when they were read (``_listed``).
        self._list_lock = threading.Lock()
        self._listed_names: frozenset[str] = frozenset()
        self._listed_at = -RECHECK_SECONDS
        if default is not None:
            self._services[self.default_name] = default
            if default.embedder_loaded:
                # Collections of the same model reuse the default's (tests give one already loaded).
                self._embedders[_embedder_key(default.settings)] = default.embedder

    # -- opening ------------------------------------------------------------------------------

    @property
    def default(self) -> QAService:
        return self.get(None)

    def get(self, name: str | None = None) -> QAService:
        """The service of collection ``name`` (None or empty: the default), opened on first use.

        Raises:
            NotFound: no collection of that name (an invalid name included).
        """
        name = name or self.default_name
        svc = self._services.get(name)
        if svc is not None and (name == self.default_name or self._still_there(svc)):
            return svc
        with self._lock:
            if name in self._deleting:
                raise NotFound(self._unknown(name))
            svc = self._services.get(name)
            if svc is not None:
                if name == self.default_name or self._still_there(svc):
                    return svc
                # Deleted by another process (a second worker): forget it.
                self._services.pop(name)
                self._retire(svc)
            if name == self.default_name:
                svc = self._open(name, self._stored_overrides(self._base_settings(name)))
            else:
                overrides = self._record(name)
                if overrides is None:
                    raise NotFound(self._unknown(name))
                svc = self._open(name, overrides)
            self._services[name] = svc
            return svc

    def acquire(self, name: str | None = None) -> QAService:
        """``get``, held until ``release``: a ``delete`` meanwhile waits for it (up to
        ``DRAIN_SECONDS``) and never closes the service under it.

        Raises:
            NotFound: no collection of that name, or one being deleted.
        """
        svc = self.get(name)
        with self._lock:
            if self._services.get(svc.collection) is not svc:  # deleted since ``get`` returned it
                raise NotFound(self._unknown(svc.collection))
            self._leases[svc] = self._leases.get(svc, 0) + 1
        return svc

    def release(self, svc: QAService) -> None:
        """Let go of a service ``acquire`` gave; the last release of a deleted one closes it."""
        with self._lock:
            held = self._leases.get(svc, 0) - 1
            if held > 0:
                self._leases[svc] = held
                return
            self._leases.pop(svc, None)
            self._released.notify_all()
            retired = svc in self._retired
            self._retired.discard(svc)
        if retired:
            svc.close()

    @contextmanager
    def using(self, name: str | None = None) -> Iterator[QAService]:
        """The service of collection ``name``, held for the block (``acquire``/``release``)."""
        svc = self.acquire(name)
        try:
            yield svc
        finally:
            self.release(svc)

    def gone(self, name: str) -> bool:
        """Whether collection ``name`` was deleted (here or by another process): a request on it
        that failed failed because of that. Asks the store afresh (errors are rare)."""
        if not name or name == self.default_name:
            return False
        if name in self._deleting:
            return True
        try:
            return self._record(name) is None
        except Exception:  # the store cannot say: the request's own error stands
            return False

    def _retire(self, svc: QAService) -> None:
        """Close ``svc`` (taken out of ``_services``) now, or at its last release if requests hold it."""
        with self._lock:
            if self._leases.get(svc):
                self._retired.add(svc)
                return
        svc.close()

    def for_model(self, model_id: str) -> QAService | None:
        """The collection an OpenAI ``model`` names: ``qa`` or a collection's name; None: none."""
        try:
            return self.get(None if model_id == OPENAI_MODEL_ID else model_id)
        except NotFound:
            return None

    def serving(self) -> None:
        """Every collection opened from now on (and those open) shares the cores as a server must."""
        self._serving = True
        for svc in list(self._services.values()):
            svc.serving()

    def resume_jobs(self) -> None:
        """Start the job runners of the collections that have jobs (acknowledged before a restart)."""
        for name in self.names():
            if name == self.default_name or (self._base_settings(name).index_path / JOBS_FILE).exists():
                try:
                    self.get(name).jobs.start()
                except NotFound:  # deleted by another process meanwhile: its jobs went with it
                    continue

    def _still_there(self, svc: QAService) -> bool:
        # One stat a request: an embedded collection deleted by another process is gone here too,
        # and so is one deleted and made again (its store has the old file open); on Postgres,
        # the list of schemas read at most once a second.
        if svc.settings.store:
            return svc.collection in self._listed()
        store = svc.opened_store
        if isinstance(store, EmbeddedStore):
            return not store.deleted()
        return (svc.settings.index_path / DB_FILE).exists()

    def _listed(self) -> frozenset[str]:
        """The names of the database's indexes (Postgres), read again once ``RECHECK_SECONDS`` old."""
        with self._list_lock:
            if time.monotonic() - self._listed_at >= RECHECK_SECONDS:
                self._listed_names = frozenset(index_names(self.settings))
                self._listed_at = time.monotonic()
            return self._listed_names

    def _relist(self) -> None:
        """Forget the list of names: this process created or deleted one."""
        with self._list_lock:
            self._listed_at = -RECHECK_SECONDS

    def _base_settings(self, name: str) -> Settings:
        return self.settings.model_copy(update={"index_name": name})

    def _stored_overrides(self, settings: Settings) -> dict[str, Any]:
        record = _record_of(stored_manifest(settings))
        return record.get("settings", {}) if record else {}

    def _record(self, name: str) -> dict[str, Any] | None:
        """The stored overrides of collection ``name``, or None if there is no such collection."""
        if not NAME_PATTERN.fullmatch(name):
            return None
        if self.settings.store and name not in self._listed():
            return None  # no connection for an unknown name (a typo, a scan): the list is a second old at most
        record = _record_of(stored_manifest(self._base_settings(name)))
        return None if record is None else dict(record.get("settings", {}))

    def _unknown(self, name: str) -> str:
        shown = name if len(name) <= 80 else f"{name[:80]}..."
        return f"no collection {shown!r}; list them with GET /v1/collections or `qa collection list`"

    def _open(self, name: str, overrides: dict[str, Any]) -> QAService:
        try:
            overrides = validate_overrides(overrides)
            settings = settings_for(self.settings, name, overrides)
        except InvalidInput as exc:  # stored by another qa, or edited: the server's problem, not the request's
            raise IndexMismatch(
                f"collection {name!r} cannot be opened: its stored settings no longer validate ({exc}); "
                f"delete it (DELETE /v1/collections/{name}) and create it again with valid settings"
            ) from exc
        default = self._services.get(self.default_name)
        key = _embedder_key(settings)
        svc = QAService(
            settings,
            embedder=self._embedders.get(key),
            load_embedder=lambda: self._embedder(settings),
            # The default's worker: one ingestion at a time for the whole server.
            ingest_worker=default.ingest_worker if default is not None and name != self.default_name else None,
            collection=name,
        )
        # A collection other than the default is found, never made, when its store opens: one
        # deleted by another process since ``get`` found it stays deleted (``IndexGone``, a 404).
        svc.existing_index_only = name != self.default_name
        if self._serving:
            svc.serving()
        return svc

    def _embedder(self, settings: Settings) -> Embedder:
        """The loaded embedder of ``settings``' model and backend, shared by the collections using it."""
        key = _embedder_key(settings)
        with self._embedder_lock:
            embedder = self._embedders.get(key)
            if embedder is None:
                s = settings
                embedder = QueryEmbedder(
                    load_embedder(s),
                    cache_size=s.query_cache_size,
                    max_batch=s.query_batch_max,
                    max_wait=s.query_batch_wait_ms / 1000,
                )
                self._embedders[key] = embedder
            return embedder

    # -- the registry -------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The default collection, then the others by name."""
        others = [n for n in index_names(self.settings) if n != self.default_name and NAME_PATTERN.fullmatch(n)]
        return [self.default_name, *(n for n in others if self._record(n) is not None)]

    def create(self, name: str, overrides: dict[str, Any] | None = None, dim: int | None = None) -> CollectionInfo:
        """Make collection ``name`` with ``overrides`` of the server's settings: its index is created
        now with the overrides in its manifest, and ``dim``-dimension vectors (None: its model's,
        which loads it).

        Raises:
            InvalidInput: a bad name or setting. Conflict: the name is taken.
        """
        check_name(name)
        validated = validate_overrides(overrides or {})
        settings = settings_for(self.settings, name, validated)
        with self._lock:
            manifest = stored_manifest(settings)
            if name == self.default_name or name in self._services or _record_of(manifest) is not None:
                raise Conflict(f"collection {name!r} exists already; delete it first or choose another name")
            if manifest is not None:
                raise self._left_over(name, settings)
            if not settings.store:
                settings.index_dir.mkdir(parents=True, exist_ok=True)
                try:
                    # mkdir is atomic: of two processes creating one name, one gets the directory.
                    settings.index_path.mkdir()
                except FileExistsError:
                    if _record_of(stored_manifest(settings)) is not None:  # another process's, just made
                        raise Conflict(
                            f"collection {name!r} exists already (created by another process meanwhile); "
                            "delete it first or choose another name"
                        ) from None
                    raise self._left_over(name, settings, maybe_being_made=True) from None
            svc = self._open(name, validated)
            svc.existing_index_only = False
            svc.new_index_extra = {MANIFEST_KEY: {"settings": validated, "created_at": time.time()}}
            svc.new_index_dim = dim
            # Postgres: of two processes creating one name, the second finds the first's manifest
            # (under the bootstrap's lock) and gets a Conflict, not the first's index as its own.
            svc.new_index_only = True
            try:
                _ = svc.store  # creates the index, with the model's dimension
            except Conflict as exc:
                svc.close()  # the index is the other process's: left as it is
                raise Conflict(
                    f"collection {name!r} exists already (created by another process meanwhile); "
                    "delete it first or choose another name"
                ) from exc
            except BaseException as exc:
                svc.close()
                drop_index(settings)
                if isinstance(exc, QAError) or not isinstance(exc, Exception):
                    raise
                raise InvalidInput(
                    f"collection {name!r} not created: model {settings.model!r} ({settings.embed_backend}) "
                    f"did not load: {exc}"
                ) from exc
            self._services[name] = svc
            self._relist()
        log.info("created collection %s at %s", name, describe_location(settings))
        return self.describe(name)

    def _left_over(self, name: str, settings: Settings, maybe_being_made: bool = False) -> Conflict:
        """The error of creating ``name`` over an index (or directory) that holds no collection:
        left by a create that did not finish, or by an older qa. It is not removed here: a
        directory without an index yet may be another process's create, half way (``maybe_being_made``;
        an index's manifest is written with its record, so one without is never that). Nothing
        serves it, so removing it by hand is safe."""
        if settings.store:
            from qa.store.postgres import schema_name

            where = f"schema {schema_name(name)}"
            fix = f"drop that schema (DROP SCHEMA {schema_name(name)} CASCADE; the data in it is lost)"
        else:
            where = str(settings.index_path)
            fix = f"remove that directory (rm -r {settings.index_path}; any data in it is lost)"
        busy = (
            "another process may be creating it right now (then it is listed in a moment); else "
            if maybe_being_made
            else ""
        )
        return Conflict(
            f"collection {name!r} cannot be created: {where} exists but holds no collection record (left by "
            f"a create that did not finish, or by an older qa; no request serves it); {busy}{fix} and "
            "create it again, or choose another name"
        )

    def describe(self, name: str | None = None) -> CollectionInfo:
        """Collection ``name``'s settings and size. Raises NotFound."""
        svc = self.get(name)
        name = svc.collection
        if name == self.default_name and stored_manifest(svc.settings) is None:
            # No index yet (a new server): described as empty, not created by looking.
            record: dict[str, Any] = {}
            model, counts = svc.model_name, {}
        else:
            manifest = svc.store.manifest
            record = manifest.extra.get(MANIFEST_KEY) or {}
            model, counts = manifest.model, svc.counts()
        overrides = dict(record.get("settings", {}))
        effective = {
            f: getattr(svc.settings, f) if f in Settings.model_fields else overrides.get(f) for f in COLLECTION_FIELDS
        }
        return CollectionInfo(
            name=name,
            default=name == self.default_name,
            overrides=overrides,
            settings=effective,
            documents=int(counts.get("documents", 0)),
            chunks=int(counts.get("chunks", 0)),
            model=model,
            location=describe_location(svc.settings),
            created_at=record.get("created_at"),
        )

    def list(self) -> list[CollectionInfo]:
        """Every collection, described (the default first)."""
        found = []
        for name in self.names():
            try:
                found.append(self.describe(name))
            except NotFound:  # deleted meanwhile
                continue
            except QAError as exc:  # one collection that cannot be opened: listed with why, the others served
                found.append(self._broken(name, exc))
        return found

    def _broken(self, name: str, exc: QAError) -> CollectionInfo:
        """What can be said of a collection that does not open: its stored record, and the error."""
        settings = self._base_settings(name)
        try:
            manifest = stored_manifest(settings) or {}
        except QAError:
            manifest = {}
        record = _record_of(manifest) or {}
        overrides = record.get("settings")
        return CollectionInfo(
            name=name,
            default=name == self.default_name,
            overrides=dict(overrides) if isinstance(overrides, dict) else {},
            settings={},
            documents=0,
            chunks=0,
            model=str(manifest.get("model", "")),
            location=describe_location(settings),
            created_at=record.get("created_at") if isinstance(record.get("created_at"), (int, float)) else None,
            error=str(exc),
        )

    def open_stats(self) -> dict[str, dict[str, Any]]:
        """``stats()`` of each collection open in this process, by name (the metrics' index gauges);
        one that fails (busy, broken, deleted meanwhile) is left out."""
        found = {}
        for name, svc in list(self._services.items()):
            try:
                found[name] = svc.stats()
            except Exception:  # a scrape must never fail because of one collection
                continue
        return found

    def delete(self, name: str) -> None:
        """Remove collection ``name`` and its index. Requests it is serving may fail; new ones get 404.

        Raises:
            Conflict: the default collection (delete its documents instead). NotFound.
        """
        if name == self.default_name or name == OPENAI_MODEL_ID:
            raise Conflict(
                f"the default collection {self.default_name!r} cannot be deleted; delete its documents instead"
            )
        with self._lock:
            if name in self._deleting:
                raise NotFound(self._unknown(name))
            svc = self._services.pop(name, None)
            if svc is None and self._record(name) is None:
                raise NotFound(self._unknown(name))
            # New requests are refused from now on; those in flight may finish first.
            self._deleting.add(name)
            try:
                deadline = time.monotonic() + DRAIN_SECONDS
                while svc is not None and self._leases.get(svc) and time.monotonic() < deadline:
                    self._released.wait(deadline - time.monotonic())
                settings = svc.settings if svc is not None else self._base_settings(name)
                if svc is not None:
                    self._retire(svc)
                drop_index(settings)
                self._relist()
            finally:
                self._deleting.discard(name)
        log.info("deleted collection %s", name)

    def close(self, default: bool = True) -> None:
        """Close every open collection (``default``: the default's too)."""
        with self._lock:
            for name in [n for n in self._services if n != self.default_name]:
                self._services.pop(name).close()
            for svc in list(self._retired):
                svc.close()
            self._retired.clear()
            if default and self.default_name in self._services:
                self._services.pop(self.default_name).close()


def exported_settings(extra: dict[str, Any], model: str) -> dict[str, Any]:
    """The overrides to re-create an exported collection with: those its manifest's ``extra``
    recorded, and the model its vectors were made with."""
    record = extra.get(MANIFEST_KEY) if isinstance(extra, dict) else None
    settings = dict(record.get("settings", {})) if isinstance(record, dict) else {}
    return {**settings, "model": model}


def _record_of(manifest: dict[str, str] | None) -> dict[str, Any] | None:
    """The collection record in a manifest's ``extra``: None without an index or without a record."""
    if manifest is None:
        return None
    try:
        extra = json.loads(manifest.get("extra", "{}"))
    except ValueError:
        return None
    record = extra.get(MANIFEST_KEY) if isinstance(extra, dict) else None
    return record if isinstance(record, dict) else None


def _embedder_key(settings: Settings) -> tuple[str, ...]:
    return (settings.model, settings.embed_backend, settings.onnx_cache_dir, str(settings.embed_batch_size))
