"""The one translation of errors into HTTP: each domain error's status, the ``error`` kind of
each status, and the two JSON shapes (qa's ``{error, message}``; OpenAI's
``{error: {message, type, param, code}}`` under the OpenAI-compatible routes, ``/v1/models/{id}``
and any ``/v1`` path no route serves, since only an OpenAI client asks for those)."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import JSONResponse

from qa.errors import (
    Busy,
    Conflict,
    Forbidden,
    IndexMismatch,
    InvalidInput,
    MissingScope,
    NotFound,
    QAError,
    StorageFull,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedFileType,
)

# Most specific first: the first class an error is an instance of decides its status.
STATUS: tuple[tuple[type[QAError], int], ...] = (
    (UnsupportedFileType, 415),
    (TooLarge, 413),
    (InvalidInput, 422),
    (NotFound, 404),
    (IndexMismatch, 409),
    (Conflict, 409),
    (StorageFull, 507),
    (Unavailable, 503),
    (Unauthorized, 401),
    (Forbidden, 403),
    (QAError, 400),
)

# The `error` field of every JSON error the API sends, by status.
ERROR_KIND = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "index_mismatch",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "unavailable",
    507: "insufficient_storage",
}


def status_of(exc: QAError) -> int:
    """The HTTP status of a domain error."""
    return next(status for cls, status in STATUS if isinstance(exc, cls))


def kind_of(status: int) -> str:
    return ERROR_KIND.get(status, "error")


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, kind: str | None = None
) -> JSONResponse:
    """qa's error shape: ``{"error": kind, "message": message}`` (``kind``: the status's by default)."""
    return JSONResponse({"error": kind or kind_of(status), "message": message}, status_code=status, headers=headers)


def qa_error_response(exc: QAError) -> JSONResponse:
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, Busy):
        headers = {"Retry-After": str(exc.retry_after)}
    # A 409 is the index's mismatch unless it is a name conflict (a collection that exists).
    return error_response(status, str(exc), headers, "conflict" if isinstance(exc, Conflict) else None)


def openai_error(
    status: int, message: str, code: str, headers: dict[str, str] | None = None, param: str | None = None
) -> JSONResponse:
    """OpenAI's error shape, so OpenAI clients show the message; ``param`` names the request
    field at fault, when one is."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}, status, headers=headers
    )


def openai_qa_error(exc: QAError) -> JSONResponse:
    """A domain error in OpenAI's shape: a refused request is OpenAI's 400 (its clients treat 422
    as unknown); the index's own failures keep their status (409, 503)."""
    status = status_of(exc)
    if isinstance(exc, MissingScope):  # OpenAI's code for a key that may not use a model
        return openai_error(status, str(exc), "permission_denied")
    return openai_error(400 if isinstance(exc, InvalidInput) else status, str(exc), kind_of(status))


# The OpenAI-compatible routes: their clients read only OpenAI's error shape.
OPENAI_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/models", "/v1/embeddings")


def is_openai_path(path: str) -> bool:
    """True for the OpenAI-compatible routes (``/v1/models/{id}`` included)."""
    path = path.rstrip("/")
    return path in OPENAI_PATHS or path.startswith("/v1/models/")


INTERNAL_MESSAGE = "internal error; the server log has details"


def deleted_message(collection: str) -> str:
    """Why a request failed whose collection was deleted while it was being served."""
    return (
        f"collection {collection!r} was deleted while this request was being served; list them with GET /v1/collections"
    )


def deleted_response(path: str, collection: str) -> JSONResponse:
    """The 404 of a request whose collection was deleted while it was being served: under the
    OpenAI routes OpenAI's ``model_not_found`` (the collection is the request's ``model``), qa's
    ``not_found`` elsewhere. Never the 5xx the index's disappearance caused."""
    message = deleted_message(collection)
    if is_openai_path(path):
        return openai_error(404, message, "model_not_found", param="model")
    return error_response(404, message)


def deleted_data(collection: str) -> dict[str, str]:
    """``deleted_response``'s kind and message, for an error inside a stream (whose status is sent)."""
    return {"error": kind_of(404), "message": deleted_message(collection)}


def refusal(path: str, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error sent before a route runs (middleware): in OpenAI's shape under the OpenAI routes,
    qa's elsewhere."""
    if is_openai_path(path):
        return openai_error(status, message, "internal" if status >= 500 else kind_of(status), headers)
    if status >= 500:
        return JSONResponse({"error": "internal", "message": message}, status, headers=headers)
    return error_response(status, message, headers)


def validation_message(exc: RequestValidationError | ValidationError) -> tuple[int, str]:
    """Status and one readable message for a request body that does not validate."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = errors[0].get("ctx", {})
        return 400, f"request body is not valid JSON ({ctx.get('error', 'parse error')}); send a JSON object"
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {e.get('msg')}")
    return 422, "; ".join(parts)
