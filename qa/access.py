"""Who is asking, and which documents they may see: callers, scopes, keys files and access lists.

A **caller** is what a request's API key resolves to: a principal (``alice``), groups
(``hr``), and scopes per collection (``read``, ``write``, ``admin``; ``*`` names every
collection). ``admin`` implies ``read`` and ``write`` and sees every document.

A document's **access list** is its metadata field ``access``: a list of ``group:<name>`` and
``user:<name>`` entries. A caller sees a document when the document has no access list (public
to every reader), when one entry names the caller (``user:<principal>``) or one of its groups
(``group:<g>``), or when it is an admin of the collection. An empty list (``[]``) means admins
only. The stores apply this inside the first stage of retrieval (``qa.store.filters.Filters``).

Keys come from ``QA_KEYS_FILE`` (JSON, see ``KeysFile``; keys stored as sha256 hex digests) and
from ``QA_API_KEYS`` (plain keys: admin on every collection, as before scopes existed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qa.errors import Forbidden, InvalidInput, Unauthorized

log = logging.getLogger(__name__)

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
ALL_COLLECTIONS = "*"
# The collection of today's single index; collections (another branch) name others.
DEFAULT_COLLECTION = "default"
# The metadata field that holds a document's access list.
ACCESS_FIELD = "access"
# What the stores record for a document without an access list: visible to every reader.
PUBLIC = "*"

NAME = r"[A-Za-z0-9_.@+-]{1,128}"
ENTRY = re.compile(rf"^(group|user):{NAME}$")
PRINCIPAL = re.compile(rf"^{NAME}$")
# Most entries in one access list: each is one more value the stores match against.
MAX_ACCESS_ENTRIES = 256


@dataclass(frozen=True)
class Caller:
    """Who a request comes from. ``scopes`` maps a collection (or ``*``) to its scopes;
    ``key_id`` names the key (never the key itself) for job ownership and logs."""

    principal: str | None = None
    groups: tuple[str, ...] = ()
    scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    key_id: str | None = None

    def scopes_on(self, collection: str) -> frozenset[str]:
        return self.scopes.get(collection, frozenset()) | self.scopes.get(ALL_COLLECTIONS, frozenset())

    def can(self, scope: Scope, collection: str = DEFAULT_COLLECTION) -> bool:
        """Whether the caller holds ``scope`` on ``collection`` (admin implies read and write)."""
        held = self.scopes_on(collection)
        return scope in held or "admin" in held

    def identities(self) -> tuple[str, ...]:
        """The access-list entries that name this caller: ``user:<principal>``, ``group:<g>``..."""
        own = (f"user:{self.principal}",) if self.principal else ()
        return own + tuple(f"group:{g}" for g in self.groups)

    def visibility(self, collection: str = DEFAULT_COLLECTION) -> tuple[str, ...] | None:
        """What the stores filter on: None (every document) for an admin of ``collection``, else
        the caller's identities (documents without an access list are always included)."""
        if self.can("admin", collection):
            return None
        return self.identities()

    def sees(self, access: Iterable[str] | None, collection: str = DEFAULT_COLLECTION) -> bool:
        """Whether a document with ``access`` (None: no list, public) is visible to the caller."""
        allowed = self.visibility(collection)
        if allowed is None or access is None:
            return True
        return not set(access).isdisjoint(allowed)


ADMIN = Caller(scopes={ALL_COLLECTIONS: frozenset({"admin"})}, key_id="admin")
# A request without a key on a server that has keys, on a route that lets it read.
ANONYMOUS = Caller(scopes={ALL_COLLECTIONS: frozenset({"read"})})


def document_access(metadata: Mapping[str, Any]) -> tuple[str, ...] | None:
    """A document's access list from its metadata (None: it has none, every reader sees it)."""
    value = metadata.get(ACCESS_FIELD)
    if not isinstance(value, list):
        return None
    return tuple(v for v in value if isinstance(v, str))


def check_access(value: Any, where: str = "") -> list[str]:
    """An access list as given (JSON, a form field, ``--access``), checked and normalized: sorted,
    without duplicates.

    Raises:
        InvalidInput: not a list of ``group:<name>`` / ``user:<name>`` strings.
    """
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise InvalidInput(f'{where}access must be a list such as ["group:hr", "user:alice"], got {value!r:.80}')
    if len(value) > MAX_ACCESS_ENTRIES:
        raise InvalidInput(f"{where}access has {len(value)} entries, more than {MAX_ACCESS_ENTRIES}; use groups")
    for entry in value:
        if not isinstance(entry, str) or not ENTRY.match(entry):
            raise InvalidInput(
                f"{where}access entry {entry!r:.80} is not 'group:<name>' or 'user:<name>' "
                "(names: letters, digits and _.@+-, up to 128)"
            )
    return sorted(set(value))


def with_checked_access(metadata: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``metadata`` with its ``access`` field checked and normalized (unchanged without one)."""
    if ACCESS_FIELD not in metadata:
        return metadata
    return {**metadata, ACCESS_FIELD: check_access(metadata[ACCESS_FIELD], where)}


# -- keys --------------------------------------------------------------------------------------


def key_digest(key: str) -> str:
    """How a keys file stores a key: its sha256, hex. Keys are random (``secrets``), so an unsalted
    fast hash is enough: the file gives nobody a key, and nothing is there to guess."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyEntry:
    """One key of a keys file (the key itself is never kept, only its digest)."""

    id: str
    sha256: str
    scopes: Mapping[str, frozenset[str]]
    principal: str | None = None
    groups: tuple[str, ...] = ()

    def caller(self) -> Caller:
        return Caller(self.principal, self.groups, self.scopes, self.id)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "sha256": self.sha256}
        if self.principal:
            out["principal"] = self.principal
        if self.groups:
            out["groups"] = list(self.groups)
        out["scopes"] = {c: sorted(s) for c, s in self.scopes.items()}
        return out


def parse_scopes(raw: Any, where: str) -> dict[str, frozenset[str]]:
    """``{"default": ["read"], "*": ["admin"]}`` (or the CLI's ``default:read,write``) checked."""
    if isinstance(raw, str):
        pairs: dict[str, list[str]] = {}
        for part in raw.split():
            collection, sep, names = part.partition(":")
            if not sep:
                collection, names = ALL_COLLECTIONS, part
            pairs.setdefault(collection, []).extend(n for n in names.split(",") if n)
        raw = pairs
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput(f'{where}scopes must map collections to scopes, e.g. {{"default": ["read"]}}, got {raw!r}')
    scopes: dict[str, frozenset[str]] = {}
    for collection, names in raw.items():
        if collection != ALL_COLLECTIONS and not PRINCIPAL.match(str(collection)):
            raise InvalidInput(f"{where}collection {collection!r} is not a collection name or '*'")
        listed = [names] if isinstance(names, str) else names
        if not isinstance(listed, list) or not listed or any(n not in SCOPES for n in listed):
            raise InvalidInput(f"{where}scopes of {collection!r} must be among {', '.join(SCOPES)}, got {names!r}")
        scopes[str(collection)] = frozenset(listed)
    return scopes


def parse_entry(raw: Any, n: int) -> KeyEntry:
    where = f"key {n + 1}: "
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}must be an object with 'sha256' (or 'key') and 'scopes'")
    digest = raw.get("sha256")
    if digest is None and isinstance(raw.get("key"), str):
        digest = key_digest(raw["key"])  # a plain key in the file: allowed, hashed as read
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InvalidInput(f"{where}'sha256' must be the 64 hex digits of the key's sha256 (`qa keys add` writes it)")
    principal = raw.get("principal")
    if principal is not None and not (isinstance(principal, str) and PRINCIPAL.match(principal)):
        raise InvalidInput(f"{where}principal {principal!r} must be letters, digits and _.@+-")
    groups = raw.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and PRINCIPAL.match(g) for g in groups):
        raise InvalidInput(f"{where}groups must be a list of names (letters, digits and _.@+-), got {groups!r}")
    key_id = raw.get("id") or digest[:12]
    return KeyEntry(str(key_id), digest, parse_scopes(raw.get("scopes"), where), principal, tuple(groups))


def read_keys_file(path: Path) -> list[KeyEntry]:
    """The keys of a keys file (``{"keys": [...]}``); a missing file has none.

    Raises:
        InvalidInput: the file is not valid JSON or an entry is malformed (the message says which).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"keys file {path} cannot be read as JSON: {exc}") from None
    raw = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise InvalidInput(f'keys file {path} must be {{"keys": [...]}}')
    return [parse_entry(e, n) for n, e in enumerate(raw)]


def write_keys_file(path: Path, entries: list[KeyEntry]) -> None:
    """Write the keys file atomically, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"keys": [e.as_json() for e in entries]}, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def add_key(
    path: Path, scopes: str | dict[str, Any], principal: str | None = None, groups: Iterable[str] = ()
) -> tuple[str, KeyEntry]:
    """Make a new random key, record its digest in the keys file, and return (key, entry): the
    key is shown once and never stored."""
    entries = read_keys_file(path)
    key = "qa_" + secrets.token_urlsafe(32)
    digest = key_digest(key)
    raw = {"id": f"k_{digest[:10]}", "sha256": digest, "scopes": scopes, "principal": principal, "groups": list(groups)}
    entry = parse_entry(raw, len(entries))
    write_keys_file(path, [*entries, entry])
    return key, entry


def remove_key(path: Path, key_id: str) -> bool:
    entries = read_keys_file(path)
    kept = [e for e in entries if e.id != key_id]
    if len(kept) == len(entries):
        return False
    write_keys_file(path, kept)
    return True


class Keyring:
    """Every key the server accepts: the keys file's entries and the plain ``QA_API_KEYS``.

    The keys file is read again when it changes (its mtime, size or inode; looked at once per
    ``RELOAD_SECONDS`` at most, one ``stat``), so `qa keys add` and `qa keys remove` take effect on
    a running server. A file that has become unreadable keeps the keys last read (logged) until
    it is fixed. Once there have been keys, keys stay required: a keys file emptied or removed
    leaves no key from it valid, it never opens the server to every caller."""

    RELOAD_SECONDS = 1.0

    def __init__(
        self, entries: Iterable[KeyEntry] = (), plain: Iterable[str] = (), keys_file: str | Path | None = None
    ) -> None:
        # A plain key is admin everywhere, and has no principal.
        self.plain = [KeyEntry(f"plain_{n + 1}", key_digest(k), ADMIN.scopes) for n, k in enumerate(plain)]
        self.keys_file = Path(keys_file) if keys_file else None
        self.entries = [*entries, *self.plain]
        self._required = bool(self.entries)
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, keys_file: str | Path | None, plain: Iterable[str] = ()) -> Keyring:
        return cls(read_keys_file(Path(keys_file)) if keys_file else (), plain, keys_file)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.keys_file is None:
            return None
        try:
            st = self.keys_file.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self, force: bool = False) -> None:
        """Read the keys file again if it changed since it was last read (at most once per
        ``RELOAD_SECONDS`` unless ``force``)."""
        if self.keys_file is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < self.RELOAD_SECONDS:
            return
        with self._lock:
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return
            try:
                entries = read_keys_file(self.keys_file)
            except InvalidInput as exc:
                log.error("keys file changed but cannot be read; keeping the keys read before: %s", exc)
                self._stamp = stamp  # read again when it changes again
                return
            self.entries = [*entries, *self.plain]
            self._required = self._required or bool(self.entries)
            self._stamp = stamp
            log.info("keys file %s read again: %d keys", self.keys_file, len(entries))

    def __bool__(self) -> bool:
        """Whether keys are required: there are keys, or there have been."""
        self.refresh()
        return self._required

    def caller(self, authorization: str | None) -> Caller:
        """The caller of an ``Authorization`` header.

        Raises:
            Unauthorized: no bearer key. Forbidden: a key that is not one of these.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("this route needs an API key: send 'Authorization: Bearer <key>' (see QA_API_KEYS)")
        self.refresh()
        given = key_digest(token.strip()).encode()
        # Every digest compared, without stopping early: timing says nothing about which matched.
        found: KeyEntry | None = None
        for entry in self.entries:
            if hmac.compare_digest(given, entry.sha256.encode()) and found is None:
                found = entry
        if found is None:
            raise Forbidden("the API key is not valid for this server")
        return found.caller()
