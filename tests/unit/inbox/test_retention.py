"""Retention: how `prune --older-than` reads a duration."""

from __future__ import annotations

import pytest

from beproduct_sync.errors import SelectionError
from beproduct_sync.inbox import retention


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("45s", 45), ("2w", 14 * 86400)],
)
def test_prune_durations_are_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert retention.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "90", "d", "ninety days", "-1d", "1y"])
def test_anything_else_is_not_a_duration_and_says_what_is(text: str) -> None:
    with pytest.raises(SelectionError, match=r"e\.g\. 90d"):
        retention.parse_duration(text)
