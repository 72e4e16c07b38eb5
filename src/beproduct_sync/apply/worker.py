"""Workers: claim stored events in batches, apply them, never lose one.

A worker claims a batch (FOR UPDATE SKIP LOCKED, marking the rows 'processing' under a lease),
then hands slices of it to apply.service.apply_batch, which writes the ops rows of many events and
settles their inbox rows in one transaction (falling back to one transaction per event when a
slice fails). If a worker dies mid-apply its transaction rolls back and the lease
runs out, so another worker claims the event again; applies are idempotent, so repeating one
is harmless. Workers wake on NOTIFY from the receiver and poll as a fallback.

A missing database privilege is the deployment's fault, not the events': the batch is handed
back uncounted and the loop backs off (see keep_running), so no event is failed or dead-lettered
for it, and applying resumes once the role is granted what it needs.

An event that kills its worker every time (out of memory, kill -9) or outlives its lease never
settles, so `attempts` alone would let it be claimed forever. Each claim therefore counts in
`claims`; an event claimed before without finishing is applied alone, after the rest of its
batch, with the other such events handed back (so a crash charges it only), and one claimed
more often than the policy's max attempts is dead-lettered without being applied again.

A crashed process's events need not wait for its lease: each process renews a heartbeat about
every HEARTBEAT_SECONDS, and other workers take over the claims of a process silent for
`dead_after_seconds` at once. Workers mark each slice as started before applying it
(inbox.leases.start), so such a takeover charges a claim only to the events that were in flight
when the process died; the rest of its batch is taken over uncharged, and no event is
dead-lettered because other events crashed its worker.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

import structlog
from psycopg import AsyncConnection

from beproduct_sync import db
from beproduct_sync._backoff import Backoff, keep_running, pause
from beproduct_sync.apply.policy import SKIPPED, Outcome, Policy
from beproduct_sync.apply.service import Entry, apply_batch, settle_owned
from beproduct_sync.config import Settings
from beproduct_sync.errors import MissingPrivilege
from beproduct_sync.inbox.leases import (
    DEAD_AFTER_SECONDS,
    Claimed,
    claim,
    claims_exhausted,
    forget_process,
    heartbeat,
    queue_stats,
    release,
    renew,
    start,
)
from beproduct_sync.inbox.log import Problem, Settlement
from beproduct_sync.inbox.status import InboxStatus
from beproduct_sync.metrics import APPLY_SECONDS, LAG_SECONDS, OUTCOMES, QUEUE_DEPTH
from beproduct_sync.model.webhook import event_type_label

log = structlog.get_logger("beproduct_sync.worker")

CHANNEL = "beproduct_sync_inbox"
STATS_INTERVAL_SECONDS = 5.0
NOTIFY_SLICE_SECONDS = 0.25  # how often the listener looks at the stop flag
HEARTBEAT_SECONDS = 1.0  # how often a worker process says it is alive (see module doc)
PROCESS_ENV = "BEPRODUCT_SYNC_PROCESS_ID"  # set by `serve` for its children (supervise.py)


@dataclass(frozen=True)
class WorkerConfig:
    """The settings a worker loop reads."""

    batch_size: int = 100
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    listen: bool = True
    apply_slice: int = 50  # events applied per batch transaction
    dead_after_seconds: float = DEAD_AFTER_SECONDS  # a silent process's claims are taken over
    prepare: bool = False  # server-side prepared statements (not behind a transaction pooler)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        """The worker part of the settings."""
        return cls(
            batch_size=settings.beproduct_sync_batch_size,
            lease_seconds=settings.beproduct_sync_lease_seconds,
            poll_seconds=settings.beproduct_sync_poll_seconds,
            listen=settings.beproduct_sync_listen,
            apply_slice=settings.beproduct_sync_apply_batch_size,
            dead_after_seconds=settings.beproduct_sync_worker_dead_after_seconds,
            prepare=settings.worker_prepare,
        )


def process_id() -> str:
    """This worker process's id in ops.worker_process: the one `serve` gave it, else host,
    pid and a random part (a restarted container reuses host name and pid)."""
    given = os.environ.get(PROCESS_ENV)
    return given or new_process_id()


def new_process_id() -> str:
    """A fresh worker process id: host:pid:nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def worker_name(index: int | str, process: str | None = None) -> str:
    """A name unique among live workers: the process id, '/', the loop number (shown in
    locked_by; the claim query reads the process back from it)."""
    return f"{process or process_id()}/{index}"


def observe(entry: Claimed, outcome: Outcome) -> None:
    """Metrics and one structured log line for one event outcome."""
    if outcome.status == SKIPPED:  # another worker owns it now; it reports the outcome
        log.info("event_skipped", log_id=entry.id, reason="lease taken over")
        return
    label = event_type_label(outcome.event_type or entry.action)
    OUTCOMES.labels(label, outcome.status).inc()
    APPLY_SECONDS.labels(label).observe(outcome.duration_ms / 1000)
    if outcome.status == InboxStatus.APPLIED:
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
    if outcome.status in (InboxStatus.FAILED, InboxStatus.DEAD):
        log.warning("event_processed", **fields, error=outcome.error)
    elif outcome.status == InboxStatus.IGNORED:
        log.info("event_processed", **fields, reason=outcome.reason)
    else:
        log.info("event_processed", **fields)


def _entry(claimed: Claimed) -> Entry:
    return Entry(claimed.id, claimed.payload, claimed.digest, claimed.attempts)


async def process_many(
    conn: AsyncConnection[Any], entries: list[Claimed], policy: Policy, owner: str | None
) -> list[Outcome]:
    """Apply claimed events (see apply.service) and record each outcome."""
    outcomes = await apply_batch(conn, [_entry(e) for e in entries], policy, owner=owner)
    for entry, outcome in zip(entries, outcomes, strict=True):
        observe(entry, outcome)
    return outcomes


async def give_up(
    conn: AsyncConnection[Any], entries: list[Claimed], owner: str | None
) -> list[Outcome]:
    """Dead-letter events claimed more often than the policy allows, without applying them:
    status dead, last_error and an ops.import_errors row saying why."""
    settlements = []
    for e in entries:
        reason = claims_exhausted(e)
        settlements.append(
            Settlement(
                e.id,
                InboxStatus.DEAD,
                e.payload,
                e.attempts + 1,
                error=reason,
                problems=(Problem(_entry(e).entity_id, reason),),
            )
        )
    outcomes = await settle_owned(conn, settlements, owner)
    for entry, outcome in zip(entries, outcomes, strict=True):
        observe(entry, outcome)
    return outcomes


async def connect(url: str, role: str = "worker", *, prepare: bool = False) -> AsyncConnection[Any]:
    """An autocommit connection for a worker (or the listener); with `prepare`, the statements a
    worker repeats (claim, upserts, settle) are planned once per connection, which saves about a
    third of the database's CPU per event (see README, Where the time goes)."""
    # No session settings here: behind a transaction-mode pooler they would leak to other
    # clients. (The apply relaxes commit durability itself, with SET LOCAL; see writer.py.)
    return await db.aconnect(
        url, prepare=prepare, autocommit=True, application_name=f"beproduct-sync {role}"
    )


class Worker:
    """One worker loop: claim a batch, apply it, wait for more; reconnect on errors."""

    def __init__(
        self, url: str, policy: Policy, config: WorkerConfig, name: str, wake: asyncio.Event
    ) -> None:
        self.url, self.policy, self.config, self.name, self.wake = url, policy, config, name, wake

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; never raises for database trouble."""

        async def connected(backoff: Backoff) -> None:
            async with await connect(self.url, prepare=self.config.prepare) as conn:
                await self._loop(conn, stop, backoff)

        await keep_running("worker_db_error", stop, connected, worker=self.name)

    async def _loop(
        self, conn: AsyncConnection[Any], stop: asyncio.Event, backoff: Backoff
    ) -> None:
        cfg = self.config
        while not stop.is_set():
            # Cleared before claiming, so a NOTIFY that lands during the claim is not missed.
            self.wake.clear()
            batch = await claim(
                conn, self.name, cfg.batch_size, cfg.lease_seconds, cfg.dead_after_seconds
            )
            if batch:
                try:
                    await self._work(conn, batch, stop)
                except MissingPrivilege:
                    # Not the events' fault: hand back what is unsettled, uncounted (no attempt,
                    # no claim), and let keep_running back off and log it.
                    await release(conn, self.name, [e.id for e in batch])
                    raise
            backoff.reset()  # claimed and applied: an outage is over, the next starts short
            if len(batch) < cfg.batch_size:  # a full batch means more is waiting: no pause
                await pause(self.wake, cfg.poll_seconds)

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
                await start(conn, self.name, [e.id for e in todo])
                await process_many(conn, todo, self.policy, self.name)


async def _listen(
    url: str, config: WorkerConfig, wakes: list[asyncio.Event], stop: asyncio.Event
) -> None:
    """Relay NOTIFYs to the workers and keep the queue-depth gauge fresh."""

    async def connected(backoff: Backoff) -> None:
        async with await connect(url, "listener") as conn:
            if config.listen:
                await conn.execute(f"LISTEN {CHANNEL}")
            backoff.reset()
            next_stats = 0.0
            while not stop.is_set():
                if time.monotonic() >= next_stats:
                    QUEUE_DEPTH.set((await queue_stats(conn)).depth)
                    next_stats = time.monotonic() + STATS_INTERVAL_SECONDS
                if not config.listen:
                    await pause(stop, STATS_INTERVAL_SECONDS)
                    continue
                async for _ in conn.notifies(timeout=NOTIFY_SLICE_SECONDS):
                    for wake in wakes:
                        wake.set()

    # Workers keep polling while this reconnects.
    await keep_running("listener_db_error", stop, connected)


async def _heartbeat(url: str, process: str, stop: asyncio.Event) -> None:
    """Renew this process's heartbeat until `stop`, then drop it (see module doc)."""
    host, pid = socket.gethostname(), os.getpid()

    async def connected(backoff: Backoff) -> None:
        async with await connect(url, "heartbeat") as conn:
            while True:
                await heartbeat(conn, process, host, pid)
                backoff.reset()
                if await pause(stop, HEARTBEAT_SECONDS):
                    break
            await forget_process(conn, process)

    await keep_running("heartbeat_db_error", stop, connected)


async def run_workers(
    url: str, policy: Policy, config: WorkerConfig, stop: asyncio.Event, count: int
) -> None:
    """Run `count` worker loops until `stop` is set, then let each finish the events it is
    applying and return."""
    if count <= 0:
        await stop.wait()
        return
    wakes = [asyncio.Event() for _ in range(count)]

    async def relay_stop() -> None:
        await stop.wait()
        for wake in wakes:
            wake.set()

    process = process_id()
    loops = [
        Worker(url, policy, config, worker_name(i, process), wakes[i]).run(stop)
        for i in range(count)
    ]
    tasks = [
        asyncio.create_task(c)
        for c in (
            *loops,
            relay_stop(),
            _listen(url, config, wakes, stop),
            _heartbeat(url, process, stop),
        )
    ]
    log.info(
        "workers_started",
        count=count,
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
    log.info("workers_stopped", count=count)
