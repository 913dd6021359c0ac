"""Server-sent events: how an answer is cut into events and pieces."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: dict[str, Any]) -> str:
    """One named event (``/v1/chat``)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def data_line(payload: Any) -> str:
    """One unnamed event (OpenAI's streams)."""
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def pieces(text: str, words: int = 3) -> Iterator[str]:
    """The answer in small pieces for streaming; joined they give back ``text`` exactly."""
    tokens = re.findall(r"\s*\S+\s*", text) or [text]
    for i in range(0, len(tokens), words):
        yield "".join(tokens[i : i + words])
