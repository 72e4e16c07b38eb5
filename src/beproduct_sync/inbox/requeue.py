"""Requeue: choose settled events (dead, failed, ignored, stale, applied) and send them back to
the queue, for the workers or for the caller to apply at once (`replay --now`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from beproduct_sync.errors import SelectionError
from beproduct_sync.inbox.leases import Claimed
from beproduct_sync.inbox.status import REPLAYABLE
from beproduct_sync.sql import query


def parse_when(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is read as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SelectionError(
            f"{text!r} is not a date or time; use ISO form such as 2026-01-31 or"
            " 2026-01-31T12:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    """Which events to replay: every given criterion must hold (statuses default to all)."""

    ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if not (self.ids or self.statuses or self.since or self.until):
            raise SelectionError()
        wrong = [s for s in self.statuses if s not in set(REPLAYABLE)]
        if wrong:
            raise SelectionError(
                f"cannot replay status {', '.join(wrong)}: only {', '.join(REPLAYABLE)}"
                " (pending and processing events are queued already)"
            )
        if self.since and self.until and self.since >= self.until:
            raise SelectionError("--since must be earlier than --until")

    def params(self) -> dict[str, Any]:
        """Parameters of replay_candidates.sql."""
        return {
            "ids": list(self.ids) or None,
            "statuses": list(self.statuses or (s.value for s in REPLAYABLE)),
            "since": self.since,
            "until": self.until,
        }


@dataclass(frozen=True)
class Candidate:
    """One event the selection matched, as listed to the operator."""

    id: int
    status: str
    action: str | None
    style_number: str | None
    received_at: datetime
    attempts: int
    last_error: str | None


async def candidates(conn: AsyncConnection[Any], selection: Selection) -> list[Candidate]:
    """The events the selection matches, oldest first."""
    cur = conn.cursor(row_factory=class_row(Candidate))
    return await (await cur.execute(query("replay_candidates"), selection.params())).fetchall()


async def reset(
    conn: AsyncConnection[Any],
    ids: list[int],
    *,
    claimant: str | None = None,
    lease_seconds: float = 60.0,
) -> list[Claimed]:
    """Back to pending (or, with a claimant, claimed by it); wakes the workers."""
    async with conn.transaction():
        cur = conn.cursor(row_factory=class_row(Claimed))
        params = {
            "ids": ids,
            "statuses": [s.value for s in REPLAYABLE],
            "claimant": claimant,
            "lease_seconds": lease_seconds,
        }
        rows = sorted(
            await (await cur.execute(query("replay_reset"), params)).fetchall(), key=lambda c: c.id
        )
        if rows and claimant is None:
            await conn.execute(query("worker_wake"), {"payload": "replay"})
    return rows
