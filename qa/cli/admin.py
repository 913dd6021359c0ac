"""`qa repair`, `qa export`, `qa import`, `qa eval`: looking after an index and measuring it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from qa.cli.common import CollectionOpt, JsonOpt, State, collections, emit, fail, out, service, settings


def repair(as_json: JsonOpt = False, collection: CollectionOpt = None) -> None:
    """Check the index and rebuild its derived files (FAISS vectors, lexical index) from SQLite.

    A damaged qa.sqlite is first copied into a new file, every readable document with its chunks
    (the damaged file is kept beside it as qa.sqlite.damaged-<time>); the documents lost are listed
    to re-index from their sources. Stop the service first. Exits 1 when problems remain that need
    the sources (a lost or half-written document: re-index it)."""
    from qa.store.embedded import DB_FILE
    from qa.store.embedded.salvage import check, salvage

    cfg = settings()
    if State.collection:
        cfg = cfg.model_copy(update={"index_name": State.collection})
    if cfg.store:
        fail("qa repair checks the embedded store; a Postgres store (QA_STORE) is repaired with Postgres' own tools")
    if not (cfg.index_path / DB_FILE).is_file():
        fail(f"no index at {cfg.index_path}; build one with `qa index PATHS`")
    recovered = salvage(cfg.index_path) if check(cfg.index_path / DB_FILE) else None
    svc = service()
    try:
        store = svc.store
        report = store.repair()
    finally:
        svc.close()
    if recovered:
        damage = f"{cfg.index_path / DB_FILE} is damaged: {'; '.join(recovered['damaged'][:3])}"
        report["found"].insert(0, damage)
        report["recovered"] = recovered
        if recovered["lost"]:
            lost = recovered["lost"]
            shown = ", ".join(lost[:20]) + (f" and {len(lost) - 20} more" if len(lost) > 20 else "")
            report["remaining"].append(
                f"{len(lost)} documents were lost with the damaged pages; re-index them: {shown}"
            )
    if as_json:
        emit(report)
    else:
        for problem in report["found"]:
            out.print(f"found: {problem}", markup=False, highlight=False)
        if recovered:
            out.print(
                f"recovered {recovered['documents']} documents ({recovered['chunks']} chunks) into a new "
                f"{DB_FILE}; the damaged file is kept as {recovered['backup']}",
                markup=False,
                highlight=False,
            )
        out.print(
            f"rebuilt {', '.join(report['rebuilt'])} from {report['documents']} documents, {report['chunks']} chunks",
            markup=False,
        )
        for problem in report["remaining"]:
            out.print(f"still wrong: {problem}", markup=False, highlight=False)
    if report["remaining"]:
        raise typer.Exit(1)


def export_command(
    path: Annotated[Path, typer.Argument(help="File to write (.jsonl, or .jsonl.gz to compress).")],
    as_json: JsonOpt = False,
    collection: CollectionOpt = None,
) -> None:
    """Write the index (documents, chunks and their vectors) to a file that `qa import` reads."""
    from qa.store.transfer import export_index

    svc = service(must_exist=True)
    try:
        summary = export_index(svc.store, path)
    finally:
        svc.close()
    if as_json:
        emit(summary)
    else:
        out.print(f"exported {summary['documents']} documents, {summary['chunks']} chunks to {path}", markup=False)


def import_command(
    path: Annotated[Path, typer.Argument(help="A file written by `qa export`.")],
    as_json: JsonOpt = False,
    collection: CollectionOpt = None,
) -> None:
    """Load an export into the index (QA_STORE / QA_INDEX_NAME, or --collection: created with the
    export's settings when it does not exist), keeping its vectors: no re-embedding."""
    from qa.store.transfer import import_index, read_manifest

    if not path.is_file():
        fail(f"{path} does not exist; make one with `qa export {path}`")
    manifest = read_manifest(path)
    cfg = settings()
    if State.collection and State.collection != cfg.index_name:
        from qa.collections import exported_settings

        cols = collections()
        if State.collection not in cols.names():
            # A new collection, with the settings the export was made with (its manifest's record).
            cols.create(State.collection, exported_settings(manifest.extra, manifest.model), dim=manifest.dim)
        cols.close()
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


def eval_command(ctx: typer.Context) -> None:
    """Score retrieval, answers and citations on a dataset: runs `python -m evals` with the same
    options (its --help lists them; evals/README.md)."""
    # The evaluation harness (evals/, beside qa/ in the repository) imports qa, never the reverse:
    # this alias runs it as its own program.
    if importlib.util.find_spec("evals") is None:
        fail("qa eval needs the evals/ package of the repository checkout (run it from there)")
    for key, value in State.overrides.items():
        os.environ[f"QA_{key.upper()}"] = str(value)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "evals", *ctx.args])
