"""Shared fixtures: the real bundled model is loaded once per test session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa.config import Settings  # noqa: E402
from qa.embed import Embedder, SentenceTransformerEmbedder, load_embedder  # noqa: E402
from qa.service import QAService  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED_ARTICLE = SHARED / "seed" / "paris_article.txt"
EXAMPLES = ROOT / "examples" / "docs"


def onnx_cache_default() -> Path:
    """The tests' ONNX cache kept across runs, git-ignored: ``<repo>/.cache/onnx``. Each export in it
    is keyed by the model's files, the graph's version and the exporting libraries' versions
    (``qa.embed.onnx.export_key``), so a stale one is never reused."""
    return ROOT / ".cache" / "onnx"


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ONNX export shared by every service and `qa` subprocess the tests start, and kept for the
    next run (the default backend exports on first use, about 10 to 20 s; each fresh index directory
    would export again). QA_ONNX_CACHE_DIR overrides where; an unwritable checkout falls back to a
    directory of this session."""
    given = os.environ.get("QA_ONNX_CACHE_DIR")
    if given:
        path = Path(given)
    else:
        path = onnx_cache_default()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            path = tmp_path_factory.mktemp("onnx")
    os.environ["QA_ONNX_CACHE_DIR"] = str(path)
    yield path
    if not given:
        os.environ.pop("QA_ONNX_CACHE_DIR", None)


@pytest.fixture(scope="session")
def embedder(onnx_cache: Path) -> Embedder:
    """The model on the default backend (QA_EMBED_BACKEND), as the service loads it."""
    return load_embedder(Settings())


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    """The model on torch, for tests about the torch backend itself."""
    return SentenceTransformerEmbedder()


@pytest.fixture
def make_service(tmp_path: Path, embedder: Embedder) -> Iterator[Callable[..., QAService]]:
    """Build services over indexes in tmp_path, sharing the session's model; closes them after."""
    made: list[QAService] = []

    def make(name: str = "test", **overrides: object) -> QAService:
        settings = Settings(index_dir=tmp_path / "index", index_name=name, **overrides)  # type: ignore[arg-type]
        svc = QAService(settings, embedder=embedder)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        try:
            svc.close()
        except Exception:
            pass


@pytest.fixture
def seed_article() -> Path:
    if not SEED_ARTICLE.exists():
        pytest.fail(f"{SEED_ARTICLE} is missing: tests expect ../shared beside the project")
    return SEED_ARTICLE
