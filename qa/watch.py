"""Watch: folders kept in sync as their files change (`qa watch DIR`).

A watcher (watchdog: inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows) notes
which folder changed; once a folder has been quiet for ``quiet`` seconds (or has kept changing for
``longest``) it is synced, by the same sync as `qa index DIR` (``qa.sync``). So a batch needs no
list of what changed: an unchanged file is skipped unread, and renames, deletes and
``.qa-meta.json`` changes come out exactly as they would from `qa index` (a rename is a delete and
an add; the vectors come from the embedding cache).

Syncs run on the caller's thread, one at a time; the watchdog thread only notes folders. A folder
that disappears (deleted, moved away, unmounted, or replaced by another folder of the same name,
whose changes would no longer be seen) is an error (``FolderGone``): its documents stay, since an
unmounted disk is no reason to empty an index.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import InvalidInput, QAError

# Events that can change what a sync reads. Opening and reading files (the sync itself does)
# must not trigger another sync.
CHANGES = frozenset({"created", "modified", "deleted", "moved", "closed"})


class FolderGone(InvalidInput):
    """A watched folder is no longer there (or is another folder now)."""


class Stopped(Exception):
    """Raised between files of a sync when the watcher is asked to stop (not an error)."""


@dataclass
class Pending:
    """Folders with changes not synced yet, each due once quiet for ``quiet`` seconds or
    ``longest`` seconds after its first change (a folder that never stops changing, such as a
    log being written, is still synced). Pure logic: times are given."""

    quiet: float = 1.0
    longest: float = 10.0
    first: dict[Path, float] = field(default_factory=dict)
    last: dict[Path, float] = field(default_factory=dict)

    def note(self, folder: Path, at: float) -> None:
        """A change in ``folder`` at ``at`` (a later time delays a retry)."""
        self.first.setdefault(folder, at)
        self.last[folder] = max(at, self.last.get(folder, at))

    def due(self, now: float) -> list[Path]:
        """The folders to sync now, taken out."""
        ready = [f for f in self.last if now >= self.due_at(f)]
        for f in ready:
            del self.first[f], self.last[f]
        return sorted(ready)

    def wait(self, now: float) -> float | None:
        """Seconds until the next folder is due; None: nothing pending."""
        if not self.last:
            return None
        return max(0.0, min(self.due_at(f) for f in self.last) - now)

    def due_at(self, folder: Path) -> float:
        """When ``folder`` is due: quiet since its last change, or ``longest`` after its first."""
        last = self.last[folder]
        return min(last + self.quiet, max(self.first[folder] + self.longest, last))


def identity(folder: Path) -> tuple[int, int] | None:
    """The folder's (device, inode), None if it is not a directory now."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    if not os.path.isdir(folder):
        return None
    return (st.st_dev, st.st_ino)


def check_folders(paths: Iterable[Path]) -> list[Path]:
    """``paths`` as absolute folders to watch.

    Raises:
        InvalidInput: a path that is not an existing directory.
    """
    folders = []
    for p in paths:
        if not p.exists():
            raise InvalidInput(f"'{p}' does not exist; give a folder to watch")
        if not p.is_dir():
            raise InvalidInput(f"'{p}' is not a folder; `qa watch` keeps folders in sync (`qa index` takes files)")
        folders.append(Path(os.path.abspath(p)))
    return folders


class Watcher:
    """Keeps ``folders`` in sync: ``sync(folder)`` runs for each folder once its changes settle.

    Args:
        folders: absolute folder paths (``check_folders``).
        sync: syncs one folder; a ``QAError`` from it is reported with ``on_error`` and the folder
            is synced again after ``retry`` seconds; ``Stopped`` ends the watch.
        ignore: paths whose changes are not changes of the folders (the index itself, when it
            lives inside a watched folder: its writes would trigger syncs forever).
        on_error: told of each failed sync (the folder, the error).
    """

    def __init__(
        self,
        folders: Sequence[Path],
        sync: Callable[[Path], None],
        ignore: Sequence[Path] = (),
        quiet: float = 1.0,
        longest: float = 10.0,
        retry: float = 5.0,
        on_error: Callable[[Path, QAError], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folders = list(folders)
        self.sync, self.on_error, self.clock = sync, on_error, clock
        self.ignore = [os.path.abspath(p).rstrip(os.sep) for p in ignore]
        self.retry = retry
        self.pending = Pending(quiet, longest)
        self.identities = {f: identity(f) for f in self.folders}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer: Any = None

    # -- the watchdog thread ----------------------------------------------------------------

    def changed(self, folder: Path, event_type: str, paths: Iterable[str]) -> None:
        """A filesystem event under ``folder`` (called on watchdog's thread)."""
        if event_type not in CHANGES:
            return
        if all(self._ignored(p) for p in paths):
            return
        with self._lock:
            self.pending.note(folder, self.clock())
        self._wake.set()

    def _ignored(self, path: str) -> bool:
        """In an ignored path, or a folder on the way to one (made when the index was created)."""
        path = path.rstrip(os.sep)
        return any(path == i or path.startswith(i + os.sep) or i.startswith(path + os.sep) for i in self.ignore)

    # -- the caller's thread ----------------------------------------------------------------

    def start(self) -> None:
        """Start watching (before the initial sync, so changes made during it are not missed)."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def __init__(self, folder: Path) -> None:
                self.folder = folder

            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory and event.event_type == "modified":
                    return  # a folder's own times: its entries' events say what changed
                paths = [os.fsdecode(event.src_path)]
                if event.dest_path:
                    paths.append(os.fsdecode(event.dest_path))
                watcher.changed(self.folder, event.event_type, paths)

        self._observer = Observer()
        for folder in self.folders:
            self._observer.schedule(Handler(folder), str(folder), recursive=True)
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        """Ask the watch to end: a sync in progress stops after its current file (signal-safe)."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def check(self, folder: Path) -> None:
        """Raises ``FolderGone`` if ``folder`` is not the folder being watched any more."""
        if identity(folder) != self.identities[folder]:
            raise FolderGone(
                f"the watched folder '{folder}' is gone (deleted, moved or unmounted, or replaced); "
                "its documents stay in the index. Start `qa watch` again when it is back"
            )

    def run(self) -> None:
        """Sync folders as they change until ``stop()``.

        Raises:
            FolderGone: a watched folder disappeared.
        """
        try:
            while not self._stop.is_set():
                with self._lock:
                    wait = self.pending.wait(self.clock())
                # Wake at least every 2 s to notice a folder that vanished without an event.
                self._wake.wait(2.0 if wait is None else min(wait, 2.0))
                self._wake.clear()
                if self._stop.is_set():
                    return
                for folder in self.folders:
                    self.check(folder)
                with self._lock:
                    due = self.pending.due(self.clock())
                for folder in due:
                    self.run_sync(folder)
                    if self._stop.is_set():
                        return
        except Stopped:
            return
        finally:
            self.close()

    def run_sync(self, folder: Path) -> None:
        """Sync ``folder`` now; a failed sync is reported and retried in ``retry`` seconds."""
        self.check(folder)
        try:
            self.sync(folder)
        except FolderGone:
            raise
        except QAError as exc:
            self.check(folder)  # an error because the folder went away is that
            if self.on_error:
                self.on_error(folder, exc)
            with self._lock:
                self.pending.note(folder, self.clock() + self.retry)

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
