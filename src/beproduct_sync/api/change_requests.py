"""Recording, listing and replaying reverse-sync change requests (the ways in share these).

Every way in — SQL and Supabase's REST API, `beproduct-sync change`, the HTTP API — records a
request through the one SQL function `ops_api.request_timeline_change`, which validates the
input and is idempotent on the client's key; the sender (api.outbox) does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from beproduct_sync.errors import ChangeRequestError, IdempotencyKeyReused, UnknownMilestone
from beproduct_sync.sql import query

CHANGE_FIELDS = (
    "status",
    "rev_date",
    "final_date",
    "assignees_add",
    "assignees_remove",
    "share_add",
    "share_remove",
)
RETRYABLE = ("conflict", "rejected", "dead")


async def request_change(
    conn: AsyncConnection[Any],
    milestone_id: str,
    idempotency_key: str,
    change: dict[str, Any],
    *,
    base: dict[str, Any] | None = None,
    force: bool = False,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Record one change request (or find the one recorded under the same key): the stored
    row with `created`. Raises ChangeRequestError (invalid input), UnknownMilestone or
    IdempotencyKeyReused, each with the database's message for people."""
    params = {
        "milestone_id": milestone_id,
        "key": idempotency_key,
        "change": orjson.dumps(change).decode(),
        "base": None if base is None else orjson.dumps(base).decode(),
        "force": force,
        "by": requested_by,
    }
    try:
        async with conn.transaction():
            cur = await conn.execute(query("outbox_request"), params)
            row = await cur.fetchone()
    except psycopg.errors.InvalidParameterValue as exc:
        raise ChangeRequestError(_message(exc)) from None
    except psycopg.errors.NoDataFound as exc:
        raise UnknownMilestone(_message(exc)) from None
    except psycopg.errors.UniqueViolation as exc:
        raise IdempotencyKeyReused(_message(exc)) from None
    except psycopg.errors.InvalidTextRepresentation:
        raise ChangeRequestError(f"milestone id {milestone_id!r} is not a UUID") from None
    assert row is not None
    found: dict[str, Any] = row[0]
    return found


async def list_requests(
    conn: AsyncConnection[Any],
    states: Sequence[str] = (),
    ids: Sequence[int] = (),
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Change requests, newest first."""
    cur = conn.cursor(row_factory=dict_row)
    params = {"states": list(states), "ids": list(ids), "limit": limit}
    return await (await cur.execute(query("outbox_list"), params)).fetchall()


async def retry(conn: AsyncConnection[Any], ids: Sequence[int], force: bool = False) -> list[int]:
    """Send conflicted, rejected or dead requests again; the ids that were reset."""
    cur = await conn.execute(query("outbox_retry"), {"ids": list(ids), "force": force})
    return [int(r[0]) for r in await cur.fetchall()]


def _message(exc: psycopg.Error) -> str:
    """The function's own message (it is written for people; never SQL or internals)."""
    diag = exc.diag.message_primary
    return diag or "the change request is invalid"
