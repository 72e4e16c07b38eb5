"""Historical backfill: folders → plans → style and material timelines, from the BeProduct API.

API rows go through the same versioned upserts as webhooks (model.from_rest, then
apply.writer.apply_many), so a backfill never overwrites newer webhook data and webhooks arriving
meanwhile are never undone.
Each page is written in one transaction together with its checkpoint: rerunning an interrupted
backfill with the same options continues at the next unwritten page. A finished run's rerun is a
new pass (and, when nothing changed in BeProduct, writes nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Protocol

import orjson
import structlog
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from beproduct_sync import db
from beproduct_sync.api.catalog import store_folders, store_plan
from beproduct_sync.apply.writer import apply_api_rows
from beproduct_sync.model.from_rest import map_api_row, row_version
from beproduct_sync.model.rows import KINDS, Kind, master_folder
from beproduct_sync.model.times import SourceTime, parse_time
from beproduct_sync.sql import kind_query, query

log = structlog.get_logger("beproduct_sync.backfill")


class Api(Protocol):
    """The part of api.client.BeProductClient backfill uses."""

    async def folders(self) -> list[dict[str, Any]]: ...
    def plans(
        self, folder_id: str | None = None, filters: list[dict[str, Any]] | None = None
    ) -> Any: ...
    async def plan(self, plan_id: str) -> dict[str, Any]: ...
    async def request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any: ...


@dataclass(frozen=True)
class Options:
    """What to backfill."""

    folders: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    since: str | None = None  # ISO timestamp: only rows with ModifiedAt >= since
    page_size: int = 20
    restart: bool = False

    @property
    def run_key(self) -> str:
        """Runs with the same options share checkpoints."""
        raw = orjson.dumps([sorted(self.folders), sorted(self.plans), self.since, self.page_size])
        return hashlib.sha256(raw).hexdigest()[:16]

    @property
    def filters(self) -> list[dict[str, Any]]:
        """API filters for the timeline pages."""
        if self.since is None:
            return []
        return [{"field": "ModifiedAt", "operator": "Gte", "value": self.since}]


@dataclass
class Progress:
    """Counters shared by the plan tasks (one event loop: no locks needed)."""

    plans_total: int = 0
    plans_done: int = 0
    rows: int = 0
    milestones: int = 0
    pages: int = 0
    records_changed: int = 0
    milestones_changed: int = 0
    resumed_pages: int = 0
    started: float = field(default_factory=time.perf_counter)
    on_change: Callable[[Progress], None] | None = None

    def tick(self) -> None:
        """Tell the display (if any) that counters moved."""
        if self.on_change is not None:
            self.on_change(self)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready result of a run."""
        seconds = time.perf_counter() - self.started
        return {
            "plans": self.plans_done,
            "rows": self.rows,
            "milestones": self.milestones,
            "pages": self.pages,
            "rows_changed": self.records_changed,
            "milestones_changed": self.milestones_changed,
            "resumed_pages": self.resumed_pages,
            "seconds": round(seconds, 3),
            "rows_per_s": round(self.rows / seconds, 1) if seconds else None,
            "milestones_per_s": round(self.milestones / seconds, 1) if seconds else None,
        }


async def _changed(
    conn: AsyncConnection[Any], kind: Kind, items: list[dict[str, Any]], snapshot: SourceTime
) -> list[dict[str, Any]]:
    """The rows of a page not already written from this exact content (a rerun skips the rest:
    mapping and upserting 25 milestones per row is the expensive part)."""
    if not items:
        return []
    versions = {str(r["id"]): row_version(r, snapshot)[0] for r in items}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(kind_query("backfill_versions", kind), {"ids": list(versions)})
    stored = {r["id"]: r["version"] for r in await cur.fetchall()}
    return [r for r in items if stored.get(str(r["id"])) != versions[str(r["id"])]]


async def _plan_ids(api: Api, opts: Options, folders: list[dict[str, Any]]) -> list[str]:
    if opts.plans:
        return list(dict.fromkeys(opts.plans))
    wanted = set(opts.folders)
    ids: list[str] = []
    for f in folders:
        fid = str(f.get("id"))
        if wanted and fid not in wanted:
            continue
        async for plan in api.plans(fid):
            if plan.get("id"):
                ids.append(str(plan["id"]))
    return list(dict.fromkeys(ids))


async def _backfill_plan(
    pool: AsyncConnectionPool[Any],
    api: Api,
    opts: Options,
    plan_id: str,
    checkpoints: dict[tuple[str, str], tuple[int, bool]],
    zone: tzinfo,
    snapshot: SourceTime,
    progress: Progress,
) -> None:
    run_key = opts.run_key
    detail = await api.plan(plan_id)
    async with pool.connection() as conn, conn.transaction():
        folder_id = await store_plan(conn, detail, plan_id, zone, snapshot.datetime)
    for kind in KINDS:
        segment = master_folder(kind)
        page, done = checkpoints.get((plan_id, kind), (0, False))
        if done:
            continue
        progress.resumed_pages += page
        while True:
            raw = (
                await api.request(
                    "POST",
                    f"Tracking/Plan/{plan_id}/{segment}/Timeline",
                    f"Tracking/Plan/{{id}}/{segment}/Timeline",
                    params={"pageSize": opts.page_size, "pageNumber": page},
                    json={"filters": opts.filters},
                )
                or {}
            )
            items = [r for r in raw.get("result") or [] if isinstance(r, dict) and r.get("id")]
            total = int(raw.get("total") or 0)
            last = not items or (page + 1) * opts.page_size >= total
            async with pool.connection() as conn, conn.transaction():
                fresh = await _changed(conn, kind, items, snapshot)
                rowsets = [
                    map_api_row(
                        r,
                        plan_id=plan_id,
                        folder_id=folder_id,
                        kind=kind,
                        zone=zone,
                        fallback=snapshot,
                    )
                    for r in fresh
                ]
                result = await apply_api_rows(conn, rowsets, "backfill") if rowsets else None
                await conn.execute(
                    query("backfill_checkpoint_save"),
                    {
                        "run_key": run_key,
                        "plan_id": plan_id,
                        "kind": kind,
                        "next_page": page + 1,
                        "total": total,
                        "rows": len(items),
                        "done": last,
                    },
                )
            progress.pages += 1
            progress.rows += len(items)
            progress.milestones += sum(len(r.get("timelines") or []) for r in items)
            if result is not None:
                progress.records_changed += result.records_changed
                progress.milestones_changed += result.milestones_changed
            progress.tick()
            if last:
                break
            page += 1
    progress.plans_done += 1
    progress.tick()
    log.info("backfill_plan_done", plan_id=plan_id, rows=progress.rows)


async def run(
    url: str,
    api: Api,
    opts: Options,
    zone: tzinfo,
    *,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Backfill what `opts` selects; returns the summary. Resumes an unfinished run."""
    progress = progress or Progress()
    run_key = opts.run_key
    async with AsyncConnectionPool(
        url,
        min_size=1,
        max_size=concurrency + 1,
        open=False,
        connection_class=db.AsyncConnection,
        kwargs=db.pool_kwargs(),
    ) as pool:
        async with pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query("backfill_run_get"), {"run_key": run_key})
            existing = await cur.fetchone()
            resuming = existing is not None and existing["finished_at"] is None and not opts.restart
            if existing is not None and resuming:
                snapshot_at = existing["snapshot_at"]
            else:
                await cur.execute(
                    query("backfill_run_start"),
                    {
                        "run_key": run_key,
                        "options": Jsonb(
                            {
                                "folders": list(opts.folders),
                                "plans": list(opts.plans),
                                "since": opts.since,
                                "page_size": opts.page_size,
                            }
                        ),
                    },
                )
                row = await cur.fetchone()
                assert row is not None
                snapshot_at = row["snapshot_at"]
            await cur.execute(query("backfill_checkpoints"), {"run_key": run_key})
            checkpoints = {
                (r["plan_id"], r["kind"]): (r["next_page"], r["done"]) for r in await cur.fetchall()
            }
        snapshot = parse_time(snapshot_at.isoformat())
        assert snapshot is not None
        folders = await api.folders()
        async with pool.connection() as conn, conn.transaction():
            await store_folders(conn, folders, snapshot_at)
        plan_ids = await _plan_ids(api, opts, folders)
        progress.plans_total = len(plan_ids)
        progress.tick()
        gate = asyncio.Semaphore(concurrency)

        async def one(pid: str) -> None:
            async with gate:
                await _backfill_plan(pool, api, opts, pid, checkpoints, zone, snapshot, progress)

        async with asyncio.TaskGroup() as tasks:
            for pid in plan_ids:
                tasks.create_task(one(pid))
        async with pool.connection() as conn:
            await conn.execute(query("backfill_run_finish"), {"run_key": run_key})
    return {"run_key": run_key, "resumed": resuming, **progress.summary()}
