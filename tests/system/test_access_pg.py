"""The access isolation suite (tests/isolation.py) on the postgres store, over a live server: the
access condition is part of the pgvector and BM25 SQL, so ``k`` passages come from the visible
documents only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from qa.config import Settings
from qa.embed import Embedder
from qa.service import QAService

from ..isolation import check_isolation, make_keys, seed
from ..live_server import live_server
from ..pg import pg_url_fixture  # noqa: F401  (provides the pg_url fixture)

pytestmark = pytest.mark.postgres


def test_a_finance_key_never_reaches_hr_documents_on_postgres(tmp_path: Path, pg_url: str, embedder: Embedder) -> None:
    keys_file = tmp_path / "keys.json"
    keys = make_keys(keys_file)
    settings = Settings(index_dir=tmp_path / "index", store=pg_url, keys_file=str(keys_file))
    svc = QAService(settings, embedder=embedder)
    try:
        with live_server(svc) as base, httpx.Client(base_url=base, timeout=120) as client:
            seed(client, keys["admin"])
            check_isolation(client, keys)
    finally:
        svc.close()
