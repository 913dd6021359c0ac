"""API keys: who may write, and (optionally) who may read.

With ``QA_API_KEYS`` set, requests that change the index (POST, PUT, PATCH, DELETE under
``/v1/documents``, ``/v1/collections``) need ``Authorization: Bearer <key>``; with ``QA_REQUIRE_KEY_FOR_READ`` every
``/v1/`` route does, and ``/mcp`` too, and so do the docs unless ``QA_OPEN_DOCS_AND_METRICS``.
``/metrics`` counts every collection's documents, those an access list hides included, so whenever
keys are set it needs a key that is admin of every collection (``*``: a ``QA_API_KEYS`` key),
unless ``QA_OPEN_DOCS_AND_METRICS`` opens it. On ``/mcp`` every call is a POST, reads as well: the one tool that
writes (``add_document``) checks the key itself (``qa.api.mcp``), with ``check_key``.
``/healthz`` and the chat page stay open. Keys are compared in constant time and never logged.

Without keys as with them: only the host names of ``QA_ALLOWED_HOSTS`` are answered (DNS
rebinding), and browser pages on other origins may not change anything (cross-site writes).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from qa.access import Scope
from qa.errors import Forbidden, Unauthorized

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What describes the API and the index without being part of it: the docs closed with the reads,
# the metrics (the index's counts) to all but admins of every collection.
METRICS_PATH = "/metrics"
DOCS_AND_METRICS = frozenset({METRICS_PATH, "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
# The MCP server's endpoint (``qa.api.mcp``): its tools read, but for ``add_document``.
MCP_PATH = "/mcp"


def stored_key(path: Path) -> str:
    """The API key kept in ``path``: read it, or make a random one there (readable by this user only)
    the first time. For a server that must start on a public address with no QA_API_KEYS given
    (``qa serve --key-file``, the container's default command)."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    new = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def parse_keys(raw: str) -> tuple[str, ...]:
    """Comma-separated keys; blanks ignored."""
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def needs_key(
    method: str, path: str, keys: tuple[str, ...], for_read: bool, open_docs_and_metrics: bool = False
) -> bool:
    if not keys:
        return False
    if path == METRICS_PATH:
        return not open_docs_and_metrics
    if path in DOCS_AND_METRICS:
        return for_read and not open_docs_and_metrics
    if path == MCP_PATH or path.startswith(MCP_PATH + "/"):
        return for_read
    if not path.startswith("/v1/"):
        return False
    if for_read:
        return True
    return method.upper() in WRITE_METHODS and path.startswith(("/v1/documents", "/v1/collections"))


def required_scope(method: str, path: str, open_metrics: bool = False) -> Scope | None:
    """The scope (``qa.access``) a route needs of the caller: ``write`` to change documents,
    ``admin`` for the index's statistics and metrics (none for the metrics with ``open_metrics``,
    ``QA_OPEN_DOCS_AND_METRICS``), ``read`` for the rest of ``/v1/`` and ``/mcp`` (whose one
    writing tool checks ``write`` itself); None outside them."""
    if path.startswith("/v1/documents") and method.upper() in WRITE_METHODS:
        return "write"
    if path.startswith("/v1/collections") and method.upper() in WRITE_METHODS:
        return "admin"
    if path == "/v1/stats" or (path == METRICS_PATH and not open_metrics):
        return "admin"
    if path.startswith("/v1/") or path == MCP_PATH or path.startswith(MCP_PATH + "/"):
        return "read"
    return None


def check_key(authorization: str | None, keys: tuple[str, ...]) -> None:
    """Raise Unauthorized (no key) or Forbidden (wrong key); return when the key is one of ``keys``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this route needs an API key: send 'Authorization: Bearer <key>' (see QA_API_KEYS)")
    given = token.strip().encode()
    # Compare against every key, without stopping early, so timing says nothing about which matched.
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(given, key.encode())
    if not ok:
        raise Forbidden("the API key is not valid for this server")


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# Host names a server bound to any address answers to by default; the bind address is added.
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})


def _host_name(host: str) -> str:
    """``Host`` header or setting entry -> bare lowercase name: port, IPv6 brackets, final dot dropped."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def allowed_hosts(raw: str, bind_host: str) -> frozenset[str] | None:
    """The host names ``QA_ALLOWED_HOSTS`` allows; None when ``*`` allows any.

    Empty: localhost, 127.0.0.1, ::1 and the bind address (unless it is a wildcard like 0.0.0.0,
    which no client names).
    """
    names = parse_keys(raw)
    if "*" in names:
        return None
    if not names:
        names = DEFAULT_HOSTS + (() if bind_host.strip() in WILDCARD_BINDS else (bind_host,))
    return frozenset(_host_name(n) for n in names)


def host_refusal(host: str | None, allowed: frozenset[str] | None) -> str | None:
    """Why a request's ``Host`` is refused, or None. A page on a name the attacker controls that
    resolves to this server (DNS rebinding) sends that name as Host."""
    if allowed is None or host is None:  # any host allowed; an HTTP/1.0 client without Host is no browser
        return None
    if _host_name(host) in allowed:
        return None
    return (
        f"host {host!r} is not served here: list its name in QA_ALLOWED_HOSTS (comma-separated, * for any); "
        f"allowed now: {', '.join(sorted(allowed))}"
    )


def _origin_netloc(origin: str) -> str:
    _, sep, rest = origin.partition("://")
    return rest.rstrip("/").lower() if sep else ""


def origin_refusal(
    method: str, origin: str | None, fetch_site: str | None, host: str | None, allowed_origins: tuple[str, ...]
) -> str | None:
    """Why a state-changing request from a browser page on another origin is refused, or None.

    A page on any site can send a POST here without a CORS preflight (a form, or ``fetch`` with
    a multipart or text body); the browser says where it comes from in ``Origin`` and
    ``Sec-Fetch-Site``, which pages cannot set. Allowed: requests without either header (curl,
    SDKs, servers), this server's own pages, and the origins of ``QA_CORS_ORIGINS``.
    """
    if method.upper() not in WRITE_METHODS:
        return None
    origin = origin.strip() if origin else None
    if origin and origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in allowed_origins}:
        return None
    site = (fetch_site or "").strip().lower()
    if site == "same-origin":
        # Trusted over Origin, which a page's `Referrer-Policy: no-referrer` turns into "null".
        return None
    if site in ("cross-site", "same-site"):
        return (
            f"refused a {method.upper()} from a page on another site (Sec-Fetch-Site: {site}, "
            f"Origin: {origin or 'none'}): only this server's pages and the origins in QA_CORS_ORIGINS may change it"
        )
    if origin is None:
        return None
    if origin != "null" and host is not None and _origin_netloc(origin) == host.strip().lower():
        return None
    return (
        f"refused a {method.upper()} from the page origin {origin!r}: it is not this server's origin, "
        "and only this server's pages and the origins in QA_CORS_ORIGINS may change it"
    )
