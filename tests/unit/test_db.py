"""db: the embedded PostgreSQL is an optional extra, and its absence is a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from beproduct_sync import db
from beproduct_sync.errors import ConfigError, EmbeddedNotInstalled


def test_without_the_embedded_extra_the_error_says_to_set_a_url_or_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)  # what `import` sees when not installed
    with pytest.raises(EmbeddedNotInstalled) as caught:
        db.resolve_url(None, tmp_path)
    assert isinstance(caught.value, ConfigError)
    message = str(caught.value)
    assert "DATABASE_URL" in message and "beproduct-sync[embedded]" in message
    assert not (tmp_path / "pgdata").exists()


def test_a_given_url_never_needs_the_embedded_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)
    url = "postgresql://someone@db.example/x"
    assert db.resolve_url(url, tmp_path) == url
