"""OpenAI's ``POST /v1/embeddings``, by the index's own model: vectors comparable with the index's
(L2-normalized float32, so a dot product is the cosine qa's dense search ranks by)."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from qa.api.deps import CallerDep, collections_of
from qa.api.errors import ERROR_KIND, openai_error, validation_message
from qa.api.routes.openai import MODEL_ID, check_read, model_service
from qa.api.schemas import OPENAI_ERRORS, EmbeddingsIn, EmbeddingsOut
from qa.chunk import tiktoken_counter

router = APIRouter(tags=["openai"])


def _is_tokens(value: Any) -> bool:
    """Token arrays (a list of ints, or of lists of ints): OpenAI's, meaningless to this model."""
    return isinstance(value, list) and any(isinstance(x, int) or isinstance(x, list) for x in value)


def encode(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        # What OpenAI sends and its SDK decodes: the float32 values' little-endian bytes.
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


@router.post(
    "/v1/embeddings",
    response_model=EmbeddingsOut,
    responses=OPENAI_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            # Registered under components by qa/api/app.py.
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingsIn"}}},
        }
    },
)
async def create_embeddings(request: Request, caller: CallerDep) -> Response:
    """OpenAI Embeddings: ``input`` (a string or a list of strings) embedded by a collection's
    model; ``model`` is the collection (``qa``: the default, or a collection's name; GET
    /v1/models) or the default collection's model name."""
    raw = await request.body()
    try:
        body = EmbeddingsIn.model_validate_json(raw)
    except ValidationError as exc:
        given = _given_input(raw)
        if _is_tokens(given):
            return openai_error(
                400,
                "input as token arrays is not supported: this model has its own tokenizer; send the text "
                "(a string or a list of strings)",
                "invalid_input",
                param="input",
            )
        status, message = validation_message(exc)
        return openai_error(400, message, ERROR_KIND[status])
    # A QAError raised here is answered by the app's handler, in OpenAI's shape: a 404
    # (model_not_found) if the collection was deleted under the request, never its index's 503.
    svc = model_service(request, body.model, caller)
    named = svc is not None
    if svc is None:
        svc = collections_of(request).default
        check_read(caller, svc)
    embedder = await run_in_threadpool(lambda: svc.embedder)
    if not named and body.model != embedder.name:
        return openai_error(
            404,
            f"model {body.model!r} is not served here; use {MODEL_ID!r}, a collection's name (GET /v1/models) "
            f"or the index's model {embedder.name!r}",
            "model_not_found",
            param="model",
        )
    if body.dimensions is not None and body.dimensions != embedder.dim:
        return openai_error(
            400,
            f"dimensions={body.dimensions} is not supported: the model makes {embedder.dim}-dim vectors "
            "(leave dimensions out)",
            "unsupported_parameter",
            param="dimensions",
        )
    texts = [body.input] if isinstance(body.input, str) else body.input
    vectors = await run_in_threadpool(svc.embed_texts, texts)
    count = tiktoken_counter(svc.settings.encoding)
    tokens = sum(count(t) for t in texts)
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(v, body.encoding_format)}
                for i, v in enumerate(vectors)
            ],
            "model": embedder.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _given_input(raw: bytes) -> Any:
    """The ``input`` of a body that did not validate, when it is JSON at all."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return body.get("input") if isinstance(body, dict) else None
