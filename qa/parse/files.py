"""Files on disk, safely: walking directories (hidden files, symlinks, loops, special files) and
reading one file within the size limit."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from qa.errors import InvalidInput, NoText, QAError, TooLarge, UnsupportedFileType
from qa.parse.formats import SNIFF_BYTES, file_type, known_type


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed: its path, why in one word, and the message that says more.

    ``reason`` is one of ``unsupported`` (no parser for its type), ``too_large`` (over
    QA_MAX_DOCUMENT_BYTES, or over the parse time or memory limit), ``unreadable`` (could not be
    opened or read, or a symlink leading out of the folder), ``invalid`` (read, but its content was
    refused: not valid in its format, an undecodable encoding), ``empty`` (read, and it has no
    text: an empty file, an icon or a scan where OCR read none).
    """

    path: str
    reason: str
    error: str

    @classmethod
    def of(cls, path: Path | str, error: QAError, reading: bool = False) -> Skipped:
        """The entry for ``error``; ``reading``: it was raised while reading the file, not parsing it."""
        if isinstance(error, UnsupportedFileType):
            reason = "unsupported"
        elif isinstance(error, TooLarge):
            reason = "too_large"
        elif isinstance(error, NoText):
            reason = "empty"
        else:
            reason = "unreadable" if reading else "invalid"
        return cls(str(path), reason, str(error))

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "error": self.error}


def _is_within(path: str, root: str) -> bool:
    """True if real path ``path`` is ``root`` or inside it (both already resolved)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk(
    root: Path, follow_symlinks: bool, skipped: list[Skipped] | None, exclude: Sequence[Path] = ()
) -> Iterator[Path]:
    """Supported, non-hidden regular files under ``root``, never leaving it unless following
    symlinks, nor entering the directories of ``exclude``. The others that are not hidden (an
    unsupported type, a symlink leading out or broken, a FIFO or device) are added to ``skipped``
    with the reason."""
    real_root = os.path.realpath(root)
    # Real directories are walked first and symlinked ones afterwards, so a file reachable both
    # ways is listed under its real path; ``visited`` (by real path) stops loops and repeats.
    # An excluded directory counts as visited: never entered, none of its files even opened.
    visited: set[str] = {os.path.realpath(d) for d in exclude}
    pending: list[Path] = [root]
    linked: list[Path] = []
    while pending or linked:
        directory = pending.pop() if pending else linked.pop(0)
        real_dir = os.path.realpath(directory)
        if real_dir in visited:
            continue
        visited.add(real_dir)
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            raise InvalidInput(f"cannot read directory '{directory}': {e.strerror}; check its permissions") from None
        subdirs: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            is_link = entry.is_symlink()
            if is_link:
                target = os.path.realpath(path)
                if not follow_symlinks and not _is_within(target, real_root):
                    _skip(
                        skipped,
                        path,
                        "unreadable",
                        f"'{path}' is a symlink leading outside '{root}'; not "
                        "read. Pass --follow-symlinks to read symlinks that lead outside the given roots",
                    )
                    continue
            try:
                st = os.stat(path)  # follows links; raises for broken links and loops
            except OSError as e:
                _skip(skipped, path, "unreadable", f"cannot read '{path}': {e.strerror} (a broken symlink or a loop)")
                continue
            if stat.S_ISDIR(st.st_mode):
                (linked if is_link else subdirs).append(path)
            elif not stat.S_ISREG(st.st_mode):
                # Only regular files: reading a FIFO or device would block or never end.
                _skip(skipped, path, "unreadable", f"'{path}' is not a regular file (a FIFO, socket or device)")
            else:
                if not known_type(entry.name):
                    # No parser by its name: read as text when its first bytes are text (README, NEWS.Debian).
                    try:
                        file_type(entry.name, _head(path))
                    except UnsupportedFileType as e:
                        if skipped is not None:
                            skipped.append(Skipped.of(path, e))
                        continue
                    except OSError as e:
                        _skip(skipped, path, "unreadable", f"cannot read '{path}': {e.strerror}")
                        continue
                yield path
        pending.extend(reversed(subdirs))


def _head(path: Path) -> bytes:
    """The first bytes of a file of no known type, to tell whether it is text (``file_type``)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.read(fd, SNIFF_BYTES)
    finally:
        os.close(fd)


def _skip(skipped: list[Skipped] | None, path: Path, reason: str, message: str) -> None:
    if skipped is not None:
        skipped.append(Skipped(str(path), reason, message))


def _sort_key(pair: tuple[Path, Path]) -> tuple[str, ...]:
    """Order files of one root by their relative path components."""
    file, root = pair
    return file.relative_to(root).parts


def iter_files(
    paths: Sequence[str | Path],
    follow_symlinks: bool = False,
    skipped: list[Skipped] | None = None,
    exclude: Sequence[Path] = (),
) -> list[tuple[Path, Path]]:
    """Expand files and directories into sorted, de-duplicated ``(file, root)`` pairs. Files of a
    directory that will not be read (hidden ones aside) are added to ``skipped``, with the reason,
    in the order found; a file named explicitly is returned whatever it is, so reading it says why
    it cannot be indexed. Directories in ``exclude`` are not entered: the index, when it lives in
    a folder being indexed (opening and closing its SQLite files in the process that has them open
    would drop that process's SQLite locks: POSIX locks go with any close of the file)."""
    result: list[tuple[Path, Path]] = []
    seen: set[tuple[Path, Path]] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InvalidInput(f"path '{raw}' does not exist; check the spelling or give an existing file or directory")
        if path.is_dir():
            # Sort per root so the order does not depend on the walk's real-before-linked scheduling.
            found = sorted(((f, path) for f in _walk(path, follow_symlinks, skipped, exclude)), key=_sort_key)
        else:
            # An explicit file is returned whatever its extension, so the caller reports why it is skipped.
            found = [(path, path.parent)]
        for pair in found:
            if pair not in seen:
                seen.add(pair)
                result.append(pair)
    return result


def _fd_path(fd: int) -> str | None:
    """The real path of the file open on ``fd`` (what was opened, not what its name means now)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")  # Linux
    except OSError:
        pass
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    get_path = getattr(fcntl, "F_GETPATH", None)  # macOS, the BSDs
    if get_path is not None:
        try:
            raw = fcntl.fcntl(fd, get_path, bytes(1024))
            return os.fsdecode(raw.rstrip(b"\0"))
        except OSError:
            pass
    return None


def _open_checked(path: Path, root: Path, follow_symlinks: bool) -> int:
    """A read-only descriptor of ``path``, checked on the descriptor itself (no race with a rename).

    Without ``follow_symlinks`` the file is opened without following a final symlink, and the real
    path of what was opened must be inside ``root``: a file or folder swapped for a symlink after it
    was listed (by ``iter_files``) is refused instead of read. A symlink whose target is inside the
    root (which the walk lists) is resolved first and opened the same way.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise block until a writer comes.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if follow_symlinks:
        return os.open(path, flags)
    try:
        fd = os.open(path, flags | nofollow)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        # A symlink: allowed only when it stays inside the root (checked below on what is opened).
        fd = os.open(os.path.realpath(path), flags | nofollow)
    real_root = os.path.realpath(root)
    opened = _fd_path(fd)
    if opened is None:
        # No way to ask the descriptor for its path: fall back to the name (racy, but not followed).
        opened = os.path.realpath(path)
    if not _is_within(opened, real_root):
        os.close(fd)
        raise InvalidInput(
            f"'{path}' leads outside '{root}' (a symlink, or it changed since the folder was listed); "
            "not read. Pass --follow-symlinks to read symlinks that lead outside the given roots"
        )
    return fd


def read_file(path: Path, root: Path, max_bytes: int | None = None, follow_symlinks: bool = False) -> tuple[str, bytes]:
    """The document id of ``path`` (its POSIX path relative to ``root``) and its bytes.

    The file is opened once and every check is made on that descriptor (see ``_open_checked``):
    without ``follow_symlinks`` what is read is a regular file inside ``root``, even if the file or
    a folder above it was swapped for a symlink after ``iter_files`` listed it.

    Raises:
        UnsupportedFileType: the extension has no parser (checked before reading).
        TooLarge: the file is over ``max_bytes``.
        InvalidInput: the file is not a regular file, leads outside ``root``, or cannot be read.
    """
    path = Path(path)
    try:
        rel = path.relative_to(root)
    except ValueError:
        try:
            rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        except ValueError:
            rel = Path(path.name)
    doc_id = PurePosixPath(*rel.parts).as_posix() if rel.parts else path.name
    # Before reading: an unsupported file should say so, not that it is too large or unreadable.
    if not known_type(doc_id):
        try:
            head = _head(path)
        except OSError:
            head = b""  # opened below, where the error is reported as it should be
        file_type(doc_id, head)
    try:
        fd = _open_checked(path, root, follow_symlinks)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            # A FIFO or device named like a document would block the read forever.
            if not stat.S_ISREG(st.st_mode):
                raise InvalidInput(f"'{path}' is not a regular file; give a file or a directory of files")
            if max_bytes is not None:
                if st.st_size > max_bytes:
                    raise TooLarge(
                        f"'{doc_id}' is {st.st_size:,} bytes, over the limit of {max_bytes:,} bytes; "
                        "split it into smaller files or raise QA_MAX_DOCUMENT_BYTES"
                    )
                # Read one byte past the limit so a file that grew since fstat is still caught.
                data = f.read(max_bytes + 1)
            else:
                data = f.read()
    except OSError as e:
        raise InvalidInput(f"cannot read '{path}': {e.strerror}; check that it exists and is readable") from None
    return doc_id, data
