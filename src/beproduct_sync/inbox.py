"""The durable inbox (`ops.beproduct_sync_log`): record bodies, settle outcomes, back off."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from .events import parse_time
from .mapping import body_digest
from .store import query

STATUSES = ("pending", "processing", "applied", "ignored", "stale", "failed", "dead")


def canonical(body: Any) -> bytes:
    """The body re-serialised with sorted keys: equal JSON gives equal bytes, whatever the
    whitespace or key order of a particular delivery."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Received:
    """The inbox row a delivery landed in."""

    id: int
    duplicate: bool
    status: str


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _meta(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {"action": None, "entity_id": None, "style_number": None, "source_at": None}
    try:
        at = parse_time(body.get("date"))
    except ValueError:
        at = None
    return {
        "action": _text(body.get("eventType")),
        "entity_id": _text(body.get("headerId")),
        "style_number": _text(body.get("headerNumber")),
        "source_at": at.datetime if at else None,
    }


async def record(conn: AsyncConnection[Any], body: Any, digest: bytes | None = None) -> Received:
    """Store a decoded body (pending) unless already stored; the caller commits."""
    sha = digest or body_digest(canonical(body))
    params = {"sha": sha, "payload": Jsonb(body), **_meta(body)}
    cur = await conn.execute(query("log_insert"), params)
    row = await cur.fetchone()
    assert row is not None
    return Received(id=row[0], duplicate=not row[1], status=row[2])


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempt` (1-based): exponential with full jitter.

    Full jitter (uniform in [base, min(cap, base * 2**(attempt-1))]) spreads a burst of failures
    so retries do not arrive in lock-step.
    """
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(min(base, ceiling), ceiling)


async def finish(
    conn: AsyncConnection[Any],
    log_id: int,
    status: str,
    *,
    duration_ms: float,
    reason: str | None = None,
    error: str | None = None,
) -> None:
    """Settle an event as applied, stale, ignored or dead (in the caller's transaction)."""
    await conn.execute(
        query("log_finish"),
        {"id": log_id, "status": status, "duration_ms": duration_ms, "reason": reason,
         "error": error},
    )


async def fail(
    conn: AsyncConnection[Any],
    log_id: int,
    error: str,
    *,
    duration_ms: float,
    max_attempts: int,
    delay_seconds: float,
) -> tuple[str, int]:
    """Record a failed attempt; returns the new status ('failed' or 'dead') and attempt count."""
    cur = await conn.execute(
        query("log_fail"),
        {"id": log_id, "error": error, "duration_ms": duration_ms, "max_attempts": max_attempts,
         "delay_seconds": delay_seconds},
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


async def add_errors(
    conn: AsyncConnection[Any],
    log_id: int | None,
    items: list[tuple[str | None, str]],
    *,
    severity: str = "error",
    attempt: int | None = None,
    entity_type: str = "tracking",
) -> None:
    """Insert (entity_id, message) pairs into ops.import_errors."""
    if not items:
        return
    await conn.execute(
        query("import_error_insert"),
        {"sync_log_id": log_id, "entity_type": entity_type, "severity": severity,
         "attempt": attempt,
         "rows": Jsonb([{"entity_id": e, "message": m} for e, m in items])},
    )


async def finish_many(conn: AsyncConnection[Any], rows: list[dict[str, Any]]) -> None:
    """Settle many events: rows of {id, status, duration_ms, reason, error}."""
    if rows:
        await conn.execute(query("log_finish_many"), {"rows": Jsonb(rows)})


async def add_error_rows(conn: AsyncConnection[Any], rows: list[dict[str, Any]]) -> None:
    """Insert import errors: rows of {sync_log_id, entity_id, severity, message, attempt}."""
    if rows:
        await conn.execute(query("import_error_insert_many"), {"rows": Jsonb(rows)})


async def lock_owned(conn: AsyncConnection[Any], ids: list[int], owner: str | None) -> set[int]:
    """Lock `ids` for this transaction and return those still ours to settle."""
    cur = await conn.execute(query("log_lock_owned"), {"ids": ids, "owner": owner})
    return {int(r[0]) for r in await cur.fetchall()}

