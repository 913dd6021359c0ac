"""Command line: `qa index|search|ask|serve|delete|list|stats`. Errors exit non-zero with one line."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qa.config import Settings
from qa.errors import InvalidInput, QAError

app = typer.Typer(
    help="Retrieval-augmented question answering with exact character citations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class _State:
    overrides: dict[str, Any] = {}


def settings() -> Settings:
    return Settings(**_State.overrides)


def service() -> Any:
    from qa.service import QAService  # heavy imports (torch) only for commands that need them

    return QAService(settings())


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def emit(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.callback()
def main_options(
    index_dir: Annotated[Path | None, typer.Option(help="Directory of indexes [env QA_INDEX_DIR].")] = None,
    index_name: Annotated[str | None, typer.Option("--index", help="Index name [env QA_INDEX_NAME].")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    """Index documents and ask questions about them. Every answer cites the exact source characters."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if index_dir is not None:
        _State.overrides["index_dir"] = index_dir
    if index_name is not None:
        _State.overrides["index_name"] = index_name


def _index_paths(svc: Any, paths: list[Path], follow_symlinks: bool, show_progress: bool) -> dict[str, Any]:
    from qa.parse import iter_files, load_path

    files = iter_files(paths, follow_symlinks=follow_symlinks)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    chunks, failed = 0, []
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
    with progress:
        task = progress.add_task("index", total=len(files), status="")
        for path, root in files:
            try:
                docs = load_path(path, root, max_bytes=svc.settings.max_document_bytes)
                results = svc.add_documents(docs)
            except QAError as exc:
                failed.append({"path": str(path), "error": str(exc)})
                progress.console.print(f"skipped {path}: {exc}", markup=False, highlight=False)
            else:
                for r in results:
                    counts[r.status] += 1
                    chunks += r.chunks if r.status != "unchanged" else 0
            progress.update(task, advance=1, status=f"{sum(counts.values())} docs, {chunks} new chunks")
    return {"files": len(files), **counts, "chunks_written": chunks, "failed": failed}


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (recursive): .txt .md .html .pdf .jsonl")],
    follow_symlinks: Annotated[bool, typer.Option(help="Follow symlinks that lead outside the given roots.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Index files and directories. Unchanged documents are skipped; changed ones replaced."""
    svc = service()
    try:
        summary = _index_paths(svc, paths, follow_symlinks, show_progress=not as_json)
    finally:
        svc.close()
    if as_json:
        emit(summary)
    else:
        out.print(
            f"{summary['files']} files: {summary['added']} added, {summary['updated']} updated, "
            f"{summary['unchanged']} unchanged, {len(summary['failed'])} failed; "
            f"{summary['chunks_written']} chunks written",
            markup=False,
        )
    if summary["failed"]:
        raise typer.Exit(1)


def _filters(pairs: list[str] | None) -> dict[str, Any] | None:
    if not pairs:
        return None
    filters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"filter {pair!r} must look like field=value")
        try:
            filters[key] = json.loads(value)
        except json.JSONDecodeError:
            filters[key] = value
    return filters


KOpt = Annotated[int | None, typer.Option("-k", help="Passages to retrieve.")]
FilterOpt = Annotated[
    list[str] | None, typer.Option("--filter", "-f", help="Metadata filter field=value (repeatable).")
]


@app.command()
def search(question: str, k: KOpt = None, filter: FilterOpt = None, as_json: JsonOpt = False) -> None:
    """Show the passages that best match a question."""
    svc = service()
    passages = svc.search(question, k, _filters(filter))
    if as_json:
        emit({"question": question, "passages": [asdict(p) for p in passages]})
        return
    if not passages:
        out.print("no passages: the index is empty or nothing matches the filters")
    for i, p in enumerate(passages, 1):
        out.print(f"[bold]{i}. {p.title or p.doc_id}[/bold]  ({p.doc_id} [{p.start}:{p.end}], score {p.score:.3f})")
        out.print(p.text, markup=False, highlight=False)
        out.print()


@app.command()
def ask(question: str, k: KOpt = None, filter: FilterOpt = None, as_json: JsonOpt = False) -> None:
    """Answer a question from the indexed documents, with citations."""
    svc = service()
    a = svc.ask(question, k, _filters(filter))
    if as_json:
        emit({"question": question, **asdict(a)})
        return
    out.print(a.answer, markup=False, highlight=False)
    for c in a.citations:
        out.print(f"  [{c.n}] {c.title or c.doc_id} ({c.doc_id} [{c.start}:{c.end}])", markup=False)


@app.command()
def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids to remove.")], as_json: JsonOpt = False
) -> None:
    """Remove documents and all their chunks."""
    svc = service()
    try:
        for doc_id in doc_ids:
            svc.delete(doc_id)
    finally:
        svc.close()
    if as_json:
        emit({"deleted": doc_ids})
    else:
        out.print(f"deleted {len(doc_ids)} document(s)")


@app.command("list")
def list_documents(
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List indexed documents."""
    svc = service()
    docs, total = svc.list_documents(offset, limit)
    if as_json:
        emit({"documents": [asdict(d) for d in docs], "total": total, "offset": offset, "limit": limit})
        return
    for d in docs:
        out.print(f"{d.id}\t{d.n_chunks} chunks\t{d.title}", markup=False, highlight=False)
    out.print(f"{len(docs)} of {total} documents")


@app.command()
def stats(as_json: JsonOpt = False) -> None:
    """Show what the index holds."""
    data = service().stats()
    if as_json:
        emit(data)
        return
    for key, value in data.items():
        out.print(f"{key}: {value}", markup=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [env QA_HOST, default 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [env QA_PORT, default 8000].")] = None,
    ingest: Annotated[
        list[Path] | None, typer.Option(help="Index these paths before serving (unchanged files are skipped).")
    ] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from qa.api import create_app

    cfg = settings()
    svc = service()
    svc.warm()
    if ingest:
        summary = _index_paths(svc, ingest, follow_symlinks=False, show_progress=sys.stderr.isatty())
        err.print(
            f"ingested {summary['files']} files: {summary['added']} added, {summary['updated']} updated, "
            f"{summary['unchanged']} unchanged, {len(summary['failed'])} failed",
            markup=False,
        )
    bind_host, bind_port = host or cfg.host, port or cfg.port
    err.print(f"serving on http://{bind_host}:{bind_port} (docs at /docs)", markup=False)
    uvicorn.run(create_app(cfg, service=svc), host=bind_host, port=bind_port, log_level="info")
    svc.close()


def main() -> None:
    """Console entry point: domain errors become one line on stderr and a non-zero exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app()
    except QAError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # never a traceback for the user; -v logs it
        logging.getLogger("qa").debug("unhandled", exc_info=True)
        err.print(f"error: internal error: {type(exc).__name__}: {exc}", markup=False, highlight=False)
        sys.exit(70)


if __name__ == "__main__":
    main()
