"""The code base stays clean: ruff on everything, mypy on the package."""

from __future__ import annotations

import subprocess
import sys

from ..conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff() -> None:
    r = run("ruff", "check", "qa", "tests", "evals")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy() -> None:
    r = run("mypy", "qa")
    assert r.returncode == 0, r.stdout + r.stderr
