"""BeProduct timestamps, exactly: parsing to 100-ns ticks, instants and calendar dates. Pure.

BeProduct writes .NET timestamps with 7 fractional digits and a `Z`; a Python datetime (and a
Postgres timestamptz) keeps only 6. Versions and ordering use the exact ticks; `iso` and
`calendar_date` give what the database columns hold.

Calendar dates (a milestone's plan, due, revised and final dates; a plan's start and end) are
sent as timestamps labelled `Z`, but they are not UTC instants. The real bodies show two forms:
- picked at creation, the local wall-clock time labelled Z: a style added at 01:52:06Z (its
  `ModifiedAt` 01:52:05.07Z) got a first milestone dated "2025-11-05T18:52:05.0708456Z", the
  same instant's digits 7 hours earlier — the creator's clock; and a milestone completed at
  05:10:01Z got `Final` "2025-11-06T15:09:56Z", 10 hours later — that user's clock;
- edited later, midnight Z: "2025-11-05T00:00:00Z", and `timeLineSchema.Plan`
  "2025-11-01T00:00:00Z".
In both, the date written is the date meant (the one BeProduct's screens show). Moving either into
another time zone would change it (midnight Z is the day before anywhere west of UTC, and a
wall-clock time already is local), so `calendar_date` keeps the date as written for every
UTC-labelled value. Only a value written with an explicit non-zero offset — which BeProduct
does not send — is a true instant; its day is taken in the configured zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


class SourceTime(NamedTuple):
    """A BeProduct timestamp, exact to its 100-ns ticks (7 fractional digits)."""

    ticks: int  # 100-ns units since the Unix epoch, UTC
    text: str  # as sent

    @property
    def datetime(self) -> datetime:
        """The instant as an aware datetime (microseconds: Python's and Postgres's limit).

        ValueError for instants outside years 1 to 9999, which a datetime cannot hold.
        """
        try:
            return EPOCH + timedelta(microseconds=self.ticks // 10)
        except OverflowError:
            raise ValueError(f"timestamp out of range: {self.text!r}") from None


def parse_time(value: object) -> SourceTime | None:
    """Parse a BeProduct ISO-8601 timestamp exactly; None for null/empty; ValueError if bad."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 timestamp, got {type(value).__name__}")
    return _parse_text(value)


def lenient_time(value: object) -> SourceTime | None:
    """Like parse_time, but None instead of ValueError: for optional dates, where one that
    cannot be read becomes NULL (its text stays in raw_payload) rather than costing the event."""
    try:
        return parse_time(value)
    except ValueError:
        return None


@lru_cache(maxsize=16384)
def _parse_text(value: str) -> SourceTime:
    # Cached: a plan's milestones share few distinct timestamps, and backfills parse 10^5 of them.
    m = _TS.match(value.strip())
    if m is None:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    h, mi, s = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"time of day out of range: {value!r}")
    # Naive timestamps are taken as UTC: BeProduct sends UTC everywhere we have seen. The offset
    # is applied in whole seconds, not to a datetime: .NET's DateTime.MinValue with a positive
    # offset lies before year 1, which a datetime cannot hold but ticks can. The day is counted
    # once per date (cached): a backfill parses 10^5 distinct instants on a few hundred days.
    whole = _epoch_day(int(year), int(month), int(day)) * 86_400 + h * 3600 + mi * 60 + s
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        whole -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    ticks = whole * 10_000_000 + int(((frac or "") + "0000000")[:7])
    return SourceTime(ticks, value)


@lru_cache(maxsize=4096)
def _epoch_day(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the date (ValueError for a date that does not exist)."""
    return date(year, month, day).toordinal() - _EPOCH_ORDINAL


@lru_cache(maxsize=16384)
def _date_of(ticks: int, zone: tzinfo) -> str | None:
    try:
        return SourceTime(ticks, "").datetime.astimezone(zone).date().isoformat()
    except (OverflowError, ValueError):  # .NET's MinValue / MaxValue shifted past year 1 / 9999
        return None


@lru_cache(maxsize=16384)  # as _parse_text: few distinct instants, formatted 10^5 times
def _iso_of(ticks: int) -> str | None:
    # datetime.isoformat() of the instant in UTC, by arithmetic (a backfill formats 10^5 of
    # them); None outside years 1 to 9999, as a datetime cannot hold those.
    days, micros = divmod(ticks // 10, 86_400_000_000)
    day = _day_text(days)
    if day is None:
        return None
    seconds, fraction = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{day}T{clock}.{fraction:06d}+00:00" if fraction else f"{day}T{clock}+00:00"


@lru_cache(maxsize=4096)
def _day_text(days: int) -> str | None:
    """The ISO date `days` after 1970-01-01; None outside years 1 to 9999."""
    if not _MIN_DAY <= days <= _MAX_DAY:
        return None
    return date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


def zulu(ticks: int) -> str:
    """An instant as BeProduct writes it: UTC with `Z`, 7 fractional digits when not whole."""
    whole, frac = divmod(ticks, 10_000_000)
    text = (EPOCH + timedelta(seconds=whole)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{frac:07d}Z" if frac else f"{text}Z"


def utc_text(value: str) -> str:
    """Any ISO-8601 date or timestamp as UTC with `Z`, the only form BeProduct's filters read
    right (others are misparsed): a plain date is midnight UTC, an offset is applied.
    ValueError when it is not one."""
    parsed = parse_time(value.strip())
    if parsed is None:
        raise ValueError("empty timestamp")
    return zulu(parsed.ticks)


_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$")
_TICKS_PER_DAY = 86_400 * 10_000_000
_EPOCH_ORDINAL = EPOCH.date().toordinal()
_MIN_DAY = date.min.toordinal() - _EPOCH_ORDINAL
_MAX_DAY = date.max.toordinal() - _EPOCH_ORDINAL


def calendar_date(time: SourceTime | None, zone: tzinfo) -> str | None:
    """The calendar date BeProduct means by `time`, ISO formatted: the date as written for a
    value labelled Z (every one BeProduct sends; see the module docstring), the day in `zone`
    only for a value with an explicit non-zero offset."""
    if time is None:
        return None
    text = time.text.rstrip()
    offset = None if text.endswith("Z") else _OFFSET.search(text)
    if offset is not None and (offset.group(2), offset.group(3)) != ("00", "00"):
        return _date_of(time.ticks, zone)
    # The UTC date by arithmetic: backfills compute hundreds of thousands of these.
    # (None for .NET's MinValue / MaxValue shifted past the range.)
    return _day_text(time.ticks // _TICKS_PER_DAY)


def date_and_instant(value: object, zone: tzinfo) -> tuple[str | None, str | None]:
    """`(calendar_date, iso)` of an optional timestamp (lenient_time's reading): both None when
    absent or unreadable. A milestone has four of them and a backfill 10^5 milestones."""
    if not isinstance(value, str) or not value:
        return _NEITHER
    return _date_and_instant(value, zone)


_NEITHER: tuple[str | None, str | None] = (None, None)


@lru_cache(maxsize=16384)  # dates edited in BeProduct are midnight Z: few distinct values
def _date_and_instant(value: str, zone: tzinfo) -> tuple[str | None, str | None]:
    try:
        time = _parse_text(value)
    except ValueError:
        return _NEITHER
    return calendar_date(time, zone), _iso_of(time.ticks)


def iso(time: SourceTime | None) -> str | None:
    """`time` as ISO-8601 with offset, at microsecond precision."""
    return _iso_of(time.ticks) if time else None


def date_of_text(value: Any, zone: tzinfo) -> str | None:
    """The calendar day (in `zone`) of a timestamp or plain date given as text; None if
    unreadable (REST fields that are not documented in full)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return calendar_date(parse_time(value), zone)
    except ValueError:
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
