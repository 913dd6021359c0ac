"""What every `qa` command shares: the settings and service of this run, output, errors, progress."""

from __future__ import annotations

import json
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
    return Settings(**State.overrides)


def service() -> Any:
    from qa.service import QAService  # heavy imports (torch) only for commands that need them

    return QAService(settings())


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
