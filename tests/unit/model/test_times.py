"""Timestamps: BeProduct's `Z` text and the calendar-date rule."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from beproduct_sync.model.times import calendar_date, parse_time, utc_text


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


@pytest.mark.parametrize(
    ("text", "zone", "day"),
    [
        ("2025-11-06T00:00:00Z", "America/Los_Angeles", "2025-11-06"),  # an edited date
        ("2025-11-06T00:00:00Z", "Pacific/Kiritimati", "2025-11-06"),
        ("2025-11-05T18:52:05.0708456Z", "Asia/Tokyo", "2025-11-05"),  # a creator's clock
        ("2025-11-05T23:59:59.9999999Z", "Europe/Berlin", "2025-11-05"),
        ("2025-11-05T18:52:05+00:00", "Asia/Tokyo", "2025-11-05"),
        ("2025-11-05", "America/New_York", "2025-11-05"),
        # Only an explicit offset (never sent by BeProduct) makes a true instant.
        ("2025-11-05T20:00:00-08:00", "Asia/Tokyo", "2025-11-06"),
        ("2025-11-05T20:00:00-08:00", "America/Los_Angeles", "2025-11-05"),
    ],
)
def test_calendar_dates_are_the_dates_beproduct_wrote(text: str, zone: str, day: str) -> None:
    assert calendar_date(parse_time(text), ZoneInfo(zone)) == day
