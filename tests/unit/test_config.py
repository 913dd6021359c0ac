"""Settings are data: every QA_* variable is documented in the README with its real default."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from qa.config import Settings

from ..conftest import ROOT


def readme_settings() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `(QA_[A-Z_]+)` \| `([^`]*)` \|", text, flags=re.M))


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    documented = readme_settings()
    for name, field in Settings.model_fields.items():
        var = f"QA_{name.upper()}"
        assert var in documented, f"{var} missing from the README settings table"
        assert documented[var] == str(field.default), f"{var}: README says {documented[var]!r}, code {field.default!r}"
        assert field.description, f"{var} has no help text"
    assert set(documented) == {f"QA_{n.upper()}" for n in Settings.model_fields}


def test_settings_read_the_environment_and_reject_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_PORT", "9001")
    monkeypatch.setenv("QA_CHUNK_TOKENS", "128")
    s = Settings()
    assert s.port == 9001 and s.chunk_tokens == 128
    monkeypatch.setenv("QA_PORT", "0")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("QA_PORT", "8000")
    monkeypatch.setenv("QA_INDEX_NAME", "../escape")
    with pytest.raises(ValidationError):
        Settings()
