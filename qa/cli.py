"""Command line: `qa index|search|ask|serve|delete|list|stats|repair`. Errors exit non-zero with one line."""

from __future__ import annotations

import importlib.util
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
from qa.observability import configure_logging
from qa.security import is_loopback, parse_keys

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


def _index_paths(svc: Any, paths: list[Path], follow_symlinks: bool, show_progress: bool, shard: Any = None) -> Any:
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
        )


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (recursive): .txt .md .html .pdf .jsonl")],
    follow_symlinks: Annotated[bool, typer.Option(help="Follow symlinks that lead outside the given roots.")] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Worker i of n (e.g. 0/2): index only the documents whose id hashes to i. Run n workers, "
            "anywhere, on the same paths and QA_STORE; rerun a killed one to finish its share."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Index files and directories. Unchanged documents are skipped; changed ones replaced."""
    from qa.shard import parse_shard

    part = parse_shard(shard) if shard is not None else None
    svc = service()
    try:
        summary = _index_paths(svc, paths, follow_symlinks, show_progress=not as_json, shard=part)
    finally:
        svc.close()
    if as_json:
        emit(summary.as_dict())
    else:
        out.print(
            f"{summary.files} files: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {len(summary.failed)} failed; "
            f"{summary.chunks_written} chunks written"
            + (f"; shard {part}: {summary.other_shards} documents left to other shards" if part else ""),
            markup=False,
        )
    if summary.failed:
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


def _mode(mode: str | None) -> Any:
    if mode is not None and mode not in ("dense", "lexical", "hybrid"):
        raise InvalidInput(f"--mode must be dense, lexical or hybrid, not {mode!r}")
    return mode


KOpt = Annotated[int | None, typer.Option("-k", help="Passages to retrieve.")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="Retrieval: dense, lexical or hybrid [env QA_RETRIEVAL_MODE].")
]
RerankOpt = Annotated[bool | None, typer.Option("--rerank/--no-rerank", help="Second-stage scoring [env QA_RERANK].")]
FilterOpt = Annotated[
    list[str] | None, typer.Option("--filter", "-f", help="Metadata filter field=value (repeatable).")
]


@app.command()
def search(
    question: str,
    k: KOpt = None,
    filter: FilterOpt = None,
    mode: ModeOpt = None,
    rerank: RerankOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages that best match a question."""
    svc = service()
    passages = svc.search(question, k, _filters(filter), _mode(mode), rerank)
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
def ask(
    question: str,
    k: KOpt = None,
    filter: FilterOpt = None,
    mode: ModeOpt = None,
    rerank: RerankOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the indexed documents, with citations."""
    svc = service()
    a = svc.ask(question, k, _filters(filter), _mode(mode), rerank, extractive=True)
    if as_json:
        emit({"question": question, **asdict(a)})
        return
    if a.short:
        out.print(a.short.text, markup=False, highlight=False)
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
def repair(as_json: JsonOpt = False) -> None:
    """Check the index and rebuild its derived files (FAISS vectors, lexical index) from SQLite.

    Exits 1 when problems remain that need the sources (a half-written document: re-index it)."""
    from qa.store.embedded import DB_FILE

    cfg = settings()
    if cfg.store:
        fail("qa repair checks the embedded store; a Postgres store (QA_STORE) is repaired with Postgres' own tools")
    if not (cfg.index_path / DB_FILE).is_file():
        fail(f"no index at {cfg.index_path}; build one with `qa index PATHS`")
    svc = service()
    try:
        store = svc.store
        report = store.repair()
    finally:
        svc.close()
    if as_json:
        emit(report)
    else:
        for problem in report["found"]:
            out.print(f"found: {problem}", markup=False, highlight=False)
        out.print(
            f"rebuilt {', '.join(report['rebuilt'])} from {report['documents']} documents, {report['chunks']} chunks",
            markup=False,
        )
        for problem in report["remaining"]:
            out.print(f"still wrong: {problem}", markup=False, highlight=False)
    if report["remaining"]:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    path: Annotated[Path, typer.Argument(help="File to write (.jsonl, or .jsonl.gz to compress).")],
    as_json: JsonOpt = False,
) -> None:
    """Write the index (documents, chunks and their vectors) to a file that `qa import` reads."""
    from qa.store.transfer import export_index

    svc = service()
    try:
        summary = export_index(svc.store, path)
    finally:
        svc.close()
    if as_json:
        emit(summary)
    else:
        out.print(f"exported {summary['documents']} documents, {summary['chunks']} chunks to {path}", markup=False)


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A file written by `qa export`.")],
    as_json: JsonOpt = False,
) -> None:
    """Load an export into the index (QA_STORE / QA_INDEX_NAME), keeping its vectors: no re-embedding."""
    from qa.store.transfer import import_index, read_manifest

    if not path.is_file():
        fail(f"{path} does not exist; make one with `qa export {path}`")
    manifest = read_manifest(path)
    svc = service()
    if svc.model_name != manifest.model:
        fail(f"{path} was exported from model {manifest.model!r}; set QA_MODEL={manifest.model} to import it")
    svc.new_index_dim = manifest.dim
    try:
        summary = import_index(svc.store, path)
    finally:
        svc.close()
    if as_json:
        emit(summary)
    else:
        out.print(f"imported {summary['documents']} documents, {summary['chunks']} chunks from {path}", markup=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [env QA_HOST, default 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [env QA_PORT, default 8000].")] = None,
    ingest: Annotated[
        list[Path] | None, typer.Option(help="Index these paths before serving (unchanged files are skipped).")
    ] = None,
    insecure: Annotated[bool, typer.Option(help="Allow a non-loopback address with no QA_API_KEYS.")] = False,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Server processes [env QA_WORKERS, default 1].")
    ] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from qa.api import create_app

    cfg = settings()
    bind_host, bind_port = host or cfg.host, port or cfg.port
    if not is_loopback(bind_host) and not parse_keys(cfg.api_keys) and not insecure:
        fail(
            f"refusing to serve on {bind_host} with no API keys: anyone who can reach it could change the index. "
            "Set QA_API_KEYS, bind 127.0.0.1, or pass --insecure"
        )
    configure_logging(cfg.log_format)
    svc = service()
    svc.warm()
    if ingest:
        summary = _index_paths(svc, ingest, follow_symlinks=False, show_progress=sys.stderr.isatty())
        err.print(
            f"ingested {summary.files} files: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {len(summary.failed)} failed",
            markup=False,
        )
    n = workers or cfg.workers
    err.print(
        f"serving on http://{bind_host}:{bind_port} (docs at /docs)" + (f", {n} processes" if n > 1 else ""),
        markup=False,
    )
    # Our middleware writes one access line per request, with its request id; uvicorn's own
    # loggers propagate to the same root handler.
    if n == 1:
        uvicorn.run(create_app(cfg, service=svc), host=bind_host, port=bind_port, log_config=None, access_log=False)
        svc.close()
        return
    # Several processes: each worker builds its own service from the environment (this process's
    # options are passed down through it) and shares the index through SQLite and the FAISS file,
    # as several processes on one index always do (README "Concurrency model").
    svc.close()
    for key, value in _State.overrides.items():
        os.environ[f"QA_{key.upper()}"] = str(value)
    import socket

    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "qa.api:worker_app",
        factory=True,
        workers=n,
        host=bind_host,
        port=bind_port,
        log_config=None,
        access_log=False,
    )
    # uvicorn binds the shared socket itself for workers, without TCP_NODELAY, which accepted
    # connections inherit: every response then waited for the client's delayed ACK (44 ms for
    # /healthz with 2 workers, measured). What `uvicorn.run` does for workers, with the option set.
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass


@app.command(
    "eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def eval_command(ctx: typer.Context) -> None:
    """Score retrieval, answers and citations on a dataset: runs `python -m evals` with the same
    options (its --help lists them; evals/README.md)."""
    # The evaluation harness (evals/, beside qa/ in the repository) imports qa, never the reverse:
    # this alias runs it as its own program.
    if importlib.util.find_spec("evals") is None:
        fail("qa eval needs the evals/ package of the repository checkout (run it from there)")
    for key, value in _State.overrides.items():
        os.environ[f"QA_{key.upper()}"] = str(value)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "evals", *ctx.args])


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
