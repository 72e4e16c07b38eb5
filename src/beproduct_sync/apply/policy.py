"""Apply one stored event: parse, map, write, settle its inbox row. The service layer.

Each event is applied in its own transaction together with its inbox status, so the ops tables
and `ops.beproduct_sync_log` never disagree, and a failure leaves none of the event's rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection

from beproduct_sync.apply import writer as store
from beproduct_sync.errors import MalformedEvent, NotATrackingEvent
from beproduct_sync.inbox import log as inbox
from beproduct_sync.model.from_webhook import RowSet, map_event
from beproduct_sync.model.webhook import TrackingEvent, parse_event

log = structlog.get_logger("beproduct_sync.engine")

Fault = Callable[[TrackingEvent], None]
EnrichHook = Callable[[AsyncConnection[Any], RowSet], Any]


@dataclass(frozen=True)
class Policy:
    """How events are applied and retried."""

    zone: tzinfo
    max_attempts: int = 8
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 3600.0
    # Test and chaos hook: raise inside the apply transaction to force a failure.
    fault: Fault | None = None
    # Called inside the apply transaction after the rows are written; schedules enrichment.
    after_apply: EnrichHook | None = None


@dataclass(frozen=True)
class Outcome:
    """How one apply attempt ended."""

    log_id: int
    status: str  # applied | stale | ignored | failed | dead
    duration_ms: float
    event_type: str | None = None
    style_number: str | None = None
    reason: str | None = None
    error: str | None = None
    attempts: int = 1
    warnings: list[str] = field(default_factory=list)


def describe_error(exc: BaseException) -> str:
    """A readable one-line reason for ops.import_errors: no SQL text, no stack trace."""
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        state = diag.sqlstate or "unknown"
        primary = diag.message_primary or type(exc).__name__
        detail = f" ({diag.message_detail})" if diag.message_detail else ""
        return f"database error {state}: {primary}{detail}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def malformed_message(exc: BaseException) -> str:
    """The reason recorded for a body the parser refused."""
    detail = str(exc) if isinstance(exc, MalformedEvent) else describe_error(exc)
    return f"malformed event: {detail}"


def _of(event: TrackingEvent, log_id: int, status: str, ms: float, **more: Any) -> Outcome:
    return Outcome(
        log_id, status, ms, event_type=event.event_type, style_number=event.header_number, **more
    )


class NotOwned(Exception):
    """The inbox row is no longer this applier's (another worker took it over, or settled it)."""


async def apply_entry(
    conn: AsyncConnection[Any],
    log_id: int,
    payload: Any,
    digest: bytes,
    policy: Policy,
    *,
    attempts_before: int = 0,
    owner: str | None = None,
) -> Outcome:
    """Apply the stored event `log_id` and settle its inbox row. `conn` must be autocommit.

    `payload` is the body as stored; it also decides whether the settle sets processed_at
    (not when its date is unreadable: see inbox.date_readable).

    `owner` is the worker holding the row's lease (None for an unleased apply such as ingest);
    the row is locked first and left alone if it is no longer ours (status "skipped").
    """
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    try:
        event = parse_event(payload)
    except NotATrackingEvent as exc:
        async with conn.transaction():
            if not await inbox.lock_owned(conn, [log_id], owner):
                return Outcome(log_id, "skipped", elapsed())
            await inbox.finish(
                conn, log_id, "ignored", duration_ms=elapsed(), reason=str(exc), body=payload
            )
        return Outcome(log_id, "ignored", elapsed(), reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - MalformedEvent, or whatever else a body raises
        # Retrying cannot fix a malformed body: dead-letter it at once, with the reason.
        message = malformed_message(exc)
        entity = payload.get("headerId") if isinstance(payload, dict) else None
        async with conn.transaction():
            if not await inbox.lock_owned(conn, [log_id], owner):
                return Outcome(log_id, "skipped", elapsed())
            await inbox.finish(
                conn, log_id, "dead", duration_ms=elapsed(), error=message, body=payload
            )
            await inbox.add_errors(conn, log_id, [(entity, message)], attempt=attempts_before + 1)
        return Outcome(log_id, "dead", elapsed(), error=message)

    try:
        rows = map_event(event, digest, policy.zone)
        async with conn.transaction():
            if not await inbox.lock_owned(conn, [log_id], owner):
                raise NotOwned()
            if policy.fault is not None:
                policy.fault(event)
            result = await store.apply_rows(conn, rows)
            if policy.after_apply is not None:
                await policy.after_apply(conn, rows)
            status = "applied" if result.changed else "stale"
            if rows.warnings:
                await inbox.add_errors(
                    conn,
                    log_id,
                    [(w.entity_id, w.message) for w in rows.warnings],
                    severity="warning",
                    attempt=attempts_before + 1,
                )
            await inbox.finish(conn, log_id, status, duration_ms=elapsed(), body=payload)
        return _of(event, log_id, status, elapsed(), warnings=[w.message for w in rows.warnings])
    except NotOwned:
        return _of(event, log_id, "skipped", elapsed())
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none escapes unlogged
        return await _record_failure(
            conn, log_id, event, exc, policy, attempts_before, owner, elapsed, payload
        )


async def _record_failure(
    conn: AsyncConnection[Any],
    log_id: int,
    event: TrackingEvent,
    exc: BaseException,
    policy: Policy,
    attempts_before: int,
    owner: str | None,
    elapsed: Callable[[], float],
    payload: Any = None,
) -> Outcome:
    message = describe_error(exc)
    attempt = attempts_before + 1
    delay = inbox.retry_delay(attempt, policy.retry_base_seconds, policy.retry_max_seconds)
    async with conn.transaction():
        if not await inbox.lock_owned(conn, [log_id], owner):
            return _of(event, log_id, "skipped", elapsed())
        new_status, attempts = await inbox.fail(
            conn,
            log_id,
            message,
            duration_ms=elapsed(),
            max_attempts=policy.max_attempts,
            delay_seconds=delay,
            body=payload,
        )
        await inbox.add_errors(
            conn,
            log_id,
            [(str(event.header_id or event.record_id), message)],
            attempt=attempt,
        )
    log.warning(
        "event_failed",
        log_id=log_id,
        status=new_status,
        attempts=attempts,
        error=message,
        event_type=event.event_type,
        style_number=event.header_number,
    )
    return _of(event, log_id, new_status, elapsed(), error=message, attempts=attempts)
