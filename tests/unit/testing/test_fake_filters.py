"""Pure parts of the fake: filters, paging, switches, rate windows, timestamp text, the clock."""

from __future__ import annotations

import pytest

from beproduct_sync.testing.fake.behaviour import Behaviour, RateLimits
from beproduct_sync.testing.fake.chaos import RateLimiter
from beproduct_sync.testing.fake.filters import FilterError, matches, page
from beproduct_sync.testing.fake.model import Clock, fmt_time, to_ticks

ROW = {
    "Id": lambda: "AB-1",
    "ModifiedAt": lambda: to_ticks("2025-11-06T01:52:05.0709203Z"),
    "HeaderName": lambda: "Trailwolf Vest",
    "IsArchived": lambda: False,
}


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("Gte", "2025-11-06T01:52:05.0709203Z", True),
        ("Gt", "2025-11-06T01:52:05.0709203Z", False),
        ("Lt", "2025-11-07T00:00:00Z", True),
        ("Lte", "2025-11-06T01:52:05Z", False),
        ("Eq", "ab-1", True),
        ("NotEq", "AB-1", False),
        ("Contains", "wolf", True),
        ("In", ["x", "AB-1"], True),
        ("NotIn", "x,AB-1", False),
    ],
)
def test_each_operator_compares_like_the_api(op: str, value: object, expected: bool) -> None:
    field = (
        "ModifiedAt"
        if op in ("Gte", "Gt", "Lt", "Lte")
        else ("HeaderName" if op == "Contains" else "Id")
    )
    assert matches([{"field": field, "operator": op, "value": value}], ROW) is expected


def test_unknown_fields_are_ignored_and_all_filters_must_hold() -> None:
    assert matches([{"field": "Colour", "operator": "Eq", "value": "red"}], ROW)
    assert not matches(
        [
            {"field": "Id", "operator": "Eq", "value": "AB-1"},
            {"field": "IsArchived", "operator": "Eq", "value": "true"},
        ],
        ROW,
    )


def test_bad_operator_and_bad_timestamp_are_errors() -> None:
    with pytest.raises(FilterError, match="operator"):
        matches([{"field": "Id", "operator": "Like", "value": "A%"}], ROW)
    with pytest.raises(FilterError, match="timestamp"):
        matches([{"field": "ModifiedAt", "operator": "Gte", "value": "yesterday"}], ROW)


def test_page_numbers_start_at_zero_and_total_counts_everything() -> None:
    assert page(list(range(5)), 2, 0) == {"result": [0, 1], "total": 5}
    assert page(list(range(5)), 2, 2) == {"result": [4], "total": 5}


def test_times_keep_seven_digits_and_whole_dates_have_none() -> None:
    assert fmt_time(to_ticks("2025-11-06T05:10:01.0603486Z")) == "2025-11-06T05:10:01.0603486Z"
    assert fmt_time(to_ticks("2025-11-06T00:00:00Z")) == "2025-11-06T00:00:00Z"


def test_clock_is_strictly_increasing_even_in_virtual_time() -> None:
    real, virtual = Clock(), Clock(start=to_ticks("2025-11-06T00:00:00Z"))
    for clock in (real, virtual):
        stamps = [clock.now() for _ in range(50)]
        assert stamps == sorted(set(stamps))


def test_field_names_are_case_sensitive_unless_switched_off() -> None:
    camel = [{"field": "headerName", "operator": "Eq", "value": "nothing like it"}]
    assert matches(camel, ROW)  # an unknown field: ignored
    assert not matches(camel, ROW, case_sensitive=False)


def test_a_date_without_z_loses_its_offset_unless_switched_off() -> None:
    # 23:52:06 at -02:00 is 01:52:06Z, after the row's time; misparsed it is 23:52:06Z of the
    # day before, long before the row.
    local = [{"field": "ModifiedAt", "operator": "Lte", "value": "2025-11-05T23:52:06-02:00"}]
    assert not matches(local, ROW)
    assert matches(local, ROW, need_z=False)


def test_a_capped_page_counts_pages_in_steps_of_the_cap() -> None:
    assert page(list(range(7)), 5, 0, cap=3) == {"result": [0, 1, 2], "total": 7}
    assert page(list(range(7)), 5, 2, cap=3) == {"result": [6], "total": 7}
    assert page(list(range(7)), 5, 1, cap=0) == {"result": [5, 6], "total": 7}


def test_behaviour_patches_refuse_unknown_switches_and_wrong_types() -> None:
    b = Behaviour()
    assert b.patched({"seconds_per_row": 1}).seconds_per_row == 1.0
    with pytest.raises(ValueError, match="unknown"):
        b.patched({"colour": "red"})
    with pytest.raises(ValueError, match="must be bool"):
        b.patched({"folder_brand": "yes"})
    with pytest.raises(ValueError, match="retry_after_header"):
        b.patched({"retry_after_header": "sometimes"})


def test_rate_windows_refuse_when_one_runs_out_and_reset_when_time_passes() -> None:
    limiter = RateLimiter(RateLimits(per_minute=2, per_hour=3, per_day=0))
    assert [limiter.hit()[1] is None for _ in range(3)] == [True, True, False]
    limiter.advance(60)
    shown, refused = limiter.hit()
    assert refused is None
    assert shown is not None and (shown.window, shown.remaining) == ("hour", 0)
    shown, refused = limiter.hit()
    assert refused is not None and refused.window == "hour"
    assert 0 < refused.retry_after <= 3600
    assert limiter.hit(count=False)[1] is None  # the status endpoint uses nothing up
