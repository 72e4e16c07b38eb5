"""Exact instants and calendar days of BeProduct timestamps, for every shape of UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beproduct_sync.model.times import (
    calendar_date,
    date_and_instant,
    iso,
    lenient_time,
    parse_time,
    utc_text,
)

MIDNIGHT = 17623872000000000  # 2025-11-06T00:00:00Z in 100-ns ticks since 1970
MINUTE = 600_000_000


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("2025-11-06T05:30:00+05:30", MIDNIGHT),
        ("2025-11-05T20:30:00-03:30", MIDNIGHT),
        ("2025-11-06T05:45:00+05:45", MIDNIGHT),
        ("2025-11-05T14:30:00-09:30", MIDNIGHT),
        ("2025-11-06T14:00:00+14:00", MIDNIGHT),
        ("2025-11-05T12:00:00-12:00", MIDNIGHT),
        ("2025-11-06T05:30:00+0530", MIDNIGHT),
        ("2025-11-05T20:30:00-0330", MIDNIGHT),
        ("2025-11-06T00:01:00+00:01", MIDNIGHT),
        ("2025-11-05T23:59:00-00:01", MIDNIGHT),
        ("2025-11-06T05:30:00.0000001+05:30", MIDNIGHT + 1),
        ("2025-11-05T20:29:59.9999999-03:30", MIDNIGHT - 1),
        ("2025-11-06T05:59:00.123+05:30", MIDNIGHT + 29 * MINUTE + 1_230_000),
        ("2025-11-06", MIDNIGHT),
    ],
)
def test_offsets_with_minutes_and_odd_offsets_parse_to_the_exact_instant(
    text: str, ticks: int
) -> None:
    parsed = parse_time(text)
    assert parsed is not None
    assert parsed.ticks == ticks


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-06T05:29:59.9999999+05:30", "2025-11-05T23:59:59.999999+00:00"),
        ("2025-11-06T14:30:00.5-09:30", "2025-11-07T00:00:00.500000+00:00"),
        ("2025-11-06T18:15:00+05:45", "2025-11-06T12:30:00+00:00"),
    ],
)
def test_the_stored_instant_keeps_microseconds_and_drops_only_the_seventh_digit(
    text: str, expected: str
) -> None:
    assert iso(parse_time(text)) == expected


@pytest.mark.parametrize(
    ("text", "zone", "day"),
    [
        ("2025-11-06T05:29:59.9999999+05:30", "UTC", "2025-11-05"),
        ("2025-11-05T20:30:00-03:30", "UTC", "2025-11-06"),
        ("2025-11-05T18:15:00-05:45", "Asia/Kathmandu", "2025-11-06"),
        ("2025-11-06T03:30:00+07:00", "America/St_Johns", "2025-11-05"),
    ],
)
def test_a_timestamp_with_an_explicit_offset_is_dated_in_the_configured_zone(
    text: str, zone: str, day: str
) -> None:
    assert calendar_date(parse_time(text), ZoneInfo(zone)) == day


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


@settings(max_examples=500, deadline=None)
@given(
    when=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
    ),
    seventh=st.integers(0, 9),
)
def test_instants_computed_by_arithmetic_match_pythons_datetime(
    when: datetime, seventh: int
) -> None:
    # Parsing and formatting count days and seconds by hand (backfills do 10^5 of them);
    # datetime is the reference they must agree with to the microsecond.
    instant = when.replace(tzinfo=UTC)
    text = f"{instant.year:04d}-{instant:%m-%dT%H:%M:%S}.{instant.microsecond:06d}{seventh}Z"
    parsed = parse_time(text)
    assert parsed is not None
    assert parsed.datetime == instant
    assert iso(parsed) == instant.isoformat()
    assert calendar_date(parsed, UTC) == instant.date().isoformat()


@pytest.mark.parametrize(
    "text", ["2025-11-06T24:00:00Z", "2025-11-06T23:60:00Z", "2025-11-06T23:59:60Z", "2025-02-29"]
)
def test_a_time_or_date_that_does_not_exist_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"range|timestamp"):
        parse_time(text)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        7,
        "not a date",
        "2025-11-05T18:52:05.0708456Z",
        "2025-11-05T00:00:00Z",
        "2025-11-06T05:29:59.9999999+05:30",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.9999999-01:00",
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles"])
def test_date_and_instant_read_a_value_as_calendar_date_and_iso_do(
    value: object, zone: str
) -> None:
    tz = ZoneInfo(zone)
    parsed = lenient_time(value)
    assert date_and_instant(value, tz) == (calendar_date(parsed, tz), iso(parsed))
