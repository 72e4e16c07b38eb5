"""Applying one stored event the way `ingest` does: a batch of one through the apply service."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from beproduct_sync.apply.policy import Outcome, Policy
from beproduct_sync.apply.service import Entry, apply_batch


async def apply_one(
    conn: AsyncConnection[Any],
    log_id: int,
    payload: Any,
    body_digest: bytes,
    policy: Policy,
    *,
    attempts_before: int = 0,
    owner: str | None = None,
) -> Outcome:
    """Apply the stored event `log_id` and settle its inbox row; its outcome."""
    entry = Entry(log_id, payload, body_digest, attempts_before)
    [outcome] = await apply_batch(conn, [entry], policy, owner=owner)
    return outcome
