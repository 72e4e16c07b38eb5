"""Workers: claim stored events in batches, apply them, never lose one.

A worker claims a batch (FOR UPDATE SKIP LOCKED, marking the rows 'processing' under a lease),
then hands slices of it to batch.apply_batch, which writes the ops rows of many events and
settles their inbox rows in one transaction (falling back to one transaction per event when a
slice fails). If a worker dies mid-apply its transaction rolls back and the lease
runs out, so another worker claims the event again; applies are idempotent, so repeating one
is harmless. Workers wake on NOTIFY from the receiver and poll as a fallback.

An event that kills its worker every time (out of memory, kill -9) or outlives its lease never
settles, so `attempts` alone would let it be claimed forever. Each claim therefore counts in
`claims`; an event claimed before without finishing is applied alone, after the rest of its
batch, with the other such events handed back (so a crash charges it only), and one claimed
more often than the policy's max attempts is dead-lettered without being applied again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection

from beproduct_sync import db
from beproduct_sync.apply.policy import Outcome, Policy, apply_entry, describe_error
from beproduct_sync.apply.service import Entry, apply_batch
from beproduct_sync.bootstrap import Runtime
from beproduct_sync.config import Settings
from beproduct_sync.errors import SyncError
from beproduct_sync.inbox import log as inbox
from beproduct_sync.inbox.leases import (
    Claimed,
    claim,
    claims_exhausted,
    queue_stats,
    release,
    renew,
)
from beproduct_sync.metrics import APPLY_SECONDS, LAG_SECONDS, OUTCOMES, QUEUE_DEPTH

log = structlog.get_logger("beproduct_sync.worker")

CHANNEL = "beproduct_sync_inbox"
EVENT_TYPES = frozenset({"OnCreate", "OnChange", "OnDelete"})
STATS_INTERVAL_SECONDS = 5.0
NOTIFY_SLICE_SECONDS = 0.25  # how often the listener looks at the stop flag


@dataclass(frozen=True)
class WorkerConfig:
    """The settings a worker loop reads."""

    batch_size: int = 100
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    listen: bool = True
    apply_slice: int = 50  # events applied per batch transaction

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        """The worker part of the settings."""
        return cls(
            batch_size=settings.beproduct_sync_batch_size,
            lease_seconds=settings.beproduct_sync_lease_seconds,
            poll_seconds=settings.beproduct_sync_poll_seconds,
            listen=settings.beproduct_sync_listen,
            apply_slice=settings.beproduct_sync_apply_batch_size,
        )


def worker_name(index: int) -> str:
    """A name unique among live workers: host, process, loop number (shown in locked_by)."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


def reconnect_delay(failures: int) -> float:
    """Seconds to wait after the `failures`-th consecutive database error (jittered, ≤ 30 s)."""
    return inbox.retry_delay(failures, 0.25, 30.0)


def event_type_label(value: str | None) -> str:
    """A metric label for the event type; anything a sender made up becomes 'other'."""
    return value if value in EVENT_TYPES else "other"


def observe(entry: Claimed, outcome: Outcome) -> None:
    """Metrics and one structured log line for one event outcome."""
    if outcome.status == "skipped":  # another worker owns it now; it reports the outcome
        log.info("event_skipped", log_id=entry.id, reason="lease taken over")
        return
    label = event_type_label(outcome.event_type or entry.action)
    OUTCOMES.labels(label, outcome.status).inc()
    APPLY_SECONDS.labels(label).observe(outcome.duration_ms / 1000)
    if outcome.status == "applied":
        LAG_SECONDS.labels(label).observe(max(0.0, time.time() - entry.received_at.timestamp()))
    style = outcome.style_number
    if style is None and isinstance(entry.payload, dict):
        found = entry.payload.get("headerNumber")
        style = found if isinstance(found, str) else None
    fields: dict[str, Any] = {
        "log_id": entry.id,
        "event_type": outcome.event_type or entry.action,
        "style_number": style,
        "status": outcome.status,
        "duration_ms": outcome.duration_ms,
        "attempt": entry.attempts + 1,
    }
    if outcome.status in ("failed", "dead"):
        log.warning("event_processed", **fields, error=outcome.error)
    elif outcome.status == "ignored":
        log.info("event_processed", **fields, reason=outcome.reason)
    else:
        log.info("event_processed", **fields)


async def process(
    conn: AsyncConnection[Any], entry: Claimed, policy: Policy, owner: str | None = None
) -> Outcome:
    """Apply one claimed event (its own transaction) and record its outcome."""
    outcome = await apply_entry(
        conn,
        entry.id,
        entry.payload,
        entry.digest,
        policy,
        attempts_before=entry.attempts,
        owner=owner,
    )
    observe(entry, outcome)
    return outcome


async def process_many(
    conn: AsyncConnection[Any], entries: list[Claimed], policy: Policy, owner: str
) -> list[Outcome]:
    """Apply claimed events in batch transactions (see batch.py) and record each outcome."""
    outcomes = await apply_batch(
        conn,
        [Entry(e.id, e.payload, e.digest, e.attempts) for e in entries],
        policy,
        owner=owner,
    )
    for entry, outcome in zip(entries, outcomes, strict=True):
        observe(entry, outcome)
    return outcomes


async def give_up(
    conn: AsyncConnection[Any], entries: list[Claimed], owner: str | None
) -> list[Outcome]:
    """Dead-letter events claimed more often than the policy allows, without applying them:
    status dead, last_error and an ops.import_errors row saying why."""
    reasons = {e.id: claims_exhausted(e) for e in entries}
    async with conn.transaction():
        owned = await inbox.lock_owned(conn, list(reasons), owner)
        mine = [e for e in entries if e.id in owned]
        await inbox.finish_many(
            conn,
            [
                {
                    "id": e.id,
                    "status": "dead",
                    "duration_ms": 0.0,
                    "reason": None,
                    "error": reasons[e.id],
                    "body": e.payload,
                }
                for e in mine
            ],
        )
        await inbox.add_error_rows(
            conn,
            [
                {
                    "sync_log_id": e.id,
                    "severity": "error",
                    "message": reasons[e.id],
                    "attempt": e.attempts + 1,
                    "entity_id": e.payload.get("headerId") if isinstance(e.payload, dict) else None,
                }
                for e in mine
            ],
        )
    outcomes = [
        Outcome(
            e.id,
            "dead" if e.id in owned else "skipped",
            0.0,
            error=reasons[e.id] if e.id in owned else None,
        )
        for e in entries
    ]
    for entry, outcome in zip(entries, outcomes, strict=True):
        observe(entry, outcome)
    return outcomes


async def connect(url: str, role: str = "worker") -> AsyncConnection[Any]:
    """An autocommit connection for a worker (or the listener)."""
    # No session settings here: behind a transaction-mode pooler they would leak to other
    # clients. (The apply relaxes commit durability itself, with SET LOCAL; see store.py.)
    return await db.aconnect(url, autocommit=True, application_name=f"beproduct-sync {role}")


async def _pause(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _log_db_error(what: str, exc: Exception, delay: float, **fields: Any) -> None:
    if isinstance(exc, psycopg.Error | SyncError | OSError):
        log.warning(what, error=describe_error(exc), retry_in_s=round(delay, 2), **fields)
    else:  # a bug, not an outage: keep the traceback, keep the process alive
        log.error(
            what, error=describe_error(exc), retry_in_s=round(delay, 2), exc_info=exc, **fields
        )


class Worker:
    """One worker loop: claim a batch, apply it, wait for more; reconnect on errors."""

    def __init__(
        self, url: str, policy: Policy, config: WorkerConfig, name: str, wake: asyncio.Event
    ) -> None:
        self.url, self.policy, self.config, self.name, self.wake = url, policy, config, name, wake
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; never raises for database trouble."""
        self.failures = 0
        while not stop.is_set():
            try:
                async with await connect(self.url) as conn:
                    await self._loop(conn, stop)
                return
            except Exception as exc:  # noqa: BLE001 - outages must not end the worker
                self.failures += 1
                delay = reconnect_delay(self.failures)
                _log_db_error("worker_db_error", exc, delay, worker=self.name)
                await _pause(stop, delay)

    async def _loop(self, conn: AsyncConnection[Any], stop: asyncio.Event) -> None:
        cfg = self.config
        while not stop.is_set():
            # Cleared before claiming, so a NOTIFY that lands during the claim is not missed.
            self.wake.clear()
            batch = await claim(conn, self.name, cfg.batch_size, cfg.lease_seconds)
            self.failures = 0  # a working claim ends an outage: the next one starts short again
            if batch:
                await self._work(conn, batch, stop)
            if len(batch) < cfg.batch_size:  # a full batch means more is waiting: no pause
                await _pause(self.wake, cfg.poll_seconds)

    async def _work(
        self, conn: AsyncConnection[Any], batch: list[Claimed], stop: asyncio.Event
    ) -> None:
        limit = self.policy.max_attempts
        spent = [e for e in batch if e.claims > limit]
        if spent:
            await give_up(conn, spent, self.name)
        live = [e for e in batch if e.claims <= limit]
        fresh = [e for e in live if not e.unfinished_claims]
        suspects = [e for e in live if e.unfinished_claims]
        step = max(1, self.config.apply_slice)
        slices = [fresh[i : i + step] for i in range(0, len(fresh), step)]
        if suspects:
            # One of these may be what killed an earlier worker. Apply one alone, after the
            # rest of the batch, and hand the others back first (uncounted), so that if it
            # crashes again the claim is charged to it and to no innocent event.
            await release(conn, self.name, [e.id for e in suspects[1:]])
            if len(suspects) > 1:
                self.wake.set()  # they are due now: claim again without waiting for a poll
            slices.append(suspects[:1])
        await self._apply(conn, slices, stop)

    async def _apply(
        self, conn: AsyncConnection[Any], slices: list[list[Claimed]], stop: asyncio.Event
    ) -> None:
        lease = self.config.lease_seconds
        renewed_at = time.monotonic()
        lost: set[int] = set()
        for i, part in enumerate(slices):
            rest = [e.id for s in slices[i:] for e in s if e.id not in lost]
            if stop.is_set():
                # Graceful stop: what is in flight has finished; hand back the rest now
                # rather than leaving it locked until the lease runs out.
                await release(conn, self.name, rest)
                return
            if time.monotonic() - renewed_at > lease / 2:
                lost |= set(rest) - await renew(conn, self.name, rest, lease)
                renewed_at = time.monotonic()
            # Lost entries: the lease ran out and another worker has them now.
            todo = [e for e in part if e.id not in lost]
            if todo:
                await process_many(conn, todo, self.policy, self.name)


async def _listen(
    url: str, config: WorkerConfig, wakes: list[asyncio.Event], stop: asyncio.Event
) -> None:
    """Relay NOTIFYs to the workers and keep the queue-depth gauge fresh."""
    failures = 0
    while not stop.is_set():
        try:
            async with await connect(url, "listener") as conn:
                if config.listen:
                    await conn.execute(f"LISTEN {CHANNEL}")
                failures = 0
                next_stats = 0.0
                while not stop.is_set():
                    if time.monotonic() >= next_stats:
                        QUEUE_DEPTH.set((await queue_stats(conn))[0])
                        next_stats = time.monotonic() + STATS_INTERVAL_SECONDS
                    if not config.listen:
                        await _pause(stop, STATS_INTERVAL_SECONDS)
                        continue
                    async for _ in conn.notifies(timeout=NOTIFY_SLICE_SECONDS):
                        for wake in wakes:
                            wake.set()
            return
        except Exception as exc:  # noqa: BLE001 - workers keep polling while this reconnects
            failures += 1
            delay = reconnect_delay(failures)
            _log_db_error("listener_db_error", exc, delay)
            await _pause(stop, delay)


async def run_workers(runtime: Runtime, stop: asyncio.Event, *, count: int | None = None) -> None:
    """Run `count` worker loops (default BEPRODUCT_SYNC_WORKERS) until `stop` is set, then let
    each finish the event it is applying and return."""
    settings = runtime.settings
    n = settings.beproduct_sync_workers if count is None else count
    config = WorkerConfig.from_settings(settings)
    if n <= 0:
        await stop.wait()
        return
    if runtime.policy.fault is not None:
        log.warning(
            "fault_injection_enabled", style_numbers=settings.beproduct_sync_fault_style_numbers
        )
    wakes = [asyncio.Event() for _ in range(n)]

    async def relay_stop() -> None:
        await stop.wait()
        for wake in wakes:
            wake.set()

    loops = [
        Worker(runtime.url, runtime.policy, config, worker_name(i), wakes[i]).run(stop)
        for i in range(n)
    ]
    tasks = [
        asyncio.create_task(c)
        for c in (*loops, relay_stop(), _listen(runtime.url, config, wakes, stop))
    ]
    log.info(
        "workers_started",
        count=n,
        batch_size=config.batch_size,
        listen=config.listen,
        lease_s=config.lease_seconds,
        poll_s=config.poll_seconds,
    )
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    log.info("workers_stopped", count=n)
