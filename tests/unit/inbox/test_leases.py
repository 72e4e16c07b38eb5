"""Leases: what a claim knows about its event's earlier claims, and the dead-letter reason."""

from __future__ import annotations

from datetime import UTC, datetime

from beproduct_sync.inbox.leases import Claimed, claims_exhausted


def test_a_claimed_row_counts_the_claims_that_never_finished() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    entry = Claimed(7, {}, b"\x01", 2, at, "OnCreate", 5)
    assert entry.claims == 5
    assert entry.unfinished_claims == 2  # five claims: this one, two that failed, two lost


def test_the_dead_letter_reason_counts_the_claims_that_never_finished() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    crashed = Claimed(1, {}, b"", 0, at, "OnChange", claims=9)
    assert claims_exhausted(crashed).startswith(
        "claimed 8 times without finishing: the worker crashed or its lease ran out each time"
    )
    mixed = Claimed(1, {}, b"", 3, at, "OnChange", claims=9)
    assert "claimed 5 times without finishing" in claims_exhausted(mixed)
    assert "besides 3 attempt(s) that failed" in claims_exhausted(mixed)
