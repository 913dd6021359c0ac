"""A bounded worker: one thread of its own, one call at a time, at most ``queue`` calls waiting.

The server ingests through one (``QAService.ingest_worker``), so documents posted while questions
are answered take one thread and a bounded queue rather than as many request threads as clients
send them: beyond the queue a call is refused at once with ``Busy`` (the API's 503 with
``Retry-After``) instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from qa.errors import Busy

T = TypeVar("T")


class BoundedWorker:
    """Runs calls on its own thread, in order, one at a time; at most ``queue`` wait behind it."""

    def __init__(self, name: str, queue: int, setting: str = "") -> None:
        self.name = name
        self.queue = queue
        self.setting = setting  # named in the refusal, e.g. QA_INGEST_QUEUE
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"qa-{name}")
        self._lock = threading.Lock()
        self._pending = 0  # running + waiting
        self._recent: deque[float] = deque(maxlen=16)  # seconds of the last calls, for Retry-After
        self.refused = 0

    @property
    def pending(self) -> int:
        """Calls running or waiting."""
        return self._pending

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)``; raises ``Busy`` (nothing queued) when ``queue`` calls already wait."""
        with self._lock:
            if self._pending > self.queue:
                self.refused += 1
                wait = self.retry_after()
                raise Busy(
                    f"{self.name} is busy: {self._pending - 1} requests already wait for it "
                    f"({self.setting or 'queue'} = {self.queue}); nothing was done, send it again in {wait} s",
                    retry_after=wait,
                )
            self._pending += 1
        try:
            # In the caller's context: its request id in the log lines, its stages and outcomes
            # counted by its app (qa.stages).
            future = self._executor.submit(contextvars.copy_context().run, self._timed, fn, *args)
        except BaseException:
            with self._lock:
                self._pending -= 1
            raise
        # Counted out when the call ends, not when its caller stops waiting (a client that hangs
        # up does not free the worker).
        future.add_done_callback(self._done)
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``submit`` from async code: waits without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: recent mean call time x calls pending, 1 to 60."""
        mean = sum(self._recent) / len(self._recent) if self._recent else 1.0
        return max(1, min(60, math.ceil(mean * max(1, self._pending))))

    def _timed(self, fn: Callable[..., T], *args: Any) -> T:
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._recent.append(time.perf_counter() - t)

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
