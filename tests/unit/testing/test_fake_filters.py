"""Pure parts of the fake: filter evaluation, paging, timestamp text and the strict clock."""

from __future__ import annotations

import pytest

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
