"""Command line: `qa index|watch|search|ask|serve|mcp|delete|list|stats|repair|collection`. Errors exit non-zero
with one line.

This module holds the typer ``app``, its global options and ``main`` (the console entry point);
the commands live by concept, each module importing only ``common`` (never this package):

- ``common``: the settings and service of a run, output, ``fail``, ``emit``, the indexing progress bar
- ``documents``: ``index``, ``delete``, ``list``, ``stats``
- ``watch``: ``watch``, folders kept in sync as they change
- ``questions``: ``search``, ``ask``
- ``server``: ``serve``, ``mcp``
- ``admin``: ``repair``, ``export``, ``import``, ``eval``
- ``collections``: ``collection create|list|show|delete``

Heavy imports (the service, torch, uvicorn) happen inside the commands that need them, so
``qa --help`` and ``qa list`` stay fast.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from qa.cli.admin import eval_command, export_command, import_command, repair
from qa.cli.collections import collection_app
from qa.cli.common import State, err
from qa.cli.documents import delete, index, list_documents, stats
from qa.cli.keys import keys_app
from qa.cli.questions import ask, search
from qa.cli.server import mcp, serve
from qa.cli.watch import watch
from qa.config import settings_error
from qa.errors import QAError

app = typer.Typer(
    help="Retrieval-augmented question answering with exact character citations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main_options(
    index_dir: Annotated[Path | None, typer.Option(help="Directory of indexes [env QA_INDEX_DIR].")] = None,
    index_name: Annotated[str | None, typer.Option("--index", help="Index name [env QA_INDEX_NAME].")] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            envvar="QA_COLLECTION",
            help="Collection to work on (`qa collection list`); default: the default collection [env QA_COLLECTION].",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    """Index documents and ask questions about them. Every answer cites the exact source characters."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if index_dir is not None:
        State.overrides["index_dir"] = index_dir
    if index_name is not None:
        State.overrides["index_name"] = index_name
    State.collection = collection or None


# Registered in the order `qa --help` lists them.
app.command()(index)
app.command()(watch)
app.command()(search)
app.command()(ask)
app.command()(delete)
app.command("list")(list_documents)
app.command()(stats)
app.command()(repair)
app.command("export")(export_command)
app.command("import")(import_command)
app.command()(serve)
app.command()(mcp)
app.add_typer(collection_app, name="collection")
app.add_typer(keys_app, name="keys")
app.command(
    "eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)(eval_command)


def main() -> None:
    """Console entry point: domain errors become one line on stderr and a non-zero exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app()
    except QAError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
    except ValidationError as exc:  # a QA_* setting out of range or of the wrong type
        err.print(f"error: {settings_error(exc)}", markup=False, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # never a traceback for the user; -v logs it
        logging.getLogger("qa").debug("unhandled", exc_info=True)
        err.print(f"error: internal error: {type(exc).__name__}: {exc}", markup=False, highlight=False)
        sys.exit(70)
