"""`qa keys add | list | remove`: the API keys of a keys file (``QA_KEYS_FILE``, ``qa.access``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from qa.access import add_key, read_keys_file, remove_key
from qa.cli.common import JsonOpt, emit, err, out

keys_app = typer.Typer(
    help="API keys with scopes per collection, a principal and groups, kept (as sha256) in QA_KEYS_FILE.",
    no_args_is_help=True,
)

FileOpt = Annotated[Path | None, typer.Option("--file", help="The keys file [env QA_KEYS_FILE].", show_default=False)]


def _file(path: Path | None) -> Path:
    chosen = path or (Path(os.environ["QA_KEYS_FILE"]) if os.environ.get("QA_KEYS_FILE") else None)
    if chosen is None:
        err.print("no keys file: pass --file PATH or set QA_KEYS_FILE")
        raise typer.Exit(2)
    return chosen


@keys_app.command("add")
def add(
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="COLLECTION:SCOPES, e.g. default:read or default:read,write; '*' for every collection "
            "(*:admin). Repeatable.",
        ),
    ],
    principal: Annotated[str | None, typer.Option(help="Who the key is (user:<principal> in access lists).")] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="A group of the principal (group:<name>). Repeatable.")
    ] = None,
    file: FileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a new key and print it, once: only its sha256 is kept in the file."""
    key, entry = add_key(_file(file), " ".join(scope), principal, group or ())
    if as_json:
        emit({"key": key, **entry.as_json()})
    else:
        out.print(key, markup=False, highlight=False)
        err.print(f"key {entry.id} added; it is shown only now (restart the server or reload to use it)")


@keys_app.command("list")
def list_keys(file: FileOpt = None, as_json: JsonOpt = False) -> None:
    """The keys of the file: id, principal, groups and scopes (never the keys)."""
    entries = read_keys_file(_file(file))
    if as_json:
        emit([{k: v for k, v in e.as_json().items() if k != "sha256"} for e in entries])
        return
    for e in entries:
        scopes = " ".join(f"{c}:{','.join(sorted(s))}" for c, s in e.scopes.items())
        out.print(f"{e.id}  {e.principal or '-'}  groups={','.join(e.groups) or '-'}  {scopes}", markup=False)


@keys_app.command("remove")
def remove(key_id: Annotated[str, typer.Argument(help="The key's id (qa keys list).")], file: FileOpt = None) -> None:
    """Remove a key from the file."""
    if not remove_key(_file(file), key_id):
        err.print(f"no key with id {key_id!r}; qa keys list shows them")
        raise typer.Exit(1)
    out.print(f"removed key {key_id}")
