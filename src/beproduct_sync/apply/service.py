"""Apply a claimed batch of events in a few transactions instead of one per event.

Versioned upserts make the outcome independent of the order rows are written in, so the rows of
many events can go out as one set of statements (store.apply_many) and one commit, together
with every event's inbox status. Two limits keep that equal to applying them one by one:
- an upsert statement may touch a row only once, so a batch is cut into chunks in which no
  record or milestone id repeats (events for one style land in successive chunks);
- a chunk that fails is rolled back whole and its events are applied one by one
  (engine.apply_entry), so one bad event fails alone and never blocks the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from beproduct_sync.apply import writer as store
from beproduct_sync.apply.policy import Outcome, Policy, apply_entry, malformed_message
from beproduct_sync.errors import NotATrackingEvent
from beproduct_sync.inbox import log as inbox
from beproduct_sync.model.from_webhook import RowSet, map_event
from beproduct_sync.model.webhook import TrackingEvent, parse_event

MAX_CHUNK = 200


@dataclass(frozen=True)
class Entry:
    """A stored event to apply."""

    id: int
    payload: Any
    digest: bytes
    attempts: int = 0


@dataclass(frozen=True)
class Parsed:
    """An event parsed and mapped, with its inbox entry."""

    entry: Entry
    event: TrackingEvent
    rows: RowSet


def chunks(items: Sequence[Parsed], limit: int = MAX_CHUNK) -> Iterator[list[Parsed]]:
    """Consecutive runs of events in which no record id or milestone id repeats."""
    current: list[Parsed] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        keys: set[tuple[str, str]] = {(item.rows.kind, item.rows.record["id"])}
        keys |= {(item.rows.kind + ":m", m["id"]) for m in item.rows.milestones}
        if current and (len(current) >= limit or keys & seen):
            yield current
            current, seen = [], set()
        current.append(item)
        seen |= keys
    if current:
        yield current


def per_plan(rowsets: Sequence[RowSet]) -> list[RowSet]:
    """One row set per plan, with the union of its definitions and the plan's folder (for
    enrichment scheduling), in plan-id order so concurrent appliers queue jobs in one order."""
    merged: dict[str, RowSet] = {}
    for rows in rowsets:
        pid = rows.plan["id"]
        if pid not in merged:
            merged[pid] = RowSet(rows.kind, [], dict(rows.plan), [], rows.record, [])
        target = merged[pid]
        known = {t["id"] for t in target.templates}
        target.templates.extend(t for t in rows.templates if t["id"] not in known)
        if not target.folder_ids and rows.folder_ids:
            target.folder_ids.extend(rows.folder_ids)
        if target.plan.get("folder_id") is None and rows.plan.get("folder_id") is not None:
            target.plan["folder_id"] = rows.plan["folder_id"]
    return [merged[pid] for pid in sorted(merged)]


async def _settle_unparsed(
    conn: AsyncConnection[Any], entries: list[tuple[Entry, str, str]], owner: str | None
) -> list[Outcome]:
    """Ignored and malformed bodies, settled together."""
    if not entries:
        return []
    async with conn.transaction():
        owned = await inbox.lock_owned(conn, [e.id for e, _, _ in entries], owner)
        mine = [(e, status, text) for e, status, text in entries if e.id in owned]
        await inbox.finish_many(
            conn,
            [
                {
                    "id": e.id,
                    "status": status,
                    "duration_ms": 0.0,
                    "reason": text if status == "ignored" else None,
                    "error": text if status == "dead" else None,
                    "body": e.payload,
                }
                for e, status, text in mine
            ],
        )
        await inbox.add_error_rows(
            conn,
            [
                {
                    "sync_log_id": e.id,
                    "severity": "error",
                    "message": text,
                    "attempt": e.attempts + 1,
                    "entity_id": e.payload.get("headerId") if isinstance(e.payload, dict) else None,
                }
                for e, status, text in mine
                if status == "dead"
            ],
        )
    return [
        Outcome(
            e.id,
            status if e.id in owned else "skipped",
            0.0,
            reason=text if status == "ignored" else None,
            error=text if status == "dead" else None,
        )
        for e, status, text in entries
    ]


async def _apply_chunk(
    conn: AsyncConnection[Any], chunk: list[Parsed], policy: Policy, owner: str | None
) -> list[Outcome]:
    started = time.perf_counter()
    try:
        async with conn.transaction():
            owned = await inbox.lock_owned(conn, [p.entry.id for p in chunk], owner)
            mine = [p for p in chunk if p.entry.id in owned]
            if policy.fault is not None:
                for p in mine:
                    policy.fault(p.event)
            result = await store.apply_many(conn, [p.rows for p in mine])
            if policy.after_apply is not None:
                for rows in per_plan([p.rows for p in mine]):
                    await policy.after_apply(conn, rows)
            # The chunk's time is shared out evenly: its statements ran for all at once.
            share = round((time.perf_counter() - started) * 1000 / max(len(mine), 1), 3)
            statuses = {
                p.entry.id: "applied" if result.changed_by(p.rows) else "stale" for p in mine
            }
            await inbox.add_error_rows(
                conn,
                [
                    {
                        "sync_log_id": p.entry.id,
                        "entity_id": w.entity_id,
                        "severity": "warning",
                        "message": w.message,
                        "attempt": p.entry.attempts + 1,
                    }
                    for p in mine
                    for w in p.rows.warnings
                ],
            )
            await inbox.finish_many(
                conn,
                [
                    {
                        "id": p.entry.id,
                        "status": statuses[p.entry.id],
                        "duration_ms": share,
                        "reason": None,
                        "error": None,
                        "body": p.entry.payload,
                    }
                    for p in mine
                ],
            )
    except Exception:  # noqa: BLE001 - fall back to one by one, where each failure is recorded
        return [
            await apply_entry(
                conn,
                p.entry.id,
                p.entry.payload,
                p.entry.digest,
                policy,
                attempts_before=p.entry.attempts,
                owner=owner,
            )
            for p in chunk
        ]
    return [
        Outcome(
            p.entry.id,
            statuses[p.entry.id] if p.entry.id in owned else "skipped",
            share,
            event_type=p.event.event_type,
            style_number=p.event.header_number,
            warnings=[w.message for w in p.rows.warnings],
        )
        for p in chunk
    ]


async def apply_batch(
    conn: AsyncConnection[Any],
    entries: Sequence[Entry],
    policy: Policy,
    *,
    owner: str | None = None,
) -> list[Outcome]:
    """Apply stored events and settle their inbox rows; outcomes in the order given.

    `conn` must be autocommit. `owner` is the worker holding the rows' lease (None for an
    unleased apply); rows no longer ours are left alone and reported as "skipped".
    """
    unparsed: list[tuple[Entry, str, str]] = []
    parsed: list[Parsed] = []
    fallback: list[Entry] = []
    for e in entries:
        # Parsing and mapping are CPU work; in `serve` the receiver shares this event loop, so
        # let it answer webhooks between events rather than after the whole batch.
        await asyncio.sleep(0)
        try:
            event = parse_event(e.payload)
        except NotATrackingEvent as exc:
            unparsed.append((e, "ignored", str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - MalformedEvent, or whatever else a body raises
            unparsed.append((e, "dead", malformed_message(exc)))
            continue
        try:
            parsed.append(Parsed(e, event, map_event(event, e.digest, policy.zone)))
        except Exception:  # noqa: BLE001 - apply_entry records the reason
            fallback.append(e)
    outcomes = await _settle_unparsed(conn, unparsed, owner)
    for chunk in chunks(parsed):
        outcomes.extend(await _apply_chunk(conn, chunk, policy, owner))
    for e in fallback:
        outcomes.append(
            await apply_entry(
                conn, e.id, e.payload, e.digest, policy, attempts_before=e.attempts, owner=owner
            )
        )
    order = {e.id: i for i, e in enumerate(entries)}
    return sorted(outcomes, key=lambda o: order[o.log_id])
