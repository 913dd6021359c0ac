"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.access import ADMIN, Caller
from qa.service import QAService


async def get_service(request: Request) -> QAService:
    # async: FastAPI would run a plain function in the thread pool, one more hop per request.
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[QAService, Depends(get_service)]


async def get_caller(request: Request) -> Caller:
    """Who the request comes from, as ``RequireKey`` resolved it (an app without that middleware,
    e.g. one built around a router in a test, serves everyone as an admin, as a server without keys)."""
    caller = getattr(request.state, "caller", None)
    return caller if isinstance(caller, Caller) else ADMIN


CallerDep = Annotated[Caller, Depends(get_caller)]
