"""`qa watch`: folders kept in sync as their files change (``qa.watch``)."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from qa.cli.common import CollectionOpt, err, fail, index_paths, out, service
from qa.errors import QAError


def watch(
    folders: Annotated[list[Path], typer.Argument(help="Folders to keep in sync (recursive), each its own source.")],
    source: Annotated[
        str | None,
        typer.Option(help="Name of the folder's source (no '/'; one folder only): ids NAME/path, as `qa index`."),
    ] = None,
    delete: Annotated[
        bool,
        typer.Option(help="Delete the documents of files removed from the folder (--no-delete keeps them)."),
    ] = True,
    meta: Annotated[
        list[str] | None,
        typer.Option("--meta", help="Metadata key=value for every file (repeatable), as `qa index`."),
    ] = None,
    debounce: Annotated[
        float,
        typer.Option(min=0.1, max=60, help="Seconds a folder must be quiet before it is synced (changes batched)."),
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per sync (JSON Lines).")] = False,
    collection: CollectionOpt = None,
) -> None:
    """Sync folders into the index, then keep them in sync as files are added, changed, renamed or
    deleted: one sync per batch of changes (the same sync as `qa index`), one line per sync.
    Ctrl-C or SIGTERM stops after the current file (exit 0)."""
    from qa.sync import SyncOptions, parse_meta
    from qa.watch import Stopped, Watcher, check_folders

    options = SyncOptions(source=source, delete=delete, metadata=parse_meta(meta or []))
    paths = check_folders(folders)
    if source is not None and len(paths) > 1:
        fail(f"--source {source!r} names the source of one folder; watch each folder with its own `qa watch`")
    svc = service()
    watcher: Watcher | None = None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if watcher is None or watcher.stopping:
            raise KeyboardInterrupt  # a second one: stop now
        err.print("stopping after the current file (again to stop now)", markup=False)
        watcher.stop()

    def check_stop() -> None:
        if watcher is not None and watcher.stopping:
            raise Stopped

    def sync(folder: Path) -> None:
        started = time.perf_counter()
        summary = index_paths(
            svc,
            [folder],
            follow_symlinks=False,
            show_progress=err.is_terminal and not as_json,
            options=options,
            after_file=check_stop,
            transient=True,
        )
        report(folder, summary, time.perf_counter() - started, as_json)

    def on_error(folder: Path, exc: QAError) -> None:
        err.print(f"sync of {folder} failed: {exc}; trying again in 5 s", markup=False, highlight=False)

    ignore = [] if svc.settings.store else [svc.settings.index_path]
    watcher = Watcher(paths, sync, ignore=ignore, quiet=debounce, on_error=on_error)
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        watcher.start()  # before the first sync: changes made during it are seen
        for folder in paths:
            watcher.run_sync(folder)
        if not watcher.stopping:
            names = ", ".join(str(f) for f in paths)
            err.print(f"watching {names} (Ctrl-C to stop)", markup=False, highlight=False)
            watcher.run()
    except Stopped:
        pass
    finally:
        watcher.close()
        svc.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    err.print("stopped", markup=False)


def report(folder: Path, summary: Any, seconds: float, as_json: bool) -> None:
    """One line per sync on stdout (each failed file has had its line on stderr, as `qa index` prints it)."""
    now = datetime.now().astimezone()
    if as_json:
        data = {"time": now.isoformat(timespec="seconds"), "folder": str(folder), "seconds": round(seconds, 3)}
        print(json.dumps(data | summary.as_dict(), ensure_ascii=False), flush=True)
    else:
        out.print(
            f"{now:%H:%M:%S} synced {folder}: {summary.added} added, {summary.updated} updated, "
            f"{summary.deleted} deleted, {len(summary.failed)} failed ({summary.unchanged} unchanged, {seconds:.1f} s)",
            markup=False,
            highlight=False,
        )
