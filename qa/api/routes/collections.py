"""``/v1/collections``: create, list, describe and delete collections (``qa.collections``).

Every other route takes a collection as ``?collection=<name>`` (the OpenAI-compatible ones by their
``model``); creating and deleting one needs an API key whenever the server has keys.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from qa.access import Caller
from qa.api.deps import CallerDep, collections_of
from qa.api.schemas import ERRORS, CollectionDeleted, CollectionIn, CollectionList, CollectionOut
from qa.collections import OPENAI_MODEL_ID, CollectionInfo
from qa.errors import MissingScope

router = APIRouter(tags=["collections"])

Name = Annotated[str, Path(max_length=200, description="The collection's name.")]


def collection_out(info: CollectionInfo, request: Request | None = None, caller: Caller | None = None) -> CollectionOut:
    """``info`` for the response; with a keys file, the document and chunk counts only for the
    collection's admins (they count documents others may not see)."""
    counted = request is None or caller is None or not request.app.state.scoped_keys or caller.can("admin", info.name)
    return CollectionOut(
        name=info.name,
        default=info.default,
        model_id=OPENAI_MODEL_ID if info.default else info.name,
        overrides=info.overrides,
        settings=info.settings,
        model=info.model,
        documents=info.documents if counted else None,
        chunks=info.chunks if counted else None,
        location=info.location,
        created_at=info.created_at,
        error=info.error,
    )


@router.get("/v1/collections", response_model=CollectionList, responses=ERRORS)
def list_collections(request: Request, caller: CallerDep) -> CollectionList:
    """Every collection the key may read, with its settings and size, the default first."""
    return CollectionList(
        collections=[
            collection_out(i, request, caller) for i in collections_of(request).list() if caller.can("read", i.name)
        ]
    )


@router.post("/v1/collections", response_model=CollectionOut, status_code=201, responses=ERRORS)
async def create_collection(body: CollectionIn, request: Request, caller: CallerDep) -> CollectionOut:
    """Create a collection: an empty index with its own settings (its model loads now, once per
    model). 409 if the name is taken; 422 for a bad name or setting; 403 for a key without the
    ``admin`` scope on that name."""
    if not caller.can("admin", body.name):
        raise MissingScope(f"this API key lacks the 'admin' scope on collection {body.name!r} (see QA_KEYS_FILE)")
    info = await run_in_threadpool(collections_of(request).create, body.name, body.settings)
    return collection_out(info)


@router.get("/v1/collections/{name}", response_model=CollectionOut, responses=ERRORS)
def get_collection(name: Name, request: Request, caller: CallerDep) -> CollectionOut:
    """One collection: its settings (those it overrides, and those it runs with) and its size."""
    return collection_out(collections_of(request).describe(name), request, caller)


@router.delete("/v1/collections/{name}", response_model=CollectionDeleted, responses=ERRORS)
def delete_collection(name: Name, request: Request) -> CollectionDeleted:
    """Delete a collection with its index and documents (not undoable). The default collection
    cannot be deleted (409): delete its documents instead."""
    collections_of(request).delete(name)
    return CollectionDeleted(deleted=name)
