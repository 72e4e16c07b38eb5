"""Statuses, their warnings and source versions, with exact values."""

from __future__ import annotations

import hashlib

import pytest

from beproduct_sync.model.rows import Notice, source_version, status_notice
from beproduct_sync.model.times import parse_time


@pytest.mark.parametrize("label", ["", " ", "\t", None])
def test_an_empty_status_text_adds_no_warning(label: str | None) -> None:
    assert status_notice("m1", label, None) is None


def test_an_unknown_status_text_adds_one_warning_naming_it() -> None:
    assert status_notice("m1", "On Hold", None) == Notice(
        "m1", "unknown status 'On Hold' kept as status_label; status NULL"
    )


def test_a_known_status_adds_no_warning() -> None:
    assert status_notice("m1", "N/A", "NA") is None


def test_a_version_is_the_ticks_then_six_digits_of_the_body_hash() -> None:
    at = parse_time("2025-11-06T07:22:06.2802695+05:30")
    assert at is not None
    body_hash = hashlib.sha256(b"{}").digest()  # 44136fa3...: 0x44136fa3 = 1142124451
    assert source_version(at, body_hash) == "17623939262802695" + "124451"
