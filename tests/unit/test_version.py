"""The version the package reports is the one it is released as."""

from __future__ import annotations

import tomllib
from pathlib import Path

from beproduct_sync import __version__


def test_the_package_version_is_the_projects() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert __version__ == project["project"]["version"]
