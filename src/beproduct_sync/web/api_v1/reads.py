"""Named read queries (sql/api_*.sql) run on a request's connection."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row, scalar_row

from beproduct_sync.sql import query
from beproduct_sync.web.api_v1.errors import NotFound


async def rows(conn: AsyncConnection[Any], name: str, **params: Any) -> list[dict[str, Any]]:
    """All rows of `sql/<name>.sql`, as dicts."""
    cur = conn.cursor(row_factory=dict_row)
    return await (await cur.execute(query(name), params)).fetchall()


async def value(conn: AsyncConnection[Any], name: str, **params: Any) -> Any:
    """The single value of `sql/<name>.sql` (None without a row)."""
    cur = conn.cursor(row_factory=scalar_row)
    return await (await cur.execute(query(name), params)).fetchone()


async def require_plan(conn: AsyncConnection[Any], plan: Any) -> None:
    """NotFound unless the plan is known."""
    if not await value(conn, "api_plan_exists", plan=plan):
        raise NotFound("plan")
