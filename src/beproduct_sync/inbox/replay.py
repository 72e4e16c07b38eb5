"""Replay: send settled events (dead, failed, ignored, stale, applied) back to the queue."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from beproduct_sync.apply.policy import Outcome, Policy
from beproduct_sync.apply.worker import process
from beproduct_sync.apply.writer import query
from beproduct_sync.errors import SyncError
from beproduct_sync.inbox.leases import Claimed

REPLAYABLE = ("dead", "failed", "ignored", "stale", "applied")


class SelectionError(SyncError):
    """Choose what to replay: --id, --status, --since or --until."""


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
        wrong = [s for s in self.statuses if s not in REPLAYABLE]
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
            "statuses": list(self.statuses or REPLAYABLE),
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


@dataclass
class Report:
    """What a replay chose, reset and (with --now) how each apply ended."""

    chosen: list[Candidate]
    reset: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    missing_ids: list[int] = field(default_factory=list)


async def candidates(conn: AsyncConnection[Any], selection: Selection) -> list[Candidate]:
    """The events the selection matches, oldest first."""
    cur = await conn.execute(query("replay_candidates"), selection.params())
    return [Candidate(*row) for row in await cur.fetchall()]


async def reset(
    conn: AsyncConnection[Any],
    ids: list[int],
    *,
    claimant: str | None = None,
    lease_seconds: float = 60.0,
) -> list[Claimed]:
    """Back to pending (or, with a claimant, claimed by it); wakes the workers."""
    async with conn.transaction():
        cur = await conn.execute(
            query("replay_reset"),
            {
                "ids": ids,
                "statuses": list(REPLAYABLE),
                "claimant": claimant,
                "lease_seconds": lease_seconds,
            },
        )
        rows = sorted((Claimed.from_row(r) for r in await cur.fetchall()), key=lambda c: c.id)
        if rows and claimant is None:
            await conn.execute(query("worker_wake"), {"payload": "replay"})
    return rows


async def replay(
    conn: AsyncConnection[Any],
    selection: Selection,
    policy: Policy,
    *,
    dry_run: bool = False,
    now: bool = False,
    lease_seconds: float = 60.0,
) -> Report:
    """Choose, reset and optionally apply at once. `conn` must be autocommit."""
    chosen = await candidates(conn, selection)
    found = {c.id for c in chosen}
    report = Report(chosen, missing_ids=[i for i in selection.ids if i not in found])
    if dry_run or not chosen:
        return report
    claimant = f"replay:{os.getpid()}" if now else None
    entries = await reset(
        conn, [c.id for c in chosen], claimant=claimant, lease_seconds=lease_seconds
    )
    report.reset = [e.id for e in entries]
    if now:
        for entry in entries:
            report.outcomes.append(await process(conn, entry, policy, owner=claimant))
    return report
