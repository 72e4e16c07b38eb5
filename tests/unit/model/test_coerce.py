"""Tolerant conversions of values BeProduct sends in more than one shape."""

from __future__ import annotations

from uuid import UUID

import pytest

from beproduct_sync.model import coerce


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (2.0, 2),
        (1.5, None),
        ("7", 7),
        (" -3 ", -3),
        ("--1", None),
        ("²", None),
        ("", None),
        (2**31, None),
        (True, 1),
        (None, None),
        ([], None),
    ],
)
def test_int32_reads_what_fits_and_returns_none_otherwise(
    value: object, expected: int | None
) -> None:
    assert coerce.int32(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("false", False), (" TRUE ", True), (0, False), ("", None), ("yes", None)],
)
def test_flag_reads_booleans_leniently(value: object, expected: bool | None) -> None:
    assert coerce.flag(value) == expected


def test_uuid_helpers_accept_only_uuids() -> None:
    text = "875fe554-cd04-430d-a9a4-f95c27659293"
    assert coerce.as_uuid(text) == UUID(text)
    assert coerce.uuid_text(text.upper()) == text
    assert coerce.uuid_text("nope") is None
    assert coerce.as_uuid(5) is None


def test_text_writes_out_numbers_and_drops_structures() -> None:
    assert coerce.text(12) == "12"
    assert coerce.text("a") == "a"
    assert coerce.text({"a": 1}) is None
