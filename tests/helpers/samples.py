"""The bundled real BeProduct payloads and the hand-written variants in tests/cases/."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

SAMPLE_NAMES = (
    "tracking_oncreate.json",
    "tracking_onchangetimeline.json",
    "tracking_ondelete.json",
)
CASES = Path(__file__).parent.parent / "cases"


def sample_path(name: str) -> Path:
    """Path of a bundled real BeProduct payload."""
    return Path(str(resources.files("beproduct_sync.samples").joinpath(name)))


def load_sample(name: str) -> dict[str, Any]:
    """A real BeProduct payload, decoded."""
    return dict(json.loads(sample_path(name).read_text()))


def load_case(name: str) -> dict[str, Any]:
    """A hand-written variant payload from tests/cases/."""
    return dict(json.loads((CASES / name).read_text()))
