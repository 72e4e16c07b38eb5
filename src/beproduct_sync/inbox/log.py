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

import orjson
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row, scalar_row
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
class Incoming:
    """A decoded body to record: its canonical form (see model.body.canonical) and that form's
    digest, the bytes as received if the caller has them, and whether decoding `altered` it
    (see model.body.decode)."""

    body: Any
    canonical: bytes
    digest: bytes
    raw: bytes | None = None
    altered: bool = False

    @classmethod
    def of(cls, body: Any, raw: bytes | None = None, *, altered: bool = False) -> Incoming:
        """The body with its canonical form and digest computed."""
        text = canonical(body)
        return cls(body, text, digest(text), raw, altered)


def _stored(item: Incoming) -> tuple[dict[str, Any], Any]:
    """The row to insert for one body (the payload as JSON text, embedded as is) and the
    payload as stored.

    NUL characters are replaced (see model.body.sanitise); when that changed anything, or
    decoding altered the body, the original is kept in raw_body: the bytes as received when
    the caller has them, else the canonical form. JSON text can carry NUL only as the escape
    \\u0000 (orjson writes it so too): the walk is skipped for bodies that cannot contain one,
    which is nearly all of them, and their payload is the canonical text itself.
    """
    probe = item.raw if item.raw is not None else item.canonical
    stored, changed = sanitise(item.body) if b"\\u0000" in probe else (item.body, False)
    payload = orjson.dumps(stored) if changed else item.canonical
    original = item.raw if item.raw is not None else item.canonical
    m = meta(stored)
    row = {
        "sha": item.digest.hex(),
        "action": m["action"],
        "entity_id": m["entity_id"],
        "style_number": m["style_number"],
        "source_at": m["source_at"].isoformat() if m["source_at"] else None,
        "payload": orjson.Fragment(payload),
        "raw_body": original.hex() if changed or item.altered else None,
    }
    return row, stored


async def record_many(
    conn: AsyncConnection[Any], items: Sequence[Incoming], *, notify: bool = False
) -> list[Received]:
    """Store decoded bodies (pending) unless already stored, in as few statements as their
    digests allow; results in the order given. The caller commits. With `notify`, one
    NOTIFY wakes the workers when anything new was stored (delivered at commit).

    The digest (the dedupe key) is the hash of the original body's canonical form, so a
    redelivery is recognised whatever had to be replaced to store it. A digest given twice is
    stored once: the later copies are duplicates of the first.
    """
    rows = [_stored(item) for item in items]
    rounds: list[list[int]] = []  # indexes per statement; a digest at most once in each
    seen: dict[bytes, int] = {}
    for i, item in enumerate(items):
        n = seen.get(item.digest, 0)
        seen[item.digest] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(i)
    out: list[Received | None] = [None] * len(items)
    newest: int | None = None
    cur = conn.cursor(row_factory=dict_row)
    for indexes in rounds:
        blob = orjson.dumps([rows[i][0] for i in indexes])
        await cur.execute(query("log_insert_many"), {"rows": Jsonb(blob, dumps=_as_is)})
        found = {r["sha"]: r for r in await cur.fetchall()}
        for i in indexes:
            r = found[items[i].digest.hex()]
            out[i] = Received(r["id"], not r["inserted"], r["status"], rows[i][1])
            if r["inserted"]:
                newest = max(newest or 0, r["id"])
    if notify and newest is not None:
        await conn.execute(query("inbox_notify"), {"id": newest})
    return [r for r in out if r is not None]


def _as_is(blob: Any) -> Any:
    return blob


async def record(
    conn: AsyncConnection[Any],
    body: Any,
    body_digest: bytes | None = None,
    raw: bytes | None = None,
    *,
    altered: bool = False,
) -> Received:
    """Store one decoded body (pending) unless already stored; the caller commits.
    `body_digest` must be the digest of the body's canonical form when given."""
    text = canonical(body)
    item = Incoming(body, text, body_digest or digest(text), raw, altered)
    [received] = await record_many(conn, [item])
    return received


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
