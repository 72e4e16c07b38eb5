"""`replay`: send chosen settled events back to the queue, or apply them here and now."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from beproduct_sync.apply.policy import Outcome, Policy
from beproduct_sync.apply.worker import process_many
from beproduct_sync.inbox.requeue import Candidate, Selection, candidates, reset


@dataclass
class Report:
    """What a replay chose, reset and (with `now`) how each apply ended."""

    chosen: list[Candidate]
    reset: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    missing_ids: list[int] = field(default_factory=list)


async def replay(
    conn: AsyncConnection[Any],
    selection: Selection,
    policy: Policy,
    *,
    dry_run: bool = False,
    now: bool = False,
    lease_seconds: float = 60.0,
) -> Report:
    """Choose, reset and optionally apply at once. `conn` must be autocommit.

    With `now` the events come back claimed by this process under a lease, so if it dies the
    workers take them over when the lease runs out.
    """
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
        # One at a time, as before batching: an operator replaying usually wants each
        # event's own outcome, and one failure must not roll back the others.
        for entry in entries:
            report.outcomes.extend(await process_many(conn, [entry], policy, claimant))
    return report
