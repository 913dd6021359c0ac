"""`qa index`, `qa delete`, `qa list`, `qa stats`: what the index holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from qa.cli.common import CollectionOpt, JsonOpt, emit, err, index_paths, out, service


def index(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or directories (recursive): .txt .md .rst .html .pdf .jsonl .docx .pptx .xlsx .csv .tsv "
            ".epub .odt .eml .mbox, any of them gzip'd (.gz); text in any common encoding; images .png .jpg .tiff "
            "and scanned PDFs read by OCR"
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            help="Name of the directory's source (no '/'): documents get ids NAME/path/in/dir. "
            "Default: the directory's absolute path, so an id is the file's absolute path."
        ),
    ] = None,
    delete: Annotated[
        bool,
        typer.Option(help="Delete the documents of files no longer in the directory (--no-delete keeps them)."),
    ] = True,
    meta: Annotated[
        list[str] | None,
        typer.Option(
            "--meta",
            help="Metadata key=value for every file (repeatable; values are strings). A .qa-meta.json "
            "(a JSON object) in a folder adds metadata to the files below it, overriding these.",
        ),
    ] = None,
    access: Annotated[
        str | None,
        typer.Option(
            help="Who may see these documents: group:NAME and user:NAME, comma-separated (README, Access). "
            'A .qa-meta.json with {"access": [...]} sets it for the files below it.',
        ),
    ] = None,
    follow_symlinks: Annotated[bool, typer.Option(help="Follow symlinks that lead outside the given roots.")] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Worker i of n (e.g. 0/2): index only the documents whose id hashes to i. Run n workers, "
            "anywhere, on the same paths and QA_STORE; rerun a killed one to finish its share."
        ),
    ] = None,
    as_json: JsonOpt = False,
    collection: CollectionOpt = None,
) -> None:
    """Sync files and directories into the index: each directory is mirrored into its source (new
    files added, changed ones re-indexed, gone ones deleted); unchanged files are skipped unread."""
    from qa.shard import parse_shard
    from qa.sync import SyncOptions, parse_meta

    part = parse_shard(shard) if shard is not None else None
    from qa.access import ACCESS_FIELD, check_access

    metadata = parse_meta(meta or [])
    if access is not None:
        metadata[ACCESS_FIELD] = check_access(access, "--access: ")
    options = SyncOptions(source=source, delete=delete, metadata=metadata)
    svc = service()
    try:
        summary = index_paths(svc, paths, follow_symlinks, show_progress=not as_json, shard=part, options=options)
    finally:
        svc.close()
    if as_json:
        emit(summary.as_dict())
    else:
        out.print(
            f"{summary.files} files: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {summary.deleted} deleted, {len(summary.failed)} failed, "
            f"{len(summary.skipped)} skipped; "
            f"{summary.chunks_written} chunks written"
            + (f"; shard {part}: {summary.other_shards} documents left to other shards" if part else ""),
            markup=False,
        )
        report_skipped(summary.skipped)
    if summary.failed:
        raise typer.Exit(1)


# Files passed over that are listed one by one; past that, counted by reason (--json lists all).
SKIPPED_SHOWN = 20


def report_skipped(skipped: list[dict[str, str]]) -> None:
    """The files a directory walk passed over, one line each (``skipped PATH (reason): message``)."""
    for entry in skipped[:SKIPPED_SHOWN]:
        err.print(f"skipped {entry['path']} ({entry['reason']}): {entry['error']}", markup=False, highlight=False)
    rest = skipped[SKIPPED_SHOWN:]
    if rest:
        reasons = Counter(e["reason"] for e in rest)
        counts = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        err.print(f"... and {len(rest)} more skipped ({counts}); --json lists every one", markup=False)


def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids to remove.")],
    as_json: JsonOpt = False,
    collection: CollectionOpt = None,
) -> None:
    """Remove documents and all their chunks."""
    svc = service(must_exist=True)
    try:
        for doc_id in doc_ids:
            svc.delete(doc_id)
    finally:
        svc.close()
    if as_json:
        emit({"deleted": doc_ids})
    else:
        out.print(f"deleted {len(doc_ids)} document(s)")


def list_documents(
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
    collection: CollectionOpt = None,
) -> None:
    """List indexed documents."""
    svc = service(must_exist=True)
    docs, total = svc.list_documents(offset, limit)
    if as_json:
        emit({"documents": [asdict(d) for d in docs], "total": total, "offset": offset, "limit": limit})
        return
    for d in docs:
        out.print(f"{d.id}\t{d.n_chunks} chunks\t{d.title}", markup=False, highlight=False)
    out.print(f"{len(docs)} of {total} documents")


def stats(as_json: JsonOpt = False, collection: CollectionOpt = None) -> None:
    """Show what the index holds."""
    data = service(must_exist=True).stats()
    if as_json:
        emit(data)
        return
    for key, value in data.items():
        out.print(f"{key}: {value}", markup=False)
