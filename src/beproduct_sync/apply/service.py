"""The apply service: stored events → rows written and inbox rows settled, together.

Every apply goes through `apply_batch`, whether a worker claimed a hundred events, `ingest` reads
one file or `replay --now` repeats one: a single event is a batch of one. Versioned upserts make
the outcome independent of the order rows are written in, so the rows of many events go out as
one set of statements (writer.apply_many) and one commit, together with every event's inbox
status. Two limits keep that equal to applying them one by one:
- an upsert statement may touch a row only once, so a batch is cut into chunks in which no
  record or milestone id repeats (events for one style land in successive chunks, in order);
- a chunk that fails is rolled back whole and its events are applied alone, so one bad event
  fails alone (retried later, then dead) and never blocks the others.
Each apply locks the inbox rows it settles and settles only those still its own, so a lease
that runs out mid-apply can never make two workers apply one event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from psycopg import AsyncConnection

from beproduct_sync._backoff import retry_delay
from beproduct_sync.apply.policy import SKIPPED, Outcome, Policy
from beproduct_sync.apply.writer import apply_many
from beproduct_sync.db import describe_error
from beproduct_sync.errors import MalformedEvent, MissingPrivilege, NotATrackingEvent
from beproduct_sync.inbox.log import Problem, Settlement, lock_owned, settle
from beproduct_sync.inbox.status import InboxStatus
from beproduct_sync.model.from_webhook import map_event
from beproduct_sync.model.rows import RowSet
from beproduct_sync.model.webhook import TrackingEvent, parse_event

log = structlog.get_logger("beproduct_sync.apply")

MAX_CHUNK = 200


@dataclass(frozen=True)
class Entry:
    """A stored event to apply: its inbox row id, stored payload, digest and past attempts."""

    id: int
    payload: Any
    digest: bytes
    attempts: int = 0

    @property
    def entity_id(self) -> str | None:
        """The style id the sender named, for ops.import_errors (None if unreadable)."""
        found = self.payload.get("headerId") if isinstance(self.payload, dict) else None
        return found if isinstance(found, str) else None


@dataclass(frozen=True)
class Parsed:
    """An event parsed and mapped, with its inbox entry."""

    entry: Entry
    event: TrackingEvent
    rows: RowSet


def malformed_message(exc: BaseException) -> str:
    """The reason recorded for a body the parser refused."""
    detail = str(exc) if isinstance(exc, MalformedEvent) else describe_error(exc)
    return f"malformed event: {detail}"


def chunks(items: Sequence[Parsed], limit: int = MAX_CHUNK) -> Iterator[list[Parsed]]:
    """The events in as few chunks as their ids allow, no record or milestone id twice in one.

    An event goes into the chunk after the last one holding any of its ids, so the events of
    one style keep their order (an earlier one in an earlier chunk) while events of other
    styles fill the chunks between: a batch where one style changes five times takes five
    chunks, not a new chunk at every repeat. Moving an event past events that write none of
    its records or milestones leaves the same rows: every write, definitions included, is
    versioned (only which of two events carrying one definition is credited with it, and so
    may be `applied` rather than `stale`, can differ, as between concurrent workers).
    """
    rounds: list[list[Parsed]] = []
    last: dict[tuple[str, str], int] = {}  # id → the chunk that last wrote it
    for item in items:
        keys: list[tuple[str, str]] = [(item.rows.kind, item.rows.record["id"])]
        keys += [(item.rows.kind + ":m", m["id"]) for m in item.rows.milestones]
        n = max((last[k] + 1 for k in keys if k in last), default=0)
        while n < len(rounds) and len(rounds[n]) >= limit:
            n += 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
        for k in keys:
            last[k] = n
    yield from rounds


def per_plan(rowsets: Sequence[RowSet]) -> list[RowSet]:
    """One row set per plan, with the union of its definitions and the plan's folder (for
    enrichment scheduling), in plan-id order so concurrent appliers queue jobs in one order."""
    merged: dict[str, RowSet] = {}
    for rows in rowsets:
        pid = rows.plan["id"]
        if pid not in merged:
            merged[pid] = RowSet(rows.kind, [], {**rows.plan}, [], rows.record, [])
        target = merged[pid]
        known = {t["id"] for t in target.templates}
        target.templates.extend(t for t in rows.templates if t["id"] not in known)
        if not target.folder_ids and rows.folder_ids:
            target.folder_ids.extend(rows.folder_ids)
        if target.plan["folder_id"] is None and rows.plan["folder_id"] is not None:
            target.plan["folder_id"] = rows.plan["folder_id"]
    return [merged[pid] for pid in sorted(merged)]


async def settle_owned(
    conn: AsyncConnection[Any], settlements: list[Settlement], owner: str | None
) -> list[Outcome]:
    """Settle, in one transaction, the events that are still ours (see apply_batch's `owner`);
    the others are reported as skipped. For outcomes decided without writing rows: ignored and
    malformed bodies, and events a worker gives up on."""
    if not settlements:
        return []
    async with conn.transaction():
        owned = await lock_owned(conn, [s.id for s in settlements], owner)
        settled = await settle(conn, [s for s in settlements if s.id in owned])
    return [
        Outcome(
            s.id,
            settled[s.id].status if s.id in settled else SKIPPED,
            s.duration_ms,
            reason=s.reason,
            error=s.error,
            attempts=settled[s.id].attempts if s.id in settled else s.attempt,
        )
        for s in settlements
    ]


def _outcome(entry: Entry, event: TrackingEvent, status: str, ms: float, **more: Any) -> Outcome:
    return Outcome(
        entry.id, status, ms, event_type=event.event_type, style_number=event.header_number, **more
    )


async def _apply_chunk(
    conn: AsyncConnection[Any], chunk: list[Parsed], policy: Policy, owner: str | None
) -> list[Outcome]:
    started = time.perf_counter()
    try:
        async with conn.transaction():
            owned = await lock_owned(conn, [p.entry.id for p in chunk], owner)
            mine = [p for p in chunk if p.entry.id in owned]
            if not mine:
                return [_outcome(p.entry, p.event, SKIPPED, 0.0) for p in chunk]
            if policy.fault is not None:
                for p in mine:
                    policy.fault(p.event)
            result = await apply_many(conn, [p.rows for p in mine])
            if policy.after_apply is not None:
                await policy.after_apply(conn, per_plan([p.rows for p in mine]))
            if policy.after_events is not None:
                await policy.after_events(conn, [(p.entry.id, p.rows) for p in mine])
            # The chunk's time is shared out evenly: its statements ran for all at once.
            share = round((time.perf_counter() - started) * 1000 / len(mine), 3)
            statuses = {
                p.entry.id: InboxStatus.APPLIED if result.changed_by(p.rows) else InboxStatus.STALE
                for p in mine
            }
            await settle(
                conn,
                [
                    Settlement(
                        p.entry.id,
                        statuses[p.entry.id],
                        p.entry.payload,
                        p.entry.attempts + 1,
                        duration_ms=share,
                        problems=tuple(
                            Problem(n.entity_id, n.message, "warning") for n in p.rows.notices
                        ),
                    )
                    for p in mine
                ],
            )
    except MissingPrivilege:
        raise  # the role's fault, not the events': no attempt counted (see worker.py)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none escapes unlogged
        if len(chunk) > 1:
            # Rolled back whole: apply each alone, so only the bad one fails.
            return [o for p in chunk for o in await _apply_chunk(conn, [p], policy, owner)]
        return [await _fail(conn, chunk[0].entry, chunk[0].event, exc, policy, owner, started)]
    return [
        _outcome(
            p.entry,
            p.event,
            statuses.get(p.entry.id, SKIPPED),
            share,
            warnings=[n.message for n in p.rows.notices],
        )
        for p in chunk
    ]


async def _fail(
    conn: AsyncConnection[Any],
    entry: Entry,
    event: TrackingEvent,
    exc: BaseException,
    policy: Policy,
    owner: str | None,
    started: float,
) -> Outcome:
    """Record a failed attempt: retried after a backoff, dead after the last attempt."""
    message = describe_error(exc)
    attempt = entry.attempts + 1
    delay = retry_delay(attempt, policy.retry_base_seconds, policy.retry_max_seconds)
    entity = str(event.header_id or event.record_id)
    [outcome] = await settle_owned(
        conn,
        [
            Settlement(
                entry.id,
                InboxStatus.FAILED,
                entry.payload,
                attempt,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                error=message,
                retry_in=delay,
                max_attempts=policy.max_attempts,
                problems=(Problem(entity, message),),
            )
        ],
        owner,
    )
    if outcome.status != SKIPPED:
        log.warning(
            "event_failed",
            log_id=entry.id,
            status=outcome.status,
            attempts=outcome.attempts,
            error=message,
            event_type=event.event_type,
            style_number=event.header_number,
        )
    return _outcome(
        entry, event, outcome.status, outcome.duration_ms, error=message, attempts=outcome.attempts
    )


async def apply_batch(
    conn: AsyncConnection[Any],
    entries: Sequence[Entry],
    policy: Policy,
    *,
    owner: str | None = None,
) -> list[Outcome]:
    """Apply stored events and settle their inbox rows; outcomes in the order given.

    `conn` must be autocommit. `owner` is the worker holding the rows' lease (None for an
    unleased apply such as `ingest`); rows no longer ours are left alone and reported skipped.
    """
    unparsed: list[Settlement] = []
    parsed: list[Parsed] = []
    unmapped: list[tuple[Entry, TrackingEvent, Exception]] = []
    for e in entries:
        # Parsing and mapping are CPU work; in `serve` the receiver may share this event loop,
        # so let it answer webhooks between events rather than after the whole batch.
        await asyncio.sleep(0)
        try:
            event = parse_event(e.payload)
        except NotATrackingEvent as exc:
            unparsed.append(
                Settlement(e.id, InboxStatus.IGNORED, e.payload, e.attempts + 1, reason=str(exc))
            )
            continue
        except Exception as exc:  # noqa: BLE001 - MalformedEvent, or whatever else a body raises
            # Retrying cannot fix a malformed body: dead-letter it at once, with the reason.
            message = malformed_message(exc)
            unparsed.append(
                Settlement(
                    e.id,
                    InboxStatus.DEAD,
                    e.payload,
                    e.attempts + 1,
                    error=message,
                    problems=(Problem(e.entity_id, message),),
                )
            )
            continue
        try:
            parsed.append(Parsed(e, event, map_event(event, e.digest, policy.zone)))
        except Exception as exc:  # noqa: BLE001 - recorded as a failed attempt below
            unmapped.append((e, event, exc))
    outcomes = await settle_owned(conn, unparsed, owner)
    for chunk in chunks(parsed):
        outcomes.extend(await _apply_chunk(conn, chunk, policy, owner))
    for e, event, error in unmapped:
        outcomes.append(await _fail(conn, e, event, error, policy, owner, time.perf_counter()))
    order = {e.id: i for i, e in enumerate(entries)}
    return sorted(outcomes, key=lambda o: order[o.log_id])
