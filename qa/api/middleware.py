"""The API's middleware, as plain ASGI callables.

Starlette's ``@app.middleware("http")`` (BaseHTTPMiddleware) wraps every request in a task group
and a streamed copy of the response; three of them cost more per request than the search itself
does at small scale. These do the same work on the ASGI messages directly:

- :class:`Observe` (outermost): request id (the client's ``X-Request-ID`` when sane, else new) in
  the logging context and on the response, Prometheus metrics and the access log line for every
  response, 401s and 413s included; and the request-size limit (``QA_MAX_REQUEST_BYTES``) on the
  declared ``Content-Length``.
- :class:`RequireKey` (innermost): API keys (``QA_API_KEYS``) on the routes that need one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse

from qa.api.errors import error_response, qa_error_response
from qa.errors import QAError
from qa.observability import Metrics, access_log, new_request_id, request_id
from qa.security import check_key, needs_key

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _path(scope: Scope) -> str:
    return str(scope.get("root_path", "")) + str(scope["path"])


class Observe:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_request_bytes: int) -> None:
        self.app, self.metrics, self.max_request_bytes = app, metrics, max_request_bytes

    def _too_big(self, headers: Headers) -> JSONResponse | None:
        length = headers.get("content-length")
        if length is None:
            return None
        if not length.isdigit():
            return error_response(400, f"invalid Content-Length header {length!r}")
        if int(length) > self.max_request_bytes:
            return error_response(
                413,
                f"request body is {length} bytes, over the limit of {self.max_request_bytes} (QA_MAX_REQUEST_BYTES)",
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        rid = new_request_id(headers.get("x-request-id"))
        token = request_id.set(rid)
        status = 500  # what the server error handler sends if the app raises

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            refused = self._too_big(headers)
            if refused is not None:
                await refused(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
            access_log(scope["method"], _path(scope), route, status, started)
            request_id.reset(token)


class RequireKey:
    def __init__(self, app: ASGIApp, keys: tuple[str, ...], for_read: bool) -> None:
        self.app, self.keys, self.for_read = app, keys, for_read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and needs_key(scope["method"], _path(scope), self.keys, self.for_read):
            try:
                check_key(Headers(scope=scope).get("authorization"), self.keys)
            except QAError as exc:
                await qa_error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)
