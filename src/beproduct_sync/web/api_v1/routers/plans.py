"""Plans: the list (search, paging) and one plan's details."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from psycopg.rows import dict_row
from pydantic import BaseModel

from beproduct_sync.sql import query
from beproduct_sync.web.api_v1.deps import Connection, Reader
from beproduct_sync.web.api_v1.pages import Page, PageNumber, PageSize, page_of

router = APIRouter(prefix="/tracking", tags=["plans"])


class PlanSummary(BaseModel):
    """A plan as listed."""

    id: uuid.UUID
    name: str | None
    description: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    active: bool
    folder_id: uuid.UUID | None
    folder_name: str | None
    styles: int
    materials: int


@router.get("/plans", summary="List plans")
async def list_plans(
    _: Reader,
    conn: Connection,
    q: Annotated[str | None, Query(max_length=200, description="Name contains.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) plans.")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[PlanSummary]:
    """Plans, newest start first, with their style and material counts."""
    cur = conn.cursor(row_factory=dict_row)
    params: dict[str, Any] = {
        "q": q or None,
        "active": active,
        "limit": page_size,
        "offset": (page - 1) * page_size,
    }
    rows = await (await cur.execute(query("api_plans"), params)).fetchall()
    total = int(rows[0]["total"]) if rows else 0
    if not rows and page > 1:
        total = await _count_plans(conn, params)
    return page_of([PlanSummary.model_validate(r) for r in rows], page, page_size, total)


async def _count_plans(conn: Any, params: dict[str, Any]) -> int:
    """The total when the page asked for lies past the end (the window count had no row)."""
    counted = {**params, "limit": 1, "offset": 0}
    cur = conn.cursor(row_factory=dict_row)
    rows = await (await cur.execute(query("api_plans"), counted)).fetchall()
    return int(rows[0]["total"]) if rows else 0
