"""``POST /v1/search`` and ``POST /v1/ask``: the hot path.

One thread-pool hop each (a plain ``def`` endpoint would take a second one for FastAPI's
re-validation of the returned model), the collection's service looked up directly rather than
through a dependency, and the response, already a validated model, serialized once to JSON (the same bytes
FastAPI would send; ``response_model`` documents it).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from qa.access import Caller
from qa.api.deps import CallerDep, CollectionQuery, service_of
from qa.api.schemas import ERRORS, AskOut, QuestionIn, SearchOut, answer_fields, passage_out
from qa.service import QAService

router = APIRouter(tags=["questions"])


def _json(model: BaseModel) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


def _search(svc: QAService, body: QuestionIn, caller: Caller) -> Response:
    passages = svc.search(body.question, body.k, body.filters, body.mode, body.rerank, body.max_per_doc, caller)
    return _json(SearchOut(question=body.question, passages=[passage_out(p) for p in passages]))


def _ask(svc: QAService, body: QuestionIn, caller: Caller) -> Response:
    a = svc.ask(
        body.question,
        body.k,
        body.filters,
        body.mode,
        body.rerank,
        body.extractive,
        max_per_doc=body.max_per_doc,
        caller=caller,
    )
    return _json(AskOut(question=body.question, **answer_fields(a)))


@router.post("/v1/search", response_model=SearchOut, responses=ERRORS)
async def search(body: QuestionIn, request: Request, caller: CallerDep, collection: CollectionQuery = None) -> Response:
    return await run_in_threadpool(_search, service_of(request, collection), body, caller)


@router.post("/v1/ask", response_model=AskOut, responses=ERRORS)
async def ask(body: QuestionIn, request: Request, caller: CallerDep, collection: CollectionQuery = None) -> Response:
    return await run_in_threadpool(_ask, service_of(request, collection), body, caller)
