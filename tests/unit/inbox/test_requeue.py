"""What `replay` accepts as a selection, before it touches the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from beproduct_sync.errors import SelectionError
from beproduct_sync.inbox.requeue import Selection, parse_when
from beproduct_sync.inbox.status import REPLAYABLE


def test_a_selection_without_any_criterion_is_refused() -> None:
    with pytest.raises(SelectionError, match="Choose what to replay"):
        Selection()


def test_queued_statuses_cannot_be_replayed() -> None:
    with pytest.raises(SelectionError, match="pending"):
        Selection(statuses=("dead", "pending"))


def test_since_must_come_before_until() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(SelectionError, match="earlier"):
        Selection(since=at, until=at - timedelta(days=1))


def test_statuses_default_to_every_settled_status() -> None:
    params = Selection(ids=(3, 4)).params()
    assert params == {"ids": [3, 4], "statuses": list(REPLAYABLE), "since": None, "until": None}
    assert "pending" not in REPLAYABLE
    assert "processing" not in REPLAYABLE


def test_times_without_a_zone_are_read_as_utc_and_zoned_ones_kept() -> None:
    assert parse_when("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_when("2026-01-31T12:00:00+02:00") == datetime(
        2026, 1, 31, 12, tzinfo=timezone(timedelta(hours=2))
    )
    assert parse_when("2026-01-31T12:00:00Z") == datetime(2026, 1, 31, 12, tzinfo=UTC)


def test_a_time_that_is_not_iso_gets_a_message_with_an_example() -> None:
    with pytest.raises(SelectionError, match="2026-01-31"):
        parse_when("yesterday")
