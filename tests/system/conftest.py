"""The system tier: everything collected under tests/system is marked ``slow``.

These tests start real processes and kill them (SIGKILL), serve with ``--workers``, drive the real
browser (Playwright + Debian's chromium), run llama.cpp, PostgreSQL, the benches and evals end to
end, lint the tree. `make test` runs them; `make quick` (tests/unit and tests/api) never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from ..browser import launch

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest's collection hook sees every item of the session, not only this directory's.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Debian chromium per test module (tests/browser.py)."""
    yield from launch()
