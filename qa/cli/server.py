"""`qa serve`: the HTTP API, in one process or several."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from qa.cli.common import State, err, fail, index_paths, service, settings
from qa.observability import configure_logging
from qa.security import is_loopback, parse_keys, stored_key

# The source of the first run's sample documents (``--samples DIR``): ids examples/<file>.
SAMPLES_SOURCE = "examples"


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [env QA_HOST, default 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [env QA_PORT, default 8000].")] = None,
    ingest: Annotated[
        list[Path] | None,
        typer.Option(help="Sync these paths into the index before serving (unchanged files are skipped)."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name of the --ingest directory (ids NAME/path; see `qa index`).")
    ] = None,
    samples: Annotated[
        list[Path] | None,
        typer.Option(
            help="Index these paths only when this start creates the index (the first run's sample documents): "
            "never into an index that exists, so a user's own index never gets them."
        ),
    ] = None,
    insecure: Annotated[bool, typer.Option(help="Allow a non-loopback address with no QA_API_KEYS.")] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(
            help="With no QA_API_KEYS: the API key kept in this file (made on first start, readable by this user "
            "only; never printed), so a server on a public address starts with a key (the container's default)."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Server processes [env QA_WORKERS, default 1].")
    ] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from qa.api import create_app

    cfg = settings()
    if State.collection and State.collection != cfg.index_name:
        fail(
            "qa serve serves every collection: requests pick one (?collection=NAME, or the OpenAI model); "
            "leave out --collection / QA_COLLECTION, or set QA_INDEX_NAME to change the default collection"
        )
    bind_host, bind_port = host or cfg.host, port or cfg.port
    # The bind address is one of the host names answered by default (QA_ALLOWED_HOSTS).
    cfg = cfg.model_copy(update={"host": bind_host})
    if key_file is not None and not parse_keys(cfg.api_keys):
        State.overrides["api_keys"] = stored_key(key_file)
        cfg = cfg.model_copy(update={"api_keys": State.overrides["api_keys"]})
        err.print(f"no QA_API_KEYS: requests that need a key use the one in {key_file}", markup=False)
    if not is_loopback(bind_host) and not parse_keys(cfg.api_keys) and not cfg.keys_file and not insecure:
        fail(
            f"refusing to serve on {bind_host} with no API keys: anyone who can reach it could change the index. "
            "Set QA_API_KEYS or QA_KEYS_FILE, bind 127.0.0.1, or pass --insecure"
        )
    configure_logging(cfg.log_format)
    from qa.store import index_exists

    first_run = not index_exists(cfg)
    svc = service()
    svc.warm()
    from qa.sync import SyncOptions

    # The samples go to the source "examples" (ids examples/<file>), whatever the checkout's path.
    runs = [(ingest, SyncOptions(source=source))] if ingest else []
    if samples and first_run:
        runs.append((samples, SyncOptions(source=SAMPLES_SOURCE if len(samples) == 1 else None)))
    if samples and not first_run:
        err.print("the index exists: the sample documents are not added to it", markup=False)
    for paths, options in runs:
        summary = index_paths(svc, paths, follow_symlinks=False, show_progress=sys.stderr.isatty(), options=options)
        err.print(
            f"ingested {summary.files} files: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {summary.deleted} deleted, {len(summary.failed)} failed",
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
    for key, value in State.overrides.items():
        os.environ[f"QA_{key.upper()}"] = str(value)
    os.environ["QA_HOST"] = bind_host
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


def mcp(
    allow_writes: Annotated[
        bool, typer.Option(help="Offer the add_document tool, which adds or replaces documents in the index.")
    ] = False,
) -> None:
    """Serve the index to an MCP client over stdin/stdout (the client starts this command): the tools
    search, ask, get_document, list_documents, and add_document with --allow-writes (also on `qa serve`
    at /mcp, over HTTP)."""
    from qa.api.mcp import serve_stdio

    svc = service()
    try:
        serve_stdio(svc, writes=allow_writes)
    finally:
        svc.close()
