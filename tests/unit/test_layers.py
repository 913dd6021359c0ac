"""The package's shape, read from its own imports: data flows one way.

Every module of ``qa`` sits in a layer (lowest first, as the README draws it). A module imports
only modules of its own layer or lower ones, there is no import cycle, and ``qa`` never imports
``evals`` (the harness imports ``qa``). Every import counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ..conftest import ROOT

# Lowest first. A name covers the module and, for a package, everything inside it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("qa.types", "qa.errors", "qa.config"),
    (
        "qa.sentences",
        "qa.answerability",
        "qa.terms",
        "qa.language",
        "qa.langid",
        "qa.span",
        "qa.span_languages",
        "qa.access",
        "qa.security",
        "qa.observability",
        "qa.stages",
        "qa.shard",
        "qa.limits",
        "qa.workqueue",
        "qa.sources",
        "qa.progress",
    ),
    ("qa.parse", "qa.chunk"),
    ("qa.embed", "qa.embed.packed_e5", "qa.answer_model"),
    ("qa.store",),
    ("qa.rerank",),
    ("qa.retrieve",),
    ("qa.answer",),
    ("qa.citecheck",),
    ("qa.generate",),
    ("qa.chat",),
    ("qa.tasks",),
    ("qa.ingest", "qa.sync", "qa.jobs", "qa.watch"),
    ("qa.service",),
    ("qa.collections",),
    ("qa.api",),
    ("qa.cli", "qa.__main__", "qa"),
    # Clients of the HTTP API: they import no other part of qa (a user of the client needs no model).
    ("qa.client", "qa.integrations"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, name: str) -> set[str]:
    """The qa and evals modules ``path`` imports (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from qa.api.routes import chat` imports the module qa.api.routes.chat; `from qa.types
            # import Answer` the module qa.types.
            submodules = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(submodules if len(submodules) == len(node.names) else {base})
    return {m for m in found if m.split(".")[0] in ("qa", "evals")}


MODULES = {module_name(p): p for p in sorted((ROOT / "qa").rglob("*.py"))}


def layer(name: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            # "qa" itself (the package's __init__, the public surface) covers no module below it.
            if (name == n or (n != "qa" and name.startswith(n + "."))) and (best is None or len(n) > best[1]):
                best = (i, len(n))
    if best is None:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS in tests/test_layers.py")
    return best[0]


def graph() -> dict[str, set[str]]:
    # Importing a package's module runs the package's __init__ too, but that edge is Python's, not
    # the code's: only the imports written in each module count.
    return {name: {m for m in imports(path, name) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer(name)


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
        for a, targets in graph().items()
        for b in sorted(targets)
        if layer(b) > layer(a)
    ]
    assert upward == []


def test_qa_never_imports_evals() -> None:
    offenders = [name for name, path in MODULES.items() if any(m.startswith("evals") for m in imports(path, name))]
    assert offenders == []


def test_no_import_cycle() -> None:
    g = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from qa.service import QAService\n", {"qa.service"}),
        ("from . import errors\n", {"qa.errors"}),
        ("import evals.harness\n", {"evals.harness"}),
    ],
)
def test_the_import_reader_sees_each_form(tmp_path: Path, source: str, expected: set[str]) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source)
    assert imports(path, "qa.mod") == expected


def test_no_test_imports_a_private_name_from_qa() -> None:
    """Tests use what the package makes public; a private helper they need is made public first."""
    private = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "qa":
                private += [
                    f"{path.relative_to(ROOT)}: from {node.module} import {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
            elif isinstance(node, ast.Import):
                private += [
                    f"{path.relative_to(ROOT)}: import {a.name}"
                    for a in node.names
                    if a.name.split(".")[0] == "qa"
                    and any(p.startswith("_") and not p.startswith("__") for p in a.name.split("."))
                ]
    assert private == []
