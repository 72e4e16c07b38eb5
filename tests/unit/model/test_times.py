"""Timestamps: BeProduct's `Z` text and the calendar-date rule."""

from __future__ import annotations

import pytest

from beproduct_sync.model.times import utc_text


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2026-01-31", "2026-01-31T00:00:00Z"),
        ("2026-01-31T10:00", "2026-01-31T10:00:00Z"),
        ("2026-01-31T10:00:00+02:00", "2026-01-31T08:00:00Z"),
        ("2026-01-31T01:30:00-0500", "2026-01-31T06:30:00Z"),
        ("2026-01-31T00:00:00.1234567Z", "2026-01-31T00:00:00.1234567Z"),
        (" 2026-01-31T23:59:59.5+00:00 ", "2026-01-31T23:59:59.5000000Z"),
    ],
)
def test_any_iso_form_becomes_utc_with_z(given: str, sent: str) -> None:
    assert utc_text(given) == sent


def test_text_that_is_no_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 timestamp"):
        utc_text("last tuesday")
