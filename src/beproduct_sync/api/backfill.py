"""Historical backfill: folders → plans → style and material timelines, from the BeProduct API.

API rows go through the same versioned upserts as webhooks (model.from_rest, then
apply.writer.apply_many), so a backfill never overwrites newer webhook data and webhooks arriving
meanwhile are never undone.
Consecutive pages (up to WRITE_ROWS rows) are written in one transaction together with the
checkpoint of the last: rerunning an interrupted backfill with the same options continues at the
next unwritten page. A row met twice in one transaction (rows shifted between pages while they
were fetched) is written once, as last served. A finished run's rerun is a
new pass (and, when nothing changed in BeProduct, writes nothing).

Incremental by default: a plan's style (or material) rows are fetched whole once; after a pass
that saw all of them, later passes ask BeProduct only for rows with `ModifiedAt` at or after that
pass's snapshot time minus `Options.margin_seconds` (BeProduct's clock and the database's may
disagree; the margin must exceed that skew). The snapshot is taken when a run starts, so a row
changed while a pass is running is fetched again by the next one. `full` forces a full pass;
an explicit `since` fetches rows modified since then and leaves the incremental state alone.

Paging counts items (api.client.BeProductClient.pages): a plan's rows are done when a walk has
received `total` rows while `total` held still. Rows added or removed while paging shift others
between pages, so a walk whose total moved is repeated (up to WALKS times; unchanged rows cost
no writes); a plan still short after that is left not done, reported as incomplete, and the run
stays unfinished so a rerun tries again. A plan is never marked done while rows are missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

import orjson
import structlog
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from beproduct_sync import db
from beproduct_sync.api.catalog import store_folders, store_plan
from beproduct_sync.api.client import Listing, Page
from beproduct_sync.api.health import save_quietly
from beproduct_sync.api.ratelimit import Pause
from beproduct_sync.apply.writer import apply_api_rows
from beproduct_sync.model.from_rest import map_api_row, row_version
from beproduct_sync.model.rows import KINDS, Kind, master_folder
from beproduct_sync.model.times import EPOCH, SourceTime, lenient_time, parse_time, utc_text
from beproduct_sync.sql import kind_query, query

log = structlog.get_logger("beproduct_sync.backfill")

WALKS = 3  # walks of one plan's rows before it is reported incomplete
# Rows written per transaction: consecutive pages of a walk are held until they bring this
# many (or the walk ends), then written with the checkpoint of the last. Statement overheads
# (planning, round trips) are a good part of writing a page of 20 rows; an interrupted walk
# fetches at most this many rows again.
WRITE_ROWS = 100
SKEW_MARGIN_SECONDS = 300.0  # how far BeProduct's ModifiedAt stamps may lag the database's clock


class Api(Protocol):
    """The part of api.client.BeProductClient backfill uses."""

    async def folders(self) -> list[dict[str, Any]]: ...
    async def plan_listing(self, folder_id: str | None = None) -> Listing: ...
    async def plan(self, plan_id: str) -> dict[str, Any]: ...
    def timeline_request(
        self, plan_id: str, kind: str, filters: list[dict[str, Any]] | None
    ) -> dict[str, Any]: ...
    def pages(
        self,
        path: str,
        endpoint: str,
        *,
        page_size: int,
        body: Any,
        params: dict[str, Any] | None = None,
        start: int = 0,
    ) -> AsyncIterator[Page]: ...


@dataclass(frozen=True)
class Checkpoint:
    """Where a plan's style or material walk stands (ops.backfill_checkpoint)."""

    plan_id: str
    kind: str
    next_page: int
    page_size: int | None
    total: int | None
    rows_done: int
    done: bool
    since: datetime | None = None  # the ModifiedAt bound of this walk (None: every row)


@dataclass(frozen=True)
class Options:
    """What to backfill."""

    folders: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    since: str | None = None  # ISO date or timestamp: only rows with ModifiedAt >= since
    page_size: int = 20
    restart: bool = False
    full: bool = False  # every row, not only those modified since the last complete pass
    margin_seconds: float = SKEW_MARGIN_SECONDS
    write_rows: int = WRITE_ROWS  # rows written per transaction (whole pages; not in run_key)

    def __post_init__(self) -> None:
        # BeProduct misparses filter dates not in UTC with Z; any ISO form given is sent so
        # (ValueError if it is not one), and equal instants share a run.
        if self.since is not None:
            object.__setattr__(self, "since", utc_text(self.since))

    @property
    def incremental(self) -> bool:
        """Whether each plan's rows are fetched since its last complete pass."""
        return not self.full and self.since is None

    @property
    def mode(self) -> str:
        """incremental, full, or since (an explicit --since)."""
        return "since" if self.since is not None else "full" if self.full else "incremental"

    @property
    def run_key(self) -> str:
        """Runs with the same options share checkpoints."""
        key: list[Any] = [sorted(self.folders), sorted(self.plans), self.since, self.page_size]
        if self.incremental:  # full and --since runs keep the keys they always had
            key.append("incremental")
        return hashlib.sha256(orjson.dumps(key)).hexdigest()[:16]

    @property
    def filters(self) -> list[dict[str, Any]]:
        """API filters for an explicit `since`, exactly as given (to the 100 ns)."""
        if self.since is None:
            return []
        return [{"field": "ModifiedAt", "operator": "Gte", "value": self.since}]

    def since_for(self, synced_through: datetime | None) -> datetime | None:
        """The ModifiedAt bound of a plan's walk, given when its rows were last seen whole."""
        if self.since is not None:
            parsed = parse_time(self.since)
            return parsed.datetime if parsed else None
        if self.full or synced_through is None:
            return None
        return synced_through - timedelta(seconds=self.margin_seconds)


def modified_since(since: datetime | None) -> list[dict[str, Any]]:
    """The API filter for rows modified at or after `since` (ISO with Z, the only form BeProduct
    reads right); no filter for None."""
    if since is None:
        return []
    return [{"field": "ModifiedAt", "operator": "Gte", "value": utc_text(since.isoformat())}]


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
    walks_repeated: int = 0
    incomplete: list[dict[str, Any]] = field(default_factory=list)
    walks_since: int = 0  # plan walks that asked only for rows modified since a time
    plans_unchanged: int = 0  # plans whose details were not fetched again (unchanged)
    pauses: int = 0
    paused_seconds: float = 0.0
    last_pause: Pause | None = None
    started: float = field(default_factory=time.perf_counter)
    on_change: Callable[[Progress], None] | None = None

    def tick(self) -> None:
        """Tell the display (if any) that counters moved."""
        if self.on_change is not None:
            self.on_change(self)

    def paused(self, pause: Pause) -> None:
        """The client is waiting out a rate limit (its on_pause hook): show until when."""
        self.pauses += 1
        self.paused_seconds += pause.seconds
        self.last_pause = pause
        self.tick()

    @property
    def status(self) -> str:
        """`paused until …` while a rate-limit pause lasts, else empty."""
        p = self.last_pause
        return p.describe() if p is not None and p.resume_at > datetime.now(UTC) else ""

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
            "walks_repeated": self.walks_repeated,
            "walks_since": self.walks_since,
            "plans_unchanged": self.plans_unchanged,
            "incomplete": self.incomplete,
            "pauses": self.pauses,
            "paused_seconds": round(self.paused_seconds, 3),
            "seconds": round(seconds, 3),
            "rows_per_s": round(self.rows / seconds, 1) if seconds else None,
            "milestones_per_s": round(self.milestones / seconds, 1) if seconds else None,
        }


async def _changed(
    conn: AsyncConnection[Any], kind: Kind, items: list[dict[str, Any]], snapshot: SourceTime
) -> list[tuple[dict[str, Any], tuple[str, SourceTime]]]:
    """The rows of a page not already written from this exact content, each with its version
    (a rerun skips the rest: mapping and upserting 25 milestones per row is the expensive
    part)."""
    if not items:
        return []
    versions = {str(r["id"]): (r, row_version(r, snapshot)) for r in items}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(kind_query("backfill_versions", kind), {"ids": list(versions)})
    stored = {r["id"]: r["version"] for r in await cur.fetchall()}
    return [(r, v) for key, (r, v) in versions.items() if stored.get(key) != v[0]]


async def _unhurried(conn: AsyncConnection[Any]) -> None:
    """No waiting for the WAL flush at commit: a backfill transaction lost in a crash is simply
    done again by the rerun (pages, checkpoints and bounds move together), so its commits need
    not wait for the disk; a pass commits a hundred of them."""
    await conn.execute("SET LOCAL synchronous_commit = off")


async def _plans(
    api: Api, opts: Options, folders: list[dict[str, Any]]
) -> dict[str, dict[str, Any] | None]:
    """The plans to walk, each with its entry in the plan list (None for a plan named by
    --plan); the folders' lists are asked for at once."""
    if opts.plans:
        return dict.fromkeys(opts.plans)
    wanted = set(opts.folders)
    ids = [str(f.get("id")) for f in folders if not wanted or str(f.get("id")) in wanted]
    found: dict[str, dict[str, Any] | None] = {}
    for fid, listing in zip(ids, await asyncio.gather(*map(api.plan_listing, ids)), strict=True):
        if not listing.complete:
            log.warning("backfill_plan_list_moved", folder_id=fid, plans=len(listing.items))
        for p in listing.items:
            if p.get("id"):
                found.setdefault(str(p["id"]), p)
    return found


def _details_current(
    opts: Options, listed: dict[str, Any] | None, bounds: list[datetime | None]
) -> bool:
    """Whether the plan's stored details (name, dates, milestone definitions) are as new as
    BeProduct's: an incremental pass, the plan list's `modifiedAt` older than the start of the
    last complete pass of each of its kinds (minus the skew margin), which fetched them. The
    plan list cannot be filtered by ModifiedAt server-side; this is the client-side filter
    BeProduct documents."""
    if not opts.incremental or listed is None or None in bounds:
        return False
    modified = lenient_time(listed.get("modifiedAt"))
    if modified is None:
        return False
    oldest = min(b for b in bounds if b is not None) - timedelta(seconds=opts.margin_seconds)
    return modified.ticks < (oldest - EPOCH) // timedelta(microseconds=1) * 10


@dataclass
class _Pass:
    """What the plans of a run share: the zone for calendar dates, the snapshot time, and the
    bookkeeping of walks that ended on an empty page (see _write_pages)."""

    zone: tzinfo
    snapshot: SourceTime
    settled: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)


@dataclass
class _Walk:
    """One plan-kind's walk: where it starts, with which page size, the totals seen, and the
    ModifiedAt bound of the rows it asks for (None: all)."""

    start: int
    size: int
    totals: set[int]
    since: datetime | None = None


async def _write_pages(
    pool: AsyncConnectionPool[Any],
    opts: Options,
    plan_id: str,
    folder_id: str | None,
    kind: Kind,
    pages: list[Page],
    walk: _Walk,
    done: bool,
    ctx: _Pass,
) -> Any:
    """Consecutive pages' rows and the checkpoint of the last (and, for the last page of a
    complete walk, the plan's incremental state), in one transaction; returns the writer's
    result."""
    zone, snapshot = ctx.zone, ctx.snapshot
    page = pages[-1]
    items = [r for p in pages for r in p.items if r.get("id")]
    checkpoint = {
        "run_key": opts.run_key,
        "plan_id": plan_id,
        "kind": kind,
        "next_page": page.number + 1,
        "page_size": page.size,
        "total": page.total,
        "rows": len(items),
        "done": done,
        "since": walk.since,
    }
    synced = None
    if done and opts.since is None:
        synced = {"plan_id": plan_id, "kind": kind, "synced_through": snapshot.datetime}
    if done and not any(p.items for p in pages):
        # A walk that ends on an empty page without rows to commit (an incremental pass that
        # finds nothing new: one per plan and kind): its bookkeeping is written with the
        # others' in one transaction when the plans are through. Lost in a crash, the rerun
        # merely asks again.
        ctx.settled.append((checkpoint, synced))
        return None
    async with pool.connection() as conn, conn.transaction():
        await _unhurried(conn)
        fresh = await _changed(conn, kind, items, snapshot)
        rowsets = [
            map_api_row(
                r,
                plan_id=plan_id,
                folder_id=folder_id,
                kind=kind,
                zone=zone,
                fallback=snapshot,
                versioned=versioned,
            )
            for r, versioned in fresh
        ]
        # Unknown statuses of the rows written are stored too (a rerun skips unchanged rows,
        # so they are not repeated).
        result = await apply_api_rows(conn, rowsets, "backfill") if rowsets else None
        await conn.execute(query("backfill_checkpoint_save"), checkpoint)
        if synced is not None:
            await conn.execute(query("backfill_plan_sync_save"), synced)
    return result


async def _settle(
    pool: AsyncConnectionPool[Any], settled: list[tuple[dict[str, Any], dict[str, Any] | None]]
) -> None:
    """The checkpoints (and incremental bounds) of walks that ended on an empty page, in one
    transaction."""
    if not settled:
        return
    async with pool.connection() as conn, conn.transaction():
        await _unhurried(conn)
        cur = conn.cursor()
        await cur.executemany(query("backfill_checkpoint_save"), [c for c, _ in settled])
        bounds = [b for _, b in settled if b is not None]
        if bounds:
            await cur.executemany(query("backfill_plan_sync_save"), bounds)


async def _backfill_kind(
    pool: AsyncConnectionPool[Any],
    api: Api,
    opts: Options,
    plan_id: str,
    folder_id: str | None,
    kind: Kind,
    walk: _Walk,
    ctx: _Pass,
    progress: Progress,
) -> bool:
    """Walk one plan's style or material rows until a walk saw them all; False if none did."""
    bound = opts.filters if opts.since is not None else modified_since(walk.since)
    request = api.timeline_request(plan_id, master_folder(kind), bound)
    if walk.since is not None:
        progress.walks_since += 1
    for attempt in range(1, WALKS + 1):
        complete = False
        held: list[Page] = []
        async for page in api.pages(
            request["path"],
            request["endpoint"],
            page_size=walk.size,
            body=request["body"],
            start=walk.start,
        ):
            walk.totals.add(page.total)
            complete = page.last and page.received >= page.total and len(walk.totals) == 1
            held.append(page)
            if not page.last and sum(len(p.items) for p in held) < opts.write_rows:
                continue
            result = await _write_pages(
                pool, opts, plan_id, folder_id, kind, held, walk, complete, ctx
            )
            progress.pages += len(held)
            for p in held:
                progress.rows += len(p.items)
                progress.milestones += sum(len(r.get("timelines") or []) for r in p.items)
            if result is not None:
                progress.records_changed += result.records_changed
                progress.milestones_changed += result.milestones_changed
            progress.tick()
            held = []
        if complete:
            return True
        if attempt < WALKS:
            # Rows moved under the walk (or it came back short): walk again from the start.
            progress.walks_repeated += 1
            log.warning("backfill_rows_moved", plan_id=plan_id, kind=kind, walk=attempt)
            walk = _Walk(0, opts.page_size, set(), walk.since)
    return False


async def _backfill_plan(
    pool: AsyncConnectionPool[Any],
    api: Api,
    opts: Options,
    plan_id: str,
    listed: dict[str, Any] | None,
    checkpoints: dict[tuple[str, str], Checkpoint],
    synced: dict[tuple[str, str], datetime],
    ctx: _Pass,
    progress: Progress,
) -> None:
    zone, snapshot = ctx.zone, ctx.snapshot
    if _details_current(opts, listed, [synced.get((plan_id, k)) for k in KINDS]):
        assert listed is not None
        folder_id = str(listed["folderId"]) if listed.get("folderId") else None
        progress.plans_unchanged += 1
    else:
        detail = await api.plan(plan_id)
        async with pool.connection() as conn, conn.transaction():
            await _unhurried(conn)
            folder_id = await store_plan(conn, detail, plan_id, zone, snapshot.datetime)
    for kind in KINDS:
        cp = checkpoints.get((plan_id, kind))
        if cp is not None and cp.done:
            continue
        walk = _Walk(0, opts.page_size, set(), opts.since_for(synced.get((plan_id, kind))))
        if cp is not None:
            # A resumed walk keeps its bound: the pages it continues are of that filtered list.
            seen = set() if cp.total is None else {cp.total}
            walk = _Walk(cp.next_page, cp.page_size or opts.page_size, seen, cp.since)
            progress.resumed_pages += cp.next_page
        if not await _backfill_kind(pool, api, opts, plan_id, folder_id, kind, walk, ctx, progress):
            progress.incomplete.append({"plan_id": plan_id, "kind": kind})
            log.error("backfill_plan_incomplete", plan_id=plan_id, kind=kind, walks=WALKS)
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
                                "mode": opts.mode,
                            }
                        ),
                    },
                )
                row = await cur.fetchone()
                assert row is not None
                snapshot_at = row["snapshot_at"]
            cps = conn.cursor(row_factory=class_row(Checkpoint))
            await cps.execute(query("backfill_checkpoints"), {"run_key": run_key})
            checkpoints = {(c.plan_id, c.kind): c for c in await cps.fetchall()}
            synced: dict[tuple[str, str], datetime] = {}
            if opts.incremental:
                await cur.execute(query("backfill_plan_sync"))
                synced = {
                    (r["plan_id"], r["kind"]): r["synced_through"] for r in await cur.fetchall()
                }
        snapshot = parse_time(snapshot_at.isoformat())
        assert snapshot is not None
        try:
            folders = await api.folders()
            async with pool.connection() as conn, conn.transaction():
                await _unhurried(conn)
                await store_folders(conn, folders, snapshot_at)
            plans = await _plans(api, opts, folders)
            progress.plans_total = len(plans)
            progress.tick()
            gate = asyncio.Semaphore(concurrency)
            ctx = _Pass(zone, snapshot)

            async def one(pid: str, listed: dict[str, Any] | None) -> None:
                async with gate:
                    await _backfill_plan(
                        pool,
                        api,
                        opts,
                        pid,
                        listed,
                        checkpoints,
                        synced,
                        ctx,
                        progress,
                    )

            # Each plan runs to its own end: one failing (BeProduct refusing it, or an outage
            # that outlasts the retries) does not cancel the others mid-write, so their
            # progress is kept; the failures are raised together afterwards.
            outcomes = await asyncio.gather(
                *(one(pid, listed) for pid, listed in plans.items()), return_exceptions=True
            )
            await _settle(pool, ctx.settled)
            for o in outcomes:
                if isinstance(o, BaseException) and not isinstance(o, Exception):
                    raise o  # cancelled, interrupted: not a plan's failure
            failed = [o for o in outcomes if isinstance(o, Exception)]
            if failed:
                raise ExceptionGroup("backfill: some plans failed", failed)
        finally:
            await save_quietly(pool, "backfill", api)
        if not progress.incomplete:
            async with pool.connection() as conn:
                await conn.execute(query("backfill_run_finish"), {"run_key": run_key})
    return {"run_key": run_key, "resumed": resuming, "mode": opts.mode, **progress.summary()}
