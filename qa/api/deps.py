"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.service import QAService


async def get_service(request: Request) -> QAService:
    # async: FastAPI would run a plain function in the thread pool, one more hop per request.
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[QAService, Depends(get_service)]
