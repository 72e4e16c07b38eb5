"""Store what the API says about the catalog: plan details with their milestone definitions,
and tracking folders. One place for both writers (the enricher and backfill)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from beproduct_sync.model.from_rest_catalog import folder_rows, plan_rows
from beproduct_sync.sql import query


async def store_plan(
    conn: AsyncConnection[Any], payload: Any, plan_id: str, zone: tzinfo, at: datetime
) -> str | None:
    """Upsert a Tracking/Plan/{id} response (the caller owns the transaction); returns the
    plan's folder id. `at` is when the fetch started: the details are as fresh as that."""
    found = plan_rows(payload, plan_id, zone)
    plan = {**found.plan, "raw_payload": Jsonb(found.plan["raw_payload"]), "enriched_at": at}
    async with conn.pipeline():
        await conn.execute(query("enrich_plan_folder"), {"folder_id": plan["folder_id"]})
        await conn.execute(query("enrich_plan"), plan)
        if found.templates:
            await conn.execute(
                query("enrich_templates"), {"rows": Jsonb(found.templates), "enriched_at": at}
            )
            ids = [t["id"] for t in found.templates]
            await conn.execute(query("apply_schedule_rules"), {"ids": ids})
    return found.plan["folder_id"]


async def store_folders(conn: AsyncConnection[Any], payload: Any, at: datetime) -> None:
    """Upsert a Tracking/Folders response (the caller owns the transaction)."""
    await conn.execute(
        query("enrich_folders"), {"rows": Jsonb(folder_rows(payload)), "enriched_at": at}
    )


async def store_plan_missing(conn: AsyncConnection[Any], plan_id: str, at: datetime) -> None:
    """The API does not know the plan: note the lookup so events do not ask again before the
    TTL runs out; its stored details stay as they are."""
    await conn.execute(query("enrich_plan_missing"), {"id": plan_id, "enriched_at": at})
