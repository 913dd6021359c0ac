"""What every `qa` command shares: the settings and service of this run, output, errors, progress."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qa.config import Settings
from qa.errors import QAError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class State:
    """Settings the global options (``--index-dir``, ``--index``) override for this run."""

    overrides: dict[str, Any] = {}


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


def service(must_exist: bool = False) -> Any:
    """The service of this run. ``must_exist``: a read command, which fails with a clear message
    instead of creating an empty index where none is (a typo in --index, another directory)."""
    from qa.embed import export_pending
    from qa.store import describe_location, index_exists

    cfg = settings()
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
    svc: Any, paths: list[Path], follow_symlinks: bool, show_progress: bool, shard: Any = None, options: Any = None
) -> Any:
    """``svc.index_paths`` with a progress bar on stderr (one step per file)."""
    progress = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err,
        disable=not show_progress,
        transient=False,
    )
    task = progress.add_task("index", total=None, status="")

    def on_file(path: Path, error: QAError | None, summary: Any) -> None:
        if error is not None:
            progress.console.print(f"skipped {path}: {error}", markup=False, highlight=False)
        done = summary.added + summary.updated + summary.unchanged
        progress.update(task, advance=1, status=f"{done} docs, {summary.chunks_written} new chunks")

    with progress:
        return svc.index_paths(
            paths,
            follow_symlinks=follow_symlinks,
            shard=shard,
            on_start=lambda n: progress.update(task, total=n),
            on_file=on_file,
            options=options,
        )
