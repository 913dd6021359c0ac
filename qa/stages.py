"""The named stages of answering a question, and what came of it, for whoever is listening.

The answer path marks its stages (``with stage("embed"): ...``) and its outcomes
(``outcome("answer", "found")``) without knowing who listens: a server sets an ``Observer`` for
the request (``observing``; Prometheus histograms and counters in ``qa.observability``, and
OpenTelemetry spans when an exporter is configured), the CLI and the evals set none, and then a
stage costs one context-variable read. The observer travels in a context variable, so it follows
the request into the thread pool and into a streamed answer's generator, and two apps in one
process (tests, replicas) never count into each other's metrics.

Stages: ``embed`` (the question's vector), ``first_stage`` (dense, lexical or fused candidates),
``second_stage`` (re-scoring), ``answer`` (choosing the cited sentences), ``generate`` (an LLM's
answer and its citation check). Outcomes: ``answer`` = ``found`` | ``not_found`` | ``generated``;
``ingested`` = a document's status (``added`` | ``updated`` | ``unchanged``); ``ingested_chunks`` =
``written``, by the number of chunks.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

__all__ = ["STAGES", "Observer", "observing", "outcome", "stage"]

STAGES = ("embed", "first_stage", "second_stage", "answer", "generate")


class Observer(Protocol):
    def stage(self, name: str) -> AbstractContextManager[None]:
        """Entered for the length of stage ``name``."""
        ...

    def outcome(self, name: str, value: str, amount: float = 1) -> None:
        """``name`` came out as ``value``, ``amount`` times (e.g. ``answer`` -> ``not_found``)."""
        ...


_current: contextvars.ContextVar[Observer | None] = contextvars.ContextVar("qa_stage_observer", default=None)


def stage(name: str) -> AbstractContextManager[None]:
    """The stage ``name``, timed by the current request's observer (if any)."""
    observer = _current.get()
    return nullcontext() if observer is None else observer.stage(name)


def outcome(name: str, value: str, amount: float = 1) -> None:
    observer = _current.get()
    if observer is not None:
        observer.outcome(name, value, amount)


@contextmanager
def observing(observer: Observer | None) -> Iterator[None]:
    """Stages and outcomes in this block (and the threads and generators it starts) go to ``observer``."""
    token = _current.set(observer)
    try:
        yield
    finally:
        _current.reset(token)
