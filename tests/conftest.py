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
from qa.embed import SentenceTransformerEmbedder  # noqa: E402
from qa.service import QAService  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED_ARTICLE = SHARED / "seed" / "paris_article.txt"
EXAMPLES = ROOT / "examples" / "docs"


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture
def make_service(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Callable[..., QAService]]:
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
