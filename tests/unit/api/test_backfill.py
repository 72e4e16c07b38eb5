"""Backfill options: `--since` in any ISO form is sent as UTC with Z."""

from __future__ import annotations

import pytest

from beproduct_sync.api.backfill import Options


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2026-01-31", "2026-01-31T00:00:00Z"),
        ("2026-01-31T10:00:00+02:00", "2026-01-31T08:00:00Z"),
        ("2026-01-31T00:00:00.1234567Z", "2026-01-31T00:00:00.1234567Z"),
    ],
)
def test_since_is_filtered_on_as_utc_with_z(given: str, sent: str) -> None:
    assert Options(since=given).filters == [
        {"field": "ModifiedAt", "operator": "Gte", "value": sent}
    ]


def test_the_same_instant_in_two_spellings_is_one_backfill_run() -> None:
    assert Options(since="2026-01-31").run_key == Options(since="2026-01-31T02:00+02:00").run_key


def test_a_since_that_is_no_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 timestamp"):
        Options(since="last tuesday")
