"""Parsing untrusted files in worker processes, with a time and a memory limit per file.

A 26 KB PDF whose content stream inflates to millions of operators keeps PDFium busy for 10 s,
and a messy HTML file can do the same to the HTML parser; parsed on the server's event loop (or
in any thread of its process) it holds the GIL and nothing else is answered. So files are parsed
in separate processes: ``parse_limited`` sends one file's bytes to a worker and waits at most
``timeout`` seconds for its documents; a worker that runs over is killed (a thread cannot be) and
the caller gets ``TooLarge`` (HTTP 413), which names the setting to raise.

Why our own small pool of ``python -m qa.parse.worker`` subprocesses, not a
``ProcessPoolExecutor``: an executor cannot kill one task, only break the whole pool (every other
upload being parsed fails with it), and its ``spawn``/``forkserver`` children re-import the
parent's ``__main__`` (the CLI, or pytest), which may load torch. A worker here imports only
``qa.parse`` (no numpy, no torch), caps its own address space (``RLIMIT_AS``) before reading
anything, and is reused across files until it is killed or its parent goes away (its stdin
closes). Results come back as JSON, plain data: the parent never unpickles what a worker that
parsed a hostile file says.

Protocol, one request at a time per worker: a new worker first imports its parsers and says
``{"ready": true}``, so a file's time limit never counts the worker's start (seconds on a loaded
machine); then the parent writes a JSON header line (with the size) and the raw bytes, and the
worker answers one JSON line, ``{"docs": [...]}`` or ``{"error": <class name>, "message": ...}``.
Before that it may say ``{"ocr_pages": n}``: n scanned pages are about to be read by OCR, and the
parent gives the file ``QA_OCR_PAGE_TIMEOUT`` seconds more for each (OCR takes seconds a page,
where reading a text layer takes milliseconds).
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import qa.parse
from qa.errors import InvalidInput, NoText, QAError, TooLarge, UnsupportedFileType
from qa.parse.ocr import EngineMissing, Ocr
from qa.types import Document, Heading

_ERRORS: dict[str, type[QAError]] = {
    "InvalidInput": InvalidInput,
    "EngineMissing": EngineMissing,
    "NoText": NoText,
    "TooLarge": TooLarge,
    "UnsupportedFileType": UnsupportedFileType,
}
# Where the ``qa`` package lives, so a worker finds the same copy whatever the parent's sys.path.
_PACKAGE_ROOT = str(Path(qa.parse.__file__).resolve().parents[2])
STARTUP_TIMEOUT = 120.0  # seconds a new worker has to import its parsers and say it is ready


@dataclass(frozen=True)
class ParseLimits:
    """Per-file limits (``QA_PARSE_TIMEOUT``, ``QA_PARSE_MEMORY_MB``, ``QA_PARSE_WORKERS``), and
    how scanned pages are read (``QA_OCR*``: ``qa.parse.ocr.Ocr``).

    ``timeout`` 0 parses in the calling thread with no limit (no worker process); otherwise each
    page read by OCR adds ``ocr.page_timeout`` seconds to it."""

    timeout: float = 30.0
    memory_mb: int = 1024
    workers: int = 2
    ocr: Ocr = field(default_factory=Ocr)

    @classmethod
    def of(cls, settings: Any) -> ParseLimits:
        """The limits of a ``qa.config.Settings``."""
        return cls(settings.parse_timeout, settings.parse_memory_mb, settings.parse_workers, Ocr.of(settings))


def parse_limited(
    data: bytes,
    filename: str,
    limits: ParseLimits,
    doc_id: str | None = None,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    max_bytes: int | None = None,
    *,
    source: str | None = None,
) -> list[Document]:
    """``qa.parse.parse_bytes`` in a worker process, within ``limits``.

    Raises:
        TooLarge: over ``max_bytes``, or the parse took longer than ``limits.timeout`` seconds or
            more than ``limits.memory_mb`` MB.
        InvalidInput: what ``parse_bytes`` raises for bad input.
    """
    kwargs: dict[str, Any] = {
        "doc_id": doc_id,
        "title": title,
        "metadata": metadata,
        "max_bytes": max_bytes,
        "source": source,
    }
    if limits.timeout <= 0:
        return qa.parse.parse_bytes(data, filename, **kwargs, ocr=limits.ocr)
    # Checked here too: no need to ship an oversized file to a worker to learn that.
    if max_bytes is not None and len(data) > max_bytes:
        return qa.parse.parse_bytes(data, filename, max_bytes=max_bytes)
    return pool(limits).parse(data, filename, {**kwargs, "ocr": asdict(limits.ocr)})


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        # The tesseract processes a worker starts (OCR) on one thread each: a worker reads one file
        # at a time, QA_PARSE_WORKERS of them at once, and tesseract's OpenMP threads spin against
        # each other on a busy machine (a page took 15 s on two threads, 3.4 s on one, at load 8).
        env.setdefault("OMP_THREAD_LIMIT", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa.parse.worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.ready = False
        self.ocr_pages = 0  # pages of the current file being read by OCR
        self._pending = bytearray()  # what the worker wrote past the last line read

    def _line(self, deadline: float) -> dict[str, Any]:
        """The worker's next JSON line; raises ``TimeoutError`` after ``deadline`` or ``EOFError``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = self._pending  # a worker may write two lines at once ({"ocr_pages"} and its answer)
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    raise TimeoutError
                piece = os.read(fd, 1 << 20)
                if not piece:
                    raise EOFError("the parse worker exited")
                buf += piece
        end = buf.index(b"\n") + 1
        answer: dict[str, Any] = json.loads(buf[:end])
        del buf[:end]
        return answer

    def request(self, header: dict[str, Any], data: bytes, timeout: float, ocr_page: float = 0) -> dict[str, Any]:
        """Send one file and wait for its answer, ``timeout`` seconds plus ``ocr_page`` for each
        page the worker says it reads by OCR; raises ``TimeoutError`` or ``EOFError``."""
        assert self.proc.stdin is not None
        if not self.ready:  # the start is not the file's time
            try:
                self._line(time.monotonic() + STARTUP_TIMEOUT)
            except TimeoutError as exc:
                raise EOFError("the parse worker did not start") from exc
            self.ready = True
        deadline = time.monotonic() + timeout
        try:
            self.proc.stdin.write(json.dumps(header).encode() + b"\n" + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise EOFError("the parse worker is gone") from exc
        self.ocr_pages = 0
        while "ocr_pages" in (answer := self._line(deadline)):
            pages = int(answer["ocr_pages"])
            self.ocr_pages += pages
            deadline += pages * ocr_page
        return answer

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class ParsePool:
    """At most ``limits.workers`` files parsed at once, each in a worker of its own."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(max(1, limits.workers))
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def parse(self, data: bytes, filename: str, kwargs: dict[str, Any]) -> list[Document]:
        header = {"filename": filename, "size": len(data), **kwargs}
        with self._slots:
            answer = self._request(header, data, filename)
        if "error" in answer:
            raise _ERRORS.get(answer["error"], InvalidInput)(answer["message"])
        return [_document(d) for d in answer["docs"]]

    def _request(self, header: dict[str, Any], data: bytes, filename: str) -> dict[str, Any]:
        timeout, memory_mb = self.limits.timeout, self.limits.memory_mb
        worker = self._take()
        ocr_page = self.limits.ocr.page_timeout
        try:
            answer = worker.request(header, data, timeout, ocr_page)
        except TimeoutError:
            worker.kill()
            if worker.ocr_pages:
                raise TooLarge(
                    f"'{filename}' took more than {timeout + worker.ocr_pages * ocr_page:g} s to parse with "
                    f"{worker.ocr_pages} pages read by OCR; not indexed. Split it, or raise QA_OCR_PAGE_TIMEOUT "
                    "(seconds each OCR page adds to QA_PARSE_TIMEOUT)"
                ) from None
            raise TooLarge(
                f"'{filename}' took more than {timeout:g} s to parse (a decompression bomb, or too "
                "complex a file); not indexed. Simplify or split it, or raise QA_PARSE_TIMEOUT"
            ) from None
        except EOFError:
            worker.kill()
            raise TooLarge(
                f"'{filename}' made the parser exceed its memory limit of {memory_mb} MB (or crash); "
                "not indexed. Simplify or split it, or raise QA_PARSE_MEMORY_MB"
            ) from None
        except BaseException:
            worker.kill()
            raise
        with self._lock:
            self._idle.append(worker)
        return answer

    def idle_processes(self) -> list[subprocess.Popen[bytes]]:
        """The processes of the workers waiting for a file."""
        with self._lock:
            return [w.proc for w in self._idle]

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.proc.poll() is None:
                    return worker
                worker.kill()
        return _Worker(self.limits.memory_mb)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_pools: dict[ParseLimits, ParsePool] = {}
_pools_lock = threading.Lock()


def pool(limits: ParseLimits) -> ParsePool:
    """The process-wide pool of ``limits`` (one per distinct limits, made on first use)."""
    with _pools_lock:
        if limits not in _pools:
            _pools[limits] = ParsePool(limits)
        return _pools[limits]


@atexit.register
def shutdown() -> None:
    """Stop every idle worker (a busy one exits when its parent's pipe closes)."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.close()


def _document(d: dict[str, Any]) -> Document:
    headings = tuple(Heading(*h) for h in d["headings"])
    return Document(d["id"], d["text"], d["title"], d["metadata"], d["source"], headings, tuple(d["page_starts"]))


def _import_parsers() -> None:
    """Import every parser and the libraries the common formats load lazily, before the first file's clock starts."""
    import importlib

    modules = ("html", "pdf", "image", "jsonl", "text", "rst", "word", "slides", "sheets", "epub", "odt", "mail")
    # Not python-docx, python-pptx and openpyxl: with lxml and Pillow they take 1.5 s and 40 MB to
    # import (load average 8), which every worker would pay for folders of text. The first office
    # file a worker reads imports its library within that file's time limit (QA_PARSE_TIMEOUT).
    libraries = (
        "bs4",
        "pypdfium2",
        "charset_normalizer",
        "PIL.Image",
        "PIL.TiffImagePlugin",
        "PIL.JpegImagePlugin",
        "PIL.PngImagePlugin",
        "pytesseract",
    )
    for name in (*(f"qa.parse.{m}" for m in modules), *libraries):
        try:
            importlib.import_module(name)
        except ImportError:  # an optional parser's library: its files fail with their own message
            pass


def _serve(memory_mb: int) -> None:
    """The worker's loop: one file in, one JSON line out, until stdin closes."""
    _import_parsers()  # before the cap: importing is not reading a file
    if memory_mb > 0:
        import resource

        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(b'{"ready": true}\n')
    stdout.flush()
    while line := stdin.readline():
        header = json.loads(line)
        size, filename = header.pop("size"), header.pop("filename")
        header["ocr"] = Ocr(**header.get("ocr") or {})
        data = stdin.read(size)

        def reading(pages: int) -> None:
            stdout.write(json.dumps({"ocr_pages": pages}).encode() + b"\n")
            stdout.flush()

        try:
            docs = qa.parse.parse_bytes(data, filename, **header, on_ocr=reading)
            answer: dict[str, Any] = {
                "docs": [
                    {
                        "id": d.id,
                        "text": d.text,
                        "title": d.title,
                        "metadata": d.metadata,
                        "source": d.source,
                        "headings": [(h.start, h.end, h.level) for h in d.headings],
                        "page_starts": list(d.page_starts),
                    }
                    for d in docs
                ]
            }
        except QAError as exc:
            answer = {"error": type(exc).__name__, "message": str(exc)}
        except MemoryError:
            message = (
                f"'{filename}' needs more than {memory_mb} MB to parse; not indexed. "
                "Simplify or split it, or raise QA_PARSE_MEMORY_MB"
            )
            answer = {"error": "TooLarge", "message": message}
        except Exception as exc:  # a parser bug: the file is still the one thing not indexed
            answer = {"error": "InvalidInput", "message": f"cannot parse the file ({type(exc).__name__}: {exc})"}
        try:
            out = json.dumps(answer).encode() + b"\n"
        except MemoryError:
            message = (
                f"the text of '{filename}' needs more than {memory_mb} MB to send back; not indexed. "
                "Split it, or raise QA_PARSE_MEMORY_MB"
            )
            out = json.dumps({"error": "TooLarge", "message": message}).encode() + b"\n"
        stdout.write(out)
        stdout.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
