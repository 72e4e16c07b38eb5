"""The durable inbox (`ops.beproduct_sync_log`): record received bodies, settle their outcome.

Recording happens in the receiver's transaction, before the sender gets its 2xx; settling
happens in the transaction that wrote the event's rows, so the ops tables and the inbox never
disagree. Every outcome goes through `settle` (one statement for any mix of outcomes), and
every problem worth a person's look lands in `ops.import_errors` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from beproduct_sync.inbox.status import InboxStatus
from beproduct_sync.model.body import canonical, date_readable, digest, meta, sanitise
from beproduct_sync.sql import query


@dataclass(frozen=True)
class Received:
    """The inbox row a delivery landed in. `payload` is the body as stored (see
    model.body.sanitise): apply that, not the body as received."""

    id: int
    duplicate: bool
    status: str
    payload: Any = None


@dataclass(frozen=True)
class _Inserted:
    id: int
    inserted: bool
    status: str


async def record(
    conn: AsyncConnection[Any],
    body: Any,
    body_digest: bytes | None = None,
    raw: bytes | None = None,
    *,
    altered: bool = False,
) -> Received:
    """Store a decoded body (pending) unless already stored; the caller commits.

    `body_digest` (the dedupe key) is the hash of the original body's canonical form, so a
    redelivery is recognised whatever had to be replaced to store it. NUL characters are
    replaced (see model.body.sanitise); when that changed anything, or the caller says decoding
    `altered` the body (see model.body.decode), the original is kept in raw_body: `raw`, the
    bytes as received, when the caller has them, else the canonical form.
    """
    original = canonical(body) if body_digest is None or raw is None else None
    if body_digest is None:
        assert original is not None
        body_digest = digest(original)
    # JSON text can carry NUL only as the escape \u0000 (orjson writes it so too): skip the
    # walk for the bodies that cannot contain one, which is nearly all of them.
    probe = raw if raw is not None else original
    stored, changed = sanitise(body) if probe is None or b"\\u0000" in probe else (body, False)
    raw_body = (raw if raw is not None else original) if changed or altered else None
    params = {"sha": body_digest, "payload": Jsonb(stored), "raw_body": raw_body, **meta(stored)}
    cur = conn.cursor(row_factory=class_row(_Inserted))
    row = await (await cur.execute(query("log_insert"), params)).fetchone()
    assert row is not None
    return Received(row.id, duplicate=not row.inserted, status=row.status, payload=stored)


@dataclass(frozen=True)
class Problem:
    """A row for ops.import_errors: what went wrong (or looks odd) with which entity."""

    entity_id: str | None
    message: str
    severity: str = "error"  # 'error' or 'warning'


@dataclass(frozen=True)
class Settlement:
    """How one event's attempt ended, as the inbox records it.

    `status` is final (applied, stale, ignored, dead) or FAILED: retried after `retry_in`
    seconds, unless this was attempt `max_attempts`, which dead-letters it. `body` is the stored
    payload: it decides whether processed_at is stamped (see model.body.date_readable).
    """

    id: int
    status: InboxStatus
    body: Any
    attempt: int
    duration_ms: float = 0.0
    reason: str | None = None
    error: str | None = None
    retry_in: float = 0.0
    max_attempts: int = 1
    problems: tuple[Problem, ...] = field(default=())


@dataclass(frozen=True)
class Settled:
    """The inbox row after settling: its status (a failure may have become dead) and attempts."""

    id: int
    status: str
    attempts: int


async def settle(conn: AsyncConnection[Any], settlements: list[Settlement]) -> dict[int, Settled]:
    """Settle events and add their problems to ops.import_errors (in the caller's
    transaction); returns each row's new state by id."""
    if not settlements:
        return {}
    rows = [
        {
            "id": s.id,
            "status": s.status.value,
            "duration_ms": s.duration_ms,
            "reason": s.reason,
            "error": s.error,
            "stamp": date_readable(s.body),
            "retry_in": s.retry_in,
            "max_attempts": s.max_attempts,
        }
        for s in settlements
    ]
    cur = conn.cursor(row_factory=class_row(Settled))
    settled = await (await cur.execute(query("log_settle"), {"rows": Jsonb(rows)})).fetchall()
    await add_problems(conn, [(s.id, s.attempt, p) for s in settlements for p in s.problems])
    return {s.id: s for s in settled}


async def add_problems(
    conn: AsyncConnection[Any], problems: Sequence[tuple[int | None, int | None, Problem]]
) -> None:
    """Insert (sync_log_id, attempt, problem) rows into ops.import_errors."""
    if problems:
        rows = [
            {
                "sync_log_id": log_id,
                "entity_id": p.entity_id,
                "severity": p.severity,
                "message": p.message,
                "attempt": attempt,
            }
            for log_id, attempt, p in problems
        ]
        await conn.execute(query("import_error_insert_many"), {"rows": Jsonb(rows)})


async def lock_owned(conn: AsyncConnection[Any], ids: list[int], owner: str | None) -> set[int]:
    """Lock `ids` for this transaction and return those still ours to settle."""
    cur = conn.cursor(row_factory=scalar_row)
    await cur.execute(query("log_lock_owned"), {"ids": ids, "owner": owner})
    return set(await cur.fetchall())
