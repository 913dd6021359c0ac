"""The ONNX export is made once per machine: one cache per user, shared by every index."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import Embedder, export_pending, onnx_cache_dir


def test_the_cache_is_the_users_not_the_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    a = Settings(index_dir=tmp_path / "one", onnx_cache_dir="")
    b = Settings(index_dir=tmp_path / "two", index_name="other", onnx_cache_dir="")
    assert onnx_cache_dir(a) == onnx_cache_dir(b) == tmp_path / "xdg" / "qa" / "onnx"
    assert onnx_cache_dir(Settings(onnx_cache_dir=str(tmp_path / "mine"))) == tmp_path / "mine"


def test_export_pending_only_without_an_export(embedder: Embedder, onnx_cache: Path, tmp_path: Path) -> None:
    # The session's embedder exported into the tests' cache: nothing left to do there.
    assert not export_pending(Settings(onnx_cache_dir=str(onnx_cache)))
    assert export_pending(Settings(onnx_cache_dir=str(tmp_path / "empty")))
    assert export_pending(Settings(onnx_cache_dir=str(tmp_path / "empty"), embed_backend="onnx"))
    assert not export_pending(Settings(onnx_cache_dir=str(tmp_path / "empty"), embed_backend="torch"))
