"""API keys: who may write, and (optionally) who may read.

With ``QA_API_KEYS`` set, requests that change the index (POST, PUT, PATCH, DELETE under
``/v1/documents``) need ``Authorization: Bearer <key>``; with ``QA_REQUIRE_KEY_FOR_READ`` every
``/v1/`` route does, and so do the docs and ``/metrics`` unless ``QA_OPEN_DOCS_AND_METRICS``.
``/healthz`` and the chat page stay open. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress

from qa.errors import Forbidden, Unauthorized

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What describes the API and the index without being part of it: closed with the reads.
DOCS_AND_METRICS = frozenset({"/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def parse_keys(raw: str) -> tuple[str, ...]:
    """Comma-separated keys; blanks ignored."""
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def needs_key(
    method: str, path: str, keys: tuple[str, ...], for_read: bool, open_docs_and_metrics: bool = False
) -> bool:
    if not keys:
        return False
    if path in DOCS_AND_METRICS:
        return for_read and not open_docs_and_metrics
    if not path.startswith("/v1/"):
        return False
    if for_read:
        return True
    return method.upper() in WRITE_METHODS and path.startswith("/v1/documents")


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
