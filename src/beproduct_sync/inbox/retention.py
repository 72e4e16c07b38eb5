"""Retention: delete old settled inbox rows and old import errors, in short batches.

Nothing is deleted unless asked: `beproduct-sync prune --older-than 90d`, or `serve` with
BEPRODUCT_SYNC_RETENTION_DAYS. By default applied, stale and ignored rows go; dead and failed
rows stay unless named (they are the ones a person still has to look at); pending and processing
rows are never deleted. The work is done by two database functions (migration
20261201000051_retention), one short transaction per batch that skips rows in use, so a prune
never makes the receiver or a worker wait. A pruned body delivered again is stored as new and
applied as stale by its source version: harmless.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection
from psycopg.rows import dict_row, scalar_row

from beproduct_sync import db
from beproduct_sync._backoff import pause
from beproduct_sync.errors import SelectionError, SyncError
from beproduct_sync.inbox.status import InboxStatus
from beproduct_sync.sql import query

DEFAULT_STATUSES = (InboxStatus.APPLIED, InboxStatus.STALE, InboxStatus.IGNORED)
PRUNABLE = (*DEFAULT_STATUSES, InboxStatus.DEAD, InboxStatus.FAILED)
BATCH_SIZE = 500  # rows looked at per transaction: short locks, never a long one
INTERVAL_SECONDS = 3600.0  # the scheduled prune's period

log = structlog.get_logger("beproduct_sync.retention")

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s` or `2w` as a timedelta; SelectionError otherwise."""
    found = _DURATION.fullmatch(text)
    if found is None:
        raise SelectionError(
            f"{text!r} is not a duration: use a number and a unit, e.g. 90d, 12h, 30m or 2w"
        )
    return timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2).lower()])


@dataclass(frozen=True)
class Pruned:
    """What a prune deleted (or, dry, would delete)."""

    cutoff: datetime
    statuses: tuple[str, ...]
    events: int
    import_errors: int
    dry_run: bool


async def prune(
    conn: AsyncConnection[Any],
    cutoff: datetime,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> Pruned:
    """Delete (dry_run: count) inbox rows in `statuses` received before `cutoff`, with their
    import errors, then import errors created before `cutoff`; `conn` must be autocommit, so
    each batch is its own transaction."""
    chosen = tuple(dict.fromkeys(str(s) for s in statuses))
    refused = [s for s in chosen if s not in PRUNABLE]
    if refused:
        raise SelectionError(
            f"status {', '.join(refused)} cannot be pruned: choose among {', '.join(PRUNABLE)}"
        )
    events = errors = 0
    after = 0
    cur = conn.cursor(row_factory=dict_row)
    while True:
        params = {
            "statuses": list(chosen),
            "cutoff": cutoff,
            "after": after,
            "batch": batch_size,
            "dry_run": dry_run,
        }
        row = await (await cur.execute(query("prune_inbox_batch"), params)).fetchone()
        if row is None or row["last_id"] is None:
            break
        events += row["deleted"]
        errors += row["errors_deleted"]
        after = row["last_id"]
        if row["oldest"] >= cutoff:  # ids grow with time: everything further on is newer
            break
    errors += await _prune_errors(conn, cutoff, batch_size, dry_run)
    return Pruned(cutoff, chosen, events, errors, dry_run)


async def _prune_errors(
    conn: AsyncConnection[Any], cutoff: datetime, batch_size: int, dry_run: bool
) -> int:
    cur = conn.cursor(row_factory=scalar_row)
    params = {"cutoff": cutoff, "batch": batch_size, "dry_run": dry_run}
    total = 0
    while True:
        n = int(await (await cur.execute(query("prune_import_errors"), params)).fetchone() or 0)
        total += n
        if dry_run or n < batch_size:
            return total


async def run_scheduled(
    url: str, older_than: timedelta, stop: asyncio.Event, every: float = INTERVAL_SECONDS
) -> None:
    """Prune the default statuses older than `older_than` now and every `every` seconds until
    `stop`; database trouble is logged and tried again next time."""
    while not stop.is_set():
        try:
            async with await db.aconnect(
                url, autocommit=True, application_name="beproduct-sync retention"
            ) as conn:
                done = await prune(conn, datetime.now(UTC) - older_than)
            log.info("pruned", events=done.events, import_errors=done.import_errors)
        except (psycopg.Error, SyncError) as exc:
            log.warning("prune_failed", error=db.describe_error(exc))
        await pause(stop, every)
