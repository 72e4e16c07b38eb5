"""Tolerant conversions of values BeProduct sends in more than one shape. Pure; no I/O.

The sender's JSON is not documented in full and optional fields arrive as null, "", numbers
or strings. These helpers turn what can be read into the expected type and anything else into
None, so an odd optional value never fails a sync (the original stays in raw_payload).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import UUID

# Ids repeat across events (plans, definitions, styles and their milestones), and turning text
# into a UUID and back costs more than the rest of reading a milestone: both are remembered,
# within bounds (UUIDs are immutable, so a remembered one is as good as a new one).
_REMEMBERED = 8192  # of each: a few megabytes at most


@lru_cache(maxsize=_REMEMBERED)
def _parsed(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


@lru_cache(maxsize=_REMEMBERED)
def uuid_str(value: UUID) -> str:
    """The canonical text of a UUID (str(value), remembered)."""
    return str(value)


def as_uuid(value: Any) -> UUID | None:
    """A UUID, or None when `value` is not one."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        return _parsed(value)
    return None


def uuid_text(value: Any) -> str | None:
    """A canonical UUID string, or None when `value` is not one."""
    if isinstance(value, str):
        return _uuid_text(value)
    found = as_uuid(value)
    return str(found) if found is not None else None


@lru_cache(maxsize=4096)  # the same few users are named on every milestone of a backfill
def _uuid_text(value: str) -> str | None:
    found = as_uuid(value)
    return uuid_str(found) if found is not None else None


def flag(value: Any) -> bool | None:
    """A boolean, tolerating "true"/"false" strings and 0/1; None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int | float):
        return bool(value)
    return None


def int32(value: Any) -> int | None:
    """An integer that fits Postgres `integer`, from ints, whole floats or digit strings."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else None
    if isinstance(value, float) and value.is_integer():
        return int32(int(value))
    if isinstance(value, str):
        try:
            return int32(int(value.strip()))
        except ValueError:
            return None
    return None


def text(value: Any) -> str | None:
    """A string; numbers and booleans are written out, anything else is None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    return None


def pick(obj: Any, *names: str) -> Any:
    """The first of `names` present (and not None) in a dict; None otherwise."""
    if not isinstance(obj, dict):
        return None
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    return None


def name_of(value: Any) -> str | None:
    """A non-blank label: a string (stripped), a number written out, or the `name` of an object
    such as `{"name": "Tech Pack"}`; None for anything else. (Unlike `text`, which keeps a
    string exactly as sent, blanks included.)"""
    if isinstance(value, dict):
        value = pick(value, "name", "Name", "title", "value")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip() or None
    return None
