"""What every `qa` command shares: the settings and service of this run, output, errors, progress."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from qa.config import Settings
from qa.errors import QAError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class State:
    """Settings the global options (``--index-dir``, ``--index``) override for this run, and the
    collection it works on (``--collection`` / ``QA_COLLECTION``; None: the default)."""

    overrides: dict[str, Any] = {}
    collection: str | None = None


def _use_collection(name: str | None) -> str | None:
    if name:
        State.collection = name
    return name


# `qa index DIR --collection hr` as well as `qa --collection hr index DIR`: set while the
# command's options are parsed, before it runs.
CollectionOpt = Annotated[
    str | None,
    typer.Option(
        "--collection",
        help="Collection to work on (`qa collection list`); default: the default collection [env QA_COLLECTION].",
        callback=_use_collection,
        show_envvar=False,
    ),
]


def settings() -> Settings:
    cfg = Settings(**State.overrides)
    if "index_dir" in State.overrides or "QA_INDEX_DIR" in os.environ or cfg.store:
        return cfg
    found = find_index_dir(Path.cwd(), cfg.index_dir, cfg.index_name)
    return cfg if found is None else cfg.model_copy(update={"index_dir": found})


def find_index_dir(cwd: Path, default: Path, name: str) -> Path | None:
    """With no QA_INDEX_DIR or --index-dir, the default (relative) index directory is looked for in
    the current directory and then its parents, as git finds its repository, so `qa` run anywhere
    inside a project uses the project's index. None: no parent holds one."""
    if default.is_absolute():
        return None
    for base in (cwd, *cwd.parents):
        if (base / default / name / "qa.sqlite").is_file():
            return base / default
    return None


def collections() -> Any:
    """The collections of this run's index directory (or database): ``qa.collections.Collections``."""
    from qa.collections import Collections

    return Collections(settings())


def service(must_exist: bool = False) -> Any:
    """The service of this run: its collection's (``--collection``), else the default's.
    ``must_exist``: a read command, which fails with a clear message instead of creating an empty
    index where none is (a typo in --index, another directory)."""
    from qa.embed import export_pending
    from qa.store import describe_location, index_exists

    cfg = settings()
    if State.collection and State.collection != cfg.index_name:
        # A collection other than the default exists with its index (`qa collection create`);
        # NotFound otherwise, one line from `main`.
        svc = collections().get(State.collection)
        if export_pending(svc.settings):
            err.print(f"preparing the embedding model {svc.settings.model} for onnxruntime ...", markup=False)
        return svc
    if must_exist and not index_exists(cfg):
        where = describe_location(cfg)
        if not cfg.store and not cfg.index_dir.is_absolute():
            where = f"{Path.cwd() / cfg.index_path} (QA_INDEX_DIR {cfg.index_dir} is relative to this directory)"
        fail(
            f"no index {cfg.index_name!r} at {where}; build one with `qa index PATHS`, "
            "or point QA_INDEX_DIR / --index-dir (and --index) at an existing one"
        )
    if export_pending(cfg):
        err.print(
            f"preparing the embedding model {cfg.model} for onnxruntime (once per machine, about 30 s): "
            "exporting and quantizing it ...",
            markup=False,
            highlight=False,
        )
    from qa.service import QAService  # heavy imports (torch) only for commands that need them

    return QAService(cfg)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def emit(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def index_paths(
    svc: Any,
    paths: list[Path],
    follow_symlinks: bool,
    show_progress: bool,
    shard: Any = None,
    options: Any = None,
    after_file: Callable[[], None] | None = None,
    transient: bool = False,
) -> Any:
    """``svc.index_paths`` with a progress bar on stderr: bytes done of the files' bytes (the
    file being indexed moving with its chunks), the time left, and the current file with its
    chunks (``qa.progress``). ``after_file`` runs after each file (``qa watch`` stops there)."""
    from qa.progress import IndexProgress

    model = IndexProgress()
    progress = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(bar_width=24),
        BytesColumn(model),
        EtaColumn(model),
        TextColumn("{task.fields[status]}", markup=False),
        TimeElapsedColumn(),
        console=err,
        disable=not show_progress,
        transient=transient,
    )
    task = progress.add_task("index", total=None, status="")

    def on_start(files: list[Path]) -> None:
        sizes = {}
        for f in files:
            try:
                sizes[str(f)] = f.stat().st_size
            except OSError:
                sizes[str(f)] = 0  # gone already: the sync reports it
        model.start(sizes)
        progress.update(task, total=max(model.total_bytes, 1), completed=0)

    def status(summary: Any = None) -> str:
        if model.current is not None:
            name = Path(model.current).name
            chunks = f" {model.chunks_embedded}/{model.chunks_total} chunks" if model.chunks_total else ""
            return f"{model.files_done + 1}/{model.files} {name}{chunks}"
        if summary is not None:
            done = summary.added + summary.updated + summary.unchanged
            return f"{model.files_done}/{model.files} files, {done} docs, {summary.chunks_written} new chunks"
        return ""

    def on_begin(path: Path) -> None:
        model.begin(str(path))
        progress.update(task, status=status())

    def on_chunks(embedded: int, total: int) -> None:
        model.chunks(embedded, total)
        progress.update(task, completed=model.done_bytes, status=status())

    def on_file(path: Path, error: QAError | None, summary: Any) -> None:
        if error is not None:
            progress.console.print(f"skipped {path}: {error}", markup=False, highlight=False)
        model.end()
        progress.update(task, completed=model.done_bytes, status=status(summary))
        if after_file is not None:
            after_file()

    with progress:
        return svc.index_paths(
            paths,
            follow_symlinks=follow_symlinks,
            shard=shard,
            on_start=on_start,
            on_file=on_file,
            options=options,
            on_begin=on_begin,
            on_chunks=on_chunks,
        )


class BytesColumn(ProgressColumn):
    """``3.2 of 45.6 MB``: the bytes synced of the bytes to sync."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def render(self, task: Task) -> Text:
        from qa.progress import format_bytes

        if not self.model.files:
            return Text("")
        done, total = format_bytes(self.model.done_bytes), format_bytes(self.model.total_bytes)
        return Text(f"{done} of {total}", style="progress.download")


class EtaColumn(ProgressColumn):
    """``eta 1:05``: the time left at the rate of the files indexed so far (``qa.progress``)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def render(self, task: Task) -> Text:
        from qa.progress import format_eta

        if task.finished:
            return Text("")
        return Text(format_eta(self.model.eta()), style="progress.remaining")
