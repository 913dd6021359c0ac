"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from qa.access import ADMIN, Caller
from qa.collections import Collections
from qa.errors import IndexGone
from qa.service import QAService

# Where a request keeps what releases the collections it holds (``hold``; run by ``Observe``).
RELEASE_KEY = "qa.release"
COLLECTION_HELP = "The collection to use (GET /v1/collections); the default collection when left out."
# Every route that reads or writes an index takes it: `?collection=hr`.
CollectionQuery = Annotated[str | None, Query(max_length=200, description=COLLECTION_HELP)]


def collections_of(request: Request) -> Collections:
    return request.app.state.collections  # type: ignore[no-any-return]


def service_of(request: Request, collection: str | None) -> QAService:
    """The service of ``collection`` (None: the default), named in the request for the metrics'
    labels and held until the response is sent (``hold``).

    Raises:
        NotFound: no such collection.
    """
    return hold(request, collections_of(request).acquire(collection))


def hold(request: Request, svc: QAService) -> QAService:
    """``svc`` (acquired from the app's collections) named in the request, and released by the
    ``Observe`` middleware once the response has been sent, streams included: a collection
    deleted meanwhile is closed only then (``Collections.delete``)."""
    collections = collections_of(request)
    request.scope["qa.collection"] = svc.collection
    request.scope.setdefault(RELEASE_KEY, []).append(lambda: collections.release(svc))
    return svc


async def deleted_collection(request: Request, exc: BaseException | None = None) -> str | None:
    """The collection the request holds (``hold``), if it was deleted since (by this process or
    another): what a failure of the request (``exc``) is then explained by; None otherwise. An
    ``IndexGone`` says so itself (the index was gone when the request read or wrote it)."""
    name = str(request.scope.get("qa.collection", ""))
    if name and isinstance(exc, IndexGone):
        return name
    registry: Collections | None = getattr(request.app.state, "collections", None)
    if name and registry is not None and await run_in_threadpool(registry.gone, name):
        return name
    return None


async def get_service(request: Request, collection: CollectionQuery = None) -> QAService:
    # async: FastAPI would run a plain function in the thread pool, one more hop per request.
    return service_of(request, collection)


Service = Annotated[QAService, Depends(get_service)]


async def get_caller(request: Request) -> Caller:
    """Who the request comes from, as ``RequireKey`` resolved it (an app without that middleware,
    e.g. one built around a router in a test, serves everyone as an admin, as a server without keys)."""
    caller = getattr(request.state, "caller", None)
    return caller if isinstance(caller, Caller) else ADMIN


CallerDep = Annotated[Caller, Depends(get_caller)]
