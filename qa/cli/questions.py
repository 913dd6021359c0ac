"""`qa search` and `qa ask`: passages and cited answers for a question."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer

from qa.cli.common import CollectionOpt, JsonOpt, emit, out, service
from qa.errors import InvalidInput

KOpt = Annotated[int | None, typer.Option("-k", help="Passages to retrieve.")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="Retrieval: dense, lexical or hybrid [env QA_RETRIEVAL_MODE].")
]
RerankOpt = Annotated[bool | None, typer.Option("--rerank/--no-rerank", help="Second-stage scoring [env QA_RERANK].")]
MaxPerDocOpt = Annotated[
    int | None,
    typer.Option(
        "--max-per-doc",
        help="Most passages one document may give (0: no cap) while other documents can fill k [env QA_MAX_PER_DOC].",
    ),
]
FilterOpt = Annotated[
    list[str] | None, typer.Option("--filter", "-f", help="Metadata filter field=value (repeatable).")
]


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


def search(
    question: str,
    k: KOpt = None,
    filter: FilterOpt = None,
    mode: ModeOpt = None,
    rerank: RerankOpt = None,
    max_per_doc: MaxPerDocOpt = None,
    as_json: JsonOpt = False,
    collection: CollectionOpt = None,
) -> None:
    """Show the passages that best match a question."""
    svc = service(must_exist=True)
    passages = svc.search(question, k, _filters(filter), _mode(mode), rerank, max_per_doc)
    if as_json:
        emit({"question": question, "passages": [asdict(p) for p in passages]})
        return
    if not passages:
        out.print("no passages: the index is empty or nothing matches the filters")
    for i, p in enumerate(passages, 1):
        page = f", page {p.page}" if p.page is not None else ""
        out.print(
            f"[bold]{i}. {p.title or p.doc_id}[/bold]  ({p.doc_id} [{p.start}:{p.end}]{page}, score {p.score:.3f})"
        )
        out.print(p.text, markup=False, highlight=False)
        out.print()


def ask(
    question: str,
    k: KOpt = None,
    filter: FilterOpt = None,
    mode: ModeOpt = None,
    rerank: RerankOpt = None,
    max_per_doc: MaxPerDocOpt = None,
    as_json: JsonOpt = False,
    collection: CollectionOpt = None,
) -> None:
    """Answer a question from the indexed documents, with citations."""
    svc = service(must_exist=True)
    a = svc.ask(question, k, _filters(filter), _mode(mode), rerank, extractive=True, max_per_doc=max_per_doc)
    if as_json:
        emit({"question": question, **asdict(a)})
        return
    if a.short:
        out.print(a.short.text, markup=False, highlight=False)
    out.print(a.answer, markup=False, highlight=False)
    for c in a.citations:
        page = f", page {c.page}" if c.page is not None else ""
        out.print(f"  [{c.n}] {c.title or c.doc_id} ({c.doc_id} [{c.start}:{c.end}]{page})", markup=False)
