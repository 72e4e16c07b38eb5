"""The durable inbox (`ops.beproduct_sync_log`): record bodies, settle outcomes, back off."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from beproduct_sync.apply.writer import query
from beproduct_sync.model.from_webhook import body_digest
from beproduct_sync.model.webhook import parse_time

STATUSES = ("pending", "processing", "applied", "ignored", "stale", "failed", "dead")

NUL = "\x00"
REPLACEMENT = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER
# Postgres accepts UTC offsets up to ±15:59 only; parse_time reads any two-digit hour.
_OFFSET_HOURS = re.compile(r"[+-](\d{2}):?\d{2}\s*$")


_SURROGATE = re.compile("[\ud800-\udfff]")


def decode(raw: bytes) -> tuple[Any, bool]:
    """Decode a JSON body; returns it and whether it had to be altered to be storable.

    A string escape of a lone UTF-16 surrogate (e.g. "\\ud800", written by some encoders for
    broken text) is valid JSON syntax but not a character: strict decoders refuse it and UTF-8
    cannot carry it. Such a body is read anyway with each lone surrogate replaced by U+FFFD,
    rather than refused and lost; the caller keeps the original bytes (inbox.record's
    `altered`). Anything else that is not JSON raises ValueError.
    """
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
    try:
        body = _replace_surrogates(
            json.loads(raw, parse_constant=_no_constants, parse_float=_finite)
        )
        canonical(body)  # what orjson cannot write (e.g. integers past 64 bits) is not stored
    except (RecursionError, TypeError, orjson.JSONEncodeError) as exc:
        raise ValueError(f"not storable JSON: {type(exc).__name__}") from None
    return body, True


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text}")
    return value


def _replace_surrogates(body: Any) -> Any:
    if isinstance(body, str):
        return _SURROGATE.sub(REPLACEMENT, body)
    if isinstance(body, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_replace_surrogates(v) for v in body]
    return body


def canonical(body: Any) -> bytes:
    """The body re-serialised with sorted keys: equal JSON gives equal bytes, whatever the
    whitespace or key order of a particular delivery."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Received:
    """The inbox row a delivery landed in. `payload` is the body as stored (see `sanitise`):
    apply that, not the body as received."""

    id: int
    duplicate: bool
    status: str
    payload: Any = None


def sanitise(body: Any) -> tuple[Any, bool]:
    """The body with every NUL character in every string (object keys too) replaced by U+FFFD,
    and whether anything was replaced.

    Postgres jsonb (like text) cannot hold NUL: a body with "\\u0000" anywhere would be refused
    (UntranslatableCharacter) and the event lost, however often BeProduct retried. Replacing it
    keeps the event; the exact original goes to raw_body. An unchanged body is returned as is.
    """
    if isinstance(body, str):
        return (body.replace(NUL, REPLACEMENT), True) if NUL in body else (body, False)
    if isinstance(body, dict):
        changed = False
        out: dict[Any, Any] = {}
        for key, value in body.items():
            new_key, key_changed = sanitise(key)
            new_value, value_changed = sanitise(value)
            changed = changed or key_changed or value_changed
            out[new_key] = new_value
        return (out, True) if changed else (body, False)
    if isinstance(body, list):
        items = [sanitise(v) for v in body]
        if any(c for _, c in items):
            return [v for v, _ in items], True
        return body, False
    return body, False


def date_readable(body: Any) -> bool:
    """Whether Postgres can cast this stored body's `payload->>'date'` to timestamptz.

    The contract's runbook query averages `processed_at - (payload->>'date')::timestamptz` over
    the events processed in the last 24 hours; one row there whose date does not cast makes it
    fail for everyone. So an event whose `date` is present but unreadable is settled (status,
    reason or last_error, attempts) with processed_at left NULL, which keeps it out of that
    query. Decided here, in Python, by the parser the apply uses: a date that
    events.parse_time rejects, an empty string, a non-string (number, object, list, boolean)
    or a UTC offset beyond Postgres's ±15:59 is unreadable. A missing or null date is readable:
    NULL casts to NULL. A non-object body has no date (->> gives NULL).
    """
    if not isinstance(body, dict):
        return True
    value = body.get("date")
    if value is None:
        return True
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        if parse_time(value) is None:
            return False
    except (ValueError, OverflowError):
        return False
    offset = _OFFSET_HOURS.search(value)
    return offset is None or int(offset.group(1)) < 16


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _meta(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {"action": None, "entity_id": None, "style_number": None, "source_at": None}
    try:
        time = parse_time(body.get("date"))
        at = time.datetime if time else None
    except ValueError:  # unreadable or out of range: the event still gets stored
        at = None
    return {
        "action": _text(body.get("eventType")),
        "entity_id": _text(body.get("headerId")),
        "style_number": _text(body.get("headerNumber")),
        "source_at": at,
    }


async def record(
    conn: AsyncConnection[Any],
    body: Any,
    digest: bytes | None = None,
    raw: bytes | None = None,
    *,
    altered: bool = False,
) -> Received:
    """Store a decoded body (pending) unless already stored; the caller commits.

    `digest` (the dedupe key) is the hash of the original body's canonical form, so a
    redelivery is recognised whatever had to be replaced to store it. NUL characters are
    replaced (see `sanitise`); when that changed anything, or the caller says decoding `altered`
    the body (see `decode`), the original is kept in raw_body: `raw`, the bytes as received,
    when the caller has them, else the canonical form.
    """
    original = canonical(body) if digest is None or raw is None else None
    if digest is None:
        assert original is not None
        digest = body_digest(original)
    # JSON text can carry NUL only as the escape \u0000 (orjson writes it so too): skip the
    # walk for the bodies that cannot contain one, which is nearly all of them.
    probe = raw if raw is not None else original
    stored, changed = sanitise(body) if probe is None or b"\\u0000" in probe else (body, False)
    raw_body = (raw if raw is not None else original) if changed or altered else None
    params = {"sha": digest, "payload": Jsonb(stored), "raw_body": raw_body, **_meta(stored)}
    cur = await conn.execute(query("log_insert"), params)
    row = await cur.fetchone()
    assert row is not None
    return Received(id=row[0], duplicate=not row[1], status=row[2], payload=stored)


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempt` (1-based): exponential with full jitter.

    Full jitter (uniform in [base, min(cap, base * 2**(attempt-1))]) spreads a burst of failures
    so retries do not arrive in lock-step.
    """
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(min(base, ceiling), ceiling)


async def finish(
    conn: AsyncConnection[Any],
    log_id: int,
    status: str,
    *,
    duration_ms: float,
    reason: str | None = None,
    error: str | None = None,
    body: Any = None,
) -> None:
    """Settle an event as applied, stale, ignored or dead (in the caller's transaction).

    `body` is the stored payload: processed_at is set only when its date is readable (see
    `date_readable`); without it processed_at is set.
    """
    await finish_many(
        conn,
        [
            {
                "id": log_id,
                "status": status,
                "duration_ms": duration_ms,
                "reason": reason,
                "error": error,
                "body": body,
            }
        ],
    )


async def fail(
    conn: AsyncConnection[Any],
    log_id: int,
    error: str,
    *,
    duration_ms: float,
    max_attempts: int,
    delay_seconds: float,
    body: Any = None,
) -> tuple[str, int]:
    """Record a failed attempt; returns the new status ('failed' or 'dead') and attempt count.
    `body` as for `finish`."""
    cur = await conn.execute(
        query("log_fail"),
        {
            "id": log_id,
            "error": error,
            "duration_ms": duration_ms,
            "max_attempts": max_attempts,
            "delay_seconds": delay_seconds,
            "stamp": date_readable(body),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


async def add_errors(
    conn: AsyncConnection[Any],
    log_id: int | None,
    items: list[tuple[str | None, str]],
    *,
    severity: str = "error",
    attempt: int | None = None,
) -> None:
    """Insert (entity_id, message) pairs of one event into ops.import_errors."""
    await add_error_rows(
        conn,
        [
            {
                "sync_log_id": log_id,
                "entity_id": e,
                "severity": severity,
                "message": m,
                "attempt": attempt,
            }
            for e, m in items
        ],
    )


async def finish_many(conn: AsyncConnection[Any], rows: list[dict[str, Any]]) -> None:
    """Settle many events: rows of {id, status, duration_ms, reason, error, body}, where the
    optional `body` (the stored payload) decides processed_at as for `finish`; it is not
    sent to the database."""
    if rows:
        settled = [
            {**{k: v for k, v in r.items() if k != "body"}, "stamp": date_readable(r.get("body"))}
            for r in rows
        ]
        await conn.execute(query("log_finish_many"), {"rows": Jsonb(settled)})


async def add_error_rows(conn: AsyncConnection[Any], rows: list[dict[str, Any]]) -> None:
    """Insert import errors: rows of {sync_log_id, entity_id, severity, message, attempt}."""
    if rows:
        await conn.execute(query("import_error_insert_many"), {"rows": Jsonb(rows)})


async def lock_owned(conn: AsyncConnection[Any], ids: list[int], owner: str | None) -> set[int]:
    """Lock `ids` for this transaction and return those still ours to settle."""
    cur = await conn.execute(query("log_lock_owned"), {"ids": ids, "owner": owner})
    return {int(r[0]) for r in await cur.fetchall()}
