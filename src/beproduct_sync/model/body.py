"""Webhook bodies as bytes and JSON: decoding, the canonical form, its digest, making a body
storable in jsonb, and what the inbox row records about it. Pure; no I/O.

One canonical form (sorted keys, orjson) serves everything that must not depend on a
particular delivery's whitespace or key order: duplicate detection and version tie-breaks.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, TypedDict

import orjson

from beproduct_sync.model.times import parse_time

NUL = "\x00"
REPLACEMENT = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER
# Postgres accepts UTC offsets up to ±15:59 only; parse_time reads any two-digit hour.
_OFFSET_HOURS = re.compile(r"[+-](\d{2}):?\d{2}\s*$")

_SURROGATE = re.compile("[\ud800-\udfff]")


# orjson reads JSON nested up to 1024 levels but writes at most 254, and every stored body is
# written again (its canonical form is the dedupe key): a deeper body cannot be stored.
MAX_DEPTH = 254


class TooDeep(ValueError):
    """The JSON nests deeper than MAX_DEPTH levels."""

    def __init__(self) -> None:
        super().__init__(f"the JSON nests deeper than {MAX_DEPTH} levels")


def decode(raw: bytes) -> tuple[Any, bool]:
    """Decode a JSON body; returns it and whether it had to be altered to be storable.

    A body nested deeper than MAX_DEPTH raises TooDeep (a ValueError): it could not be stored.

    A string escape of a lone UTF-16 surrogate (e.g. "\\ud800", written by some encoders for
    broken text) is valid JSON syntax but not a character: strict decoders refuse it and UTF-8
    cannot carry it. Such a body is read anyway with each lone surrogate replaced by U+FFFD,
    rather than refused and lost; the caller keeps the original bytes (the inbox keeps
    them: see inbox.log.record). Anything else that is not JSON raises ValueError.
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
    else:
        # Only a body with that many brackets can be that deep: the rest skip the check.
        if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
            _writable(body)
        return body, False
    try:
        body = _replace_surrogates(
            json.loads(raw, parse_constant=_no_constants, parse_float=_finite)
        )
    except RecursionError:
        raise TooDeep() from None
    _writable(body)  # what orjson cannot write (e.g. integers past 64 bits) is not stored
    return body, True


def _writable(body: Any) -> None:
    """ValueError (TooDeep for depth) when orjson cannot write `body` back."""
    try:
        canonical(body)
    except orjson.JSONEncodeError as exc:
        if "recursion" in str(exc).lower():
            raise TooDeep() from None
        raise ValueError(f"not storable JSON: {exc}") from None
    except (RecursionError, TypeError) as exc:
        raise ValueError(f"not storable JSON: {type(exc).__name__}") from None


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


def digest(canonical_body: bytes) -> bytes:
    """SHA-256 of the canonical body: the dedupe key and the version tie-break."""
    return hashlib.sha256(canonical_body).digest()


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
    model.times.parse_time rejects, an empty string, a non-string (number, object, list, boolean)
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


class Meta(TypedDict):
    """What the inbox row records beside the payload, for queries and logs."""

    action: str | None
    entity_id: str | None
    style_number: str | None
    source_at: datetime | None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def meta(body: Any) -> Meta:
    """The event type, style id and number, and source time of a body, where readable."""
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
