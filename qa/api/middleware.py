"""The API's middleware, as plain ASGI callables.

Starlette's ``@app.middleware("http")`` (BaseHTTPMiddleware) wraps every request in a task group
and a streamed copy of the response; three of them cost more per request than the search itself
does at small scale. These do the same work on the ASGI messages directly:

- :class:`Observe` (outermost): request id (the client's ``X-Request-ID`` when sane, else new) in
  the logging context and on the response, Prometheus metrics and the access log line for every
  response, 401s and 413s included; the request-size limit (``QA_MAX_REQUEST_BYTES``), on the
  declared ``Content-Length`` and on the bytes as they arrive (chunked bodies declare none); and
  a complete 500 for an unhandled error, on a connection that stays usable.
- :class:`CheckSite` (next): the ``Host`` against ``QA_ALLOWED_HOSTS`` (DNS rebinding), and
  writes from browser pages on other origins (``Origin``, ``Sec-Fetch-Site``) refused.
- :class:`RequireKey` (innermost): API keys (``QA_API_KEYS``, ``QA_KEYS_FILE``) on the routes
  that need one, the scope each route needs (``qa.access``), and the caller they resolve to,
  in ``request.state.caller`` for the routes (``qa.api.deps.CallerDep``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse

from qa.access import ADMIN, ALL_COLLECTIONS, ANONYMOUS, DEFAULT_COLLECTION, Caller, Keyring
from qa.api.deps import RELEASE_KEY
from qa.api.errors import INTERNAL_MESSAGE, deleted_response, is_openai_path, openai_error, qa_error_response, refusal
from qa.errors import MissingScope, QAError
from qa.observability import Metrics, access_log, new_request_id, request_id, request_span
from qa.security import (
    MCP_PATH,
    METRICS_PATH,
    host_refusal,
    needs_key,
    origin_refusal,
    required_scope,
)
from qa.stages import observing

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("qa.api.app")


def _path(scope: Scope) -> str:
    return str(scope.get("root_path", "")) + str(scope["path"])


class _TooLarge(Exception):
    """Raised into the route by the counting ``receive`` once the body passes the limit."""


class Observe:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_request_bytes: int,
        gone: Callable[[str], bool] = lambda name: False,
    ) -> None:
        """``gone(collection)``: whether a collection was deleted (``Collections.gone``); a request
        on one that fails unexpectedly answers 404 then, not 500 (its index went under it)."""
        self.app, self.metrics, self.max_request_bytes = app, metrics, max_request_bytes
        self.gone = gone

    async def _unexpected(self, scope: Scope) -> JSONResponse:
        """The answer to a route's unexpected error: a 404 if its collection was deleted meanwhile
        (by this process after a long wait, or by another), else a 500."""
        path = _path(scope)
        name = str(scope.get("qa.collection", ""))
        deleted: bool = bool(name) and await run_in_threadpool(self.gone, name)
        if deleted:
            return deleted_response(path, name)
        log.exception("unhandled error on %s %s", scope["method"], path)
        return refusal(path, 500, INTERNAL_MESSAGE)

    def _too_large(self, path: str, size: str | None = None) -> JSONResponse:
        body = f"request body is {size} bytes" if size else "request body is"
        return refusal(path, 413, f"{body} over the limit of {self.max_request_bytes} bytes (QA_MAX_REQUEST_BYTES)")

    def _declared_too_big(self, path: str, headers: Headers) -> JSONResponse | None:
        length = headers.get("content-length")
        if length is None:
            return None
        if not length.isdigit():
            return refusal(path, 400, f"invalid Content-Length header {length!r}")
        if int(length) > self.max_request_bytes:
            return self._too_large(path, length)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        path = _path(scope)
        rid = new_request_id(headers.get("x-request-id"), headers.get("traceparent"))
        token = request_id.set(rid)
        # The answer path's stages and outcomes (qa.stages) count for this app, labelled by this route;
        # with tracing on, they are spans under this request's span.
        scoped = ExitStack()
        scoped.enter_context(
            observing(
                self.metrics.observer(
                    lambda: getattr(scope.get("route"), "path", "unmatched"),
                    # Set by the route's collection lookup (qa.api.deps.service_of).
                    lambda: str(scope.get("qa.collection", "")),
                )
            )
        )
        if self.metrics.tracer is not None:
            scoped.enter_context(request_span(self.metrics.tracer, scope["method"], path, headers))
        status = 500  # what the server error handler sends if the app raises
        response_started = response_complete = over = False
        received = 0

        async def forward(message: Message) -> None:
            nonlocal status, response_started, response_complete
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                response_complete = True
            await send(message)

        async def app_send(message: Message) -> None:
            if over and not response_started:
                return  # the route's answer to a body cut short (a parse error); the 413 goes instead
            await forward(message)

        async def counted_receive() -> Message:
            # Chunked bodies declare no length: count what arrives, and stop the route as soon as
            # the limit is passed, so no route ever holds more than the limit in memory.
            nonlocal received, over
            if over:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_request_bytes:
                    over = True
                    raise _TooLarge
            return message

        try:
            refused = self._declared_too_big(path, headers)
            if refused is not None:
                await refused(scope, receive, forward)
                return
            try:
                await self.app(scope, counted_receive, app_send)
            except Exception:
                if over:
                    pass  # answered below
                elif not response_started:
                    # Answered here rather than by Starlette's last-resort handler, which sends the
                    # 500 and then re-raises: uvicorn then drops the kept-alive connection without
                    # `Connection: close`, and the client's next request on it is reset.
                    await (await self._unexpected(scope))(scope, receive, forward)
                elif response_complete:
                    log.exception("error after the response to %s %s was sent", scope["method"], path)
                else:
                    raise  # a response cut short: the server closes the connection, as it must
            if over and not response_started:
                # The rest of the body is read and dropped by the server after this response.
                await self._too_large(path)(scope, receive, forward)
        finally:
            # The collections the request held (qa.api.deps.hold), now that its response is sent.
            for release in scope.pop(RELEASE_KEY, ()):
                release()
            scoped.close()
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
            access_log(scope["method"], path, route, status, started)
            request_id.reset(token)


class CheckSite:
    """The ``Host`` a request names (``QA_ALLOWED_HOSTS``: 400 for others) and where a browser
    request that would change something comes from (403 for pages on other origins)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None, origins: tuple[str, ...]) -> None:
        self.app, self.hosts, self.origins = app, hosts, origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            path, host = _path(scope), headers.get("host")
            # Health checks (a Kubernetes probe names the pod's address) see only counts.
            why = None if path == "/healthz" else host_refusal(host, self.hosts)
            status = 400
            if why is None:
                status = 403
                why = origin_refusal(
                    scope["method"], headers.get("origin"), headers.get("sec-fetch-site"), host, self.origins
                )
            if why is not None:
                await refusal(path, status, why)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def collection_of(scope: Scope, default: str = DEFAULT_COLLECTION) -> str | None:
    """The collection a request addresses, for its scope check: ``/v1/collections/{name}``, else
    the ``?collection=`` parameter, else ``default``. None where the body names it (the OpenAI
    routes' ``model``, a new collection's name, an MCP tool's argument) or the route shows only
    what the key reads (the list of collections): the route checks the scope there."""
    path = _path(scope).rstrip("/")
    if is_openai_path(path) or path.startswith(MCP_PATH):
        return None
    if path == "/v1/collections":
        return None  # the list shows what the key reads; a new one's name is in the body
    if path == METRICS_PATH:
        return ALL_COLLECTIONS  # it counts every collection's documents
    if path.startswith("/v1/collections/"):
        return path.split("/")[3] or default
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if name == "collection" and value:
            return value
    return default


class RequireKey:
    """Resolves every request's caller (``qa.access.Caller``) from its key and refuses what the
    caller may not do: no key where one is needed (401), a wrong key (403), a key without the
    route's scope on the collection (403). A server without keys serves everyone as an admin."""

    def __init__(
        self,
        app: ASGIApp,
        keyring: Keyring,
        for_read: bool,
        open_docs_and_metrics: bool,
        default_collection: str = DEFAULT_COLLECTION,
    ) -> None:
        self.app, self.keyring, self.for_read, self.open_docs = app, keyring, for_read, open_docs_and_metrics
        self.default_collection = default_collection

    def caller(self, method: str, path: str, authorization: str | None, collection: str | None) -> Caller:
        """The request's caller.

        Raises:
            Unauthorized: no key where one is needed. Forbidden: a wrong key, or one without the scope.
        """
        if not self.keyring:
            return ADMIN
        if needs_key(method, path, ("key",), self.for_read, self.open_docs):
            caller = self.keyring.caller(authorization)
        elif authorization and not path.startswith(MCP_PATH):
            # A key sent where none is needed is still checked: a mistyped key is told so, rather
            # than served as no key (public documents only). The MCP tools check theirs themselves.
            caller = self.keyring.caller(authorization)
        else:
            caller = ANONYMOUS
        needed = required_scope(method, path, self.open_docs)
        if needed is not None and collection is not None and not caller.can(needed, collection):
            raise MissingScope(
                f"this API key lacks the {needed!r} scope on collection {collection!r} (see QA_KEYS_FILE)"
            )
        return caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = _path(scope)
            try:
                authorization = Headers(scope=scope).get("authorization")
                caller = self.caller(
                    scope["method"], path, authorization, collection_of(scope, self.default_collection)
                )
            except QAError as exc:
                if is_openai_path(path):
                    # OpenAI answers a missing or wrong key alike, 401 `invalid_api_key`; its SDK
                    # raises AuthenticationError with the message (a 403 is PermissionDeniedError).
                    missing = isinstance(exc, MissingScope)
                    status, kind = (403, "permission_denied") if missing else (401, "invalid_api_key")
                    response = openai_error(status, str(exc), kind, {"WWW-Authenticate": "Bearer"})
                else:
                    response = qa_error_response(exc)
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)
