"""Reconciliation: compare the database with the BeProduct API and report (or fix) drift.

Report kinds, per plan and kind of row:
- `missing`: a row BeProduct has and we do not;
- `extra`: a row active here that BeProduct no longer lists (or lists as archived);
- `inactive`: a row active in BeProduct and inactive here;
- `milestone_missing`: a milestone BeProduct has on a row we have, and we do not;
- `milestone`: a milestone whose status, calendar dates, assignees or share list differ;
- `newer_here` (not drift): our copy differs but is newer than the API's snapshot of the row —
  a webhook arrived after BeProduct served the row; the next webhook or pass settles it.

Values are compared normalised, as BeProduct means them: the status as `ops.timeline_status`
(labels that differ only in case, spacing or spelling — "Approved with Corrections" in REST,
"Approved with corrections" in webhooks, "N/A" / "NA" — are the same status; unknown labels are
compared by the same key), dates as calendar dates, assignees and shares as sets of ids. The
`late` flag is never compared: REST computes it when read, a webhook carries a snapshot.

Which side is newer is decided by source versions: a milestone's stored version (the event or
API row that wrote it) against the API row's `modifiedAt`; a row's existence by its newest
header or lifecycle version against the time its plan was listed, less a clock-skew margin (our
clock against BeProduct's). `--fix` writes the API's truth only for drift, versioned one tick
after the API row's `modifiedAt`: that beats the stored data it replaces (never newer than the
row) and loses to any webhook about a later change. So a fix never undoes a newer webhook,
never flip-flops a value, and an immediate second pass finds nothing to fix.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

import structlog
from psycopg import AsyncConnection
from psycopg.rows import dict_row, scalar_row

from beproduct_sync import db
from beproduct_sync._backoff import pause
from beproduct_sync.api.client import BeProductClient, Listing
from beproduct_sync.api.health import save_quietly
from beproduct_sync.api.tokens import open_client
from beproduct_sync.apply.writer import apply_api_rows
from beproduct_sync.config import Settings
from beproduct_sync.db import describe_error
from beproduct_sync.model.from_rest import map_api_row, retire_row, row_version
from beproduct_sync.model.rows import (
    KINDS,
    Kind,
    MilestoneRow,
    RecordRow,
    RowSet,
    master_folder,
    source_version,
    status_key,
)
from beproduct_sync.model.times import SourceTime, parse_time
from beproduct_sync.sql import kind_query, query

log = structlog.get_logger("beproduct_sync.reconcile")

DRIFT_KINDS = ("missing", "extra", "inactive", "milestone_missing", "milestone")
NEWER_HERE = "newer_here"
DATES = ("plan_date", "due_date", "rev_date", "final_date")
TICKS_PER_SECOND = 10_000_000
# A forced version's tie-break digits: none, so the version is exactly its tick.
_NO_HASH = b"\x00" * 32


class Api(Protocol):
    """The part of api.client.BeProductClient reconciliation uses."""

    async def timeline_listing(self, plan_id: str, kind: str) -> Listing: ...


@dataclass(frozen=True)
class Drift:
    """One difference between BeProduct and the database (or a row newer here)."""

    kind: str
    entity: str  # 'style' | 'material'
    row_id: str
    milestone_id: str | None = None
    fields: dict[str, list[Any]] = field(default_factory=dict)  # name → [ours, BeProduct's]
    label: str | None = None


@dataclass
class PlanReport:
    """What one plan's comparison found."""

    plan_id: str
    api_rows: int = 0
    db_rows: int = 0
    drift: list[Drift] = field(default_factory=list)  # newer_here included, see `drifted`
    fixed: int = 0
    unsettled: list[str] = field(default_factory=list)  # kinds whose rows never held still

    @property
    def drifted(self) -> list[Drift]:
        """The drift proper (rows newer here are not drift)."""
        return [d for d in self.drift if d.kind != NEWER_HERE]

    def counts(self) -> dict[str, int]:
        """Items per kind, `newer_here` included."""
        out: dict[str, int] = {}
        for d in self.drift:
            out[d.kind] = out.get(d.kind, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "plan_id": self.plan_id,
            "api_rows": self.api_rows,
            "db_rows": self.db_rows,
            "counts": self.counts(),
            "drift_total": len(self.drifted),
            "fixed": self.fixed,
            "unsettled": self.unsettled,
            "drift": [asdict(d) for d in self.drift],
        }


@dataclass(frozen=True)
class _Record:
    """A stored record as reconcile weighs it."""

    active: bool
    label: str | None
    lifecycle: int  # the tick of the event that last set `active`
    seen: int  # the newest header or lifecycle tick: the latest evidence the row exists


@dataclass
class _Found:
    """One kind of one plan compared: what differs, and the row sets that would fix it."""

    drift: list[Drift] = field(default_factory=list)
    writes: list[RowSet] = field(default_factory=list)


def _ticks(version: str | None) -> int:
    return int(version) // 1_000_000 if version else -1


async def _db_state(
    conn: AsyncConnection[Any], plan_id: str, kind: Kind
) -> tuple[dict[str, _Record], dict[str, dict[str, Any]]]:
    """Our records of the plan and their milestones, in the form they are compared in."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(kind_query("reconcile_records", kind), {"plan_id": plan_id})
    records = {}
    for r in await cur.fetchall():
        lifecycle = _ticks(r["lifecycle_version"])
        seen = max(_ticks(r["header_version"]), lifecycle)
        records[r["id"]] = _Record(r["active"], r["style_number"], lifecycle, seen)
    await cur.execute(kind_query("reconcile_milestones", kind), {"plan_id": plan_id})
    milestones = {r["id"]: r for r in await cur.fetchall()}
    return records, milestones


def _status(status: str | None, label: str | None) -> str | None:
    """The status compared: the enum, or for a label that maps to none, its key."""
    return status if status is not None else status_key(label)


def _compared(m: dict[str, Any]) -> dict[str, Any]:
    """A milestone (stored row or API row set) in compared form."""
    return {
        "status": _status(m["status"], m["status_label"]),
        **{d: m[d] for d in DATES},
        "assignees": sorted(m["assignees"]),
        "shared": sorted(m["shared"]),
    }


def _api_side(m: MilestoneRow) -> dict[str, Any]:
    return {
        **m,
        "assignees": [a["assignee_id"] for a in m["assignees"]],
        "shared": {
            str(p["code"]) for p in m["shared_with"] if isinstance(p, dict) and p.get("code")
        },
    }


def _diff(ours: dict[str, Any], theirs: MilestoneRow) -> dict[str, list[Any]]:
    """The fields that differ, with both sides' values as stored and as served."""
    a, b = _compared(ours), _compared(_api_side(theirs))
    out: dict[str, list[Any]] = {}
    for name in a:
        if a[name] != b[name]:
            if name == "status":
                out[name] = [ours["status_label"], theirs["status_label"]]
            else:
                out[name] = [a[name], b[name]]
    return out


def _only(rows: RowSet, milestones: list[MilestoneRow]) -> RowSet:
    """The row set writing only `milestones` of a known record: none of its groups is claimed."""
    record: RecordRow = {
        **rows.record,
        "header_version": None,
        "record_version": None,
        "color_version": None,
        "size_version": None,
        "supplier_version": None,
        "lifecycle_version": None,
    }
    ids = {m["id"] for m in milestones}
    notices = [n for n in rows.notices if n.entity_id in ids]
    return replace(rows, record=record, milestones=milestones, notices=notices)


def compare(
    kind: Kind,
    plan_id: str,
    listing: Listing,
    stored: tuple[dict[str, _Record], dict[str, dict[str, Any]]],
    zone: tzinfo,
    snapshot: SourceTime,
    listed_at: int,
) -> _Found:
    """Compare one kind of one plan's rows (pure); `listed_at` is the tick (our clock, less
    the skew margin) a stored row must be older than to count as `extra`."""
    records, milestones = stored
    found = _Found()
    seen: set[str] = set()
    for raw in listing.items:
        rid = str(raw.get("id") or "")
        if not rid:
            continue
        seen.add(rid)
        at = row_version(raw, snapshot)[1]
        options: dict[str, Any] = {
            "plan_id": plan_id,
            "folder_id": None,
            "kind": kind,
            "zone": zone,
            "fallback": snapshot,
        }
        # Versioned one tick after the API row's modifiedAt: newer than any stored state the
        # row replaces, older than any webhook about a later change.
        forced = map_api_row(raw, **options, force=SourceTime(at.ticks + 1, at.text))
        label = forced.record["style_number"]
        ours = records.get(rid)
        if ours is None:
            found.drift.append(Drift("missing", kind, rid, label=label))
            found.writes.append(map_api_row(raw, **options))
            continue
        active = forced.record["active"]
        if active != ours.active:
            change = {"active": [ours.active, active]}
            if ours.lifecycle > at.ticks:
                found.drift.append(Drift(NEWER_HERE, kind, rid, fields=change, label=label))
            else:
                what = "inactive" if active else "extra"
                found.drift.append(Drift(what, kind, rid, fields=change, label=label))
                found.writes.append(forced)  # the whole row, milestones included
                continue
        to_write: list[MilestoneRow] = []
        for m in forced.milestones:
            mine = milestones.get(m["id"])
            if mine is None:
                found.drift.append(Drift("milestone_missing", kind, rid, m["id"], label=label))
                to_write.append(m)
                continue
            diff = _diff(mine, m)
            if not diff:
                continue
            if _ticks(mine["version"]) > at.ticks:
                found.drift.append(Drift(NEWER_HERE, kind, rid, m["id"], diff, label))
            else:
                found.drift.append(Drift("milestone", kind, rid, m["id"], diff, label))
                to_write.append(m)
        if to_write:
            found.writes.append(_only(forced, to_write))
    if listing.complete:  # else a row not listed may only have been paged past
        for rid, ours in records.items():
            if not ours.active or rid in seen:
                continue
            if ours.seen > listed_at:
                found.drift.append(Drift(NEWER_HERE, kind, rid, label=ours.label))
                continue
            found.drift.append(Drift("extra", kind, rid, label=ours.label))
            version = source_version(SourceTime(max(listed_at, ours.seen + 1), ""), _NO_HASH)
            removed_at = SourceTime(listed_at, "").datetime.isoformat()
            found.writes.append(retire_row(kind, plan_id, rid, version, removed_at))
    return found


async def reconcile_plan(
    conn: AsyncConnection[Any],
    api: Api,
    plan_id: str,
    zone: tzinfo,
    snapshot: SourceTime,
    *,
    fix: bool = False,
    skew: timedelta = timedelta(minutes=1),
) -> PlanReport:
    """Compare one plan (styles and materials); with `fix`, write the API's truth for drift."""
    report = PlanReport(plan_id)
    margin = int(skew.total_seconds() * TICKS_PER_SECOND)
    for kind in KINDS:
        listed_at = time.time_ns() // 100 - margin
        listing = await api.timeline_listing(plan_id, master_folder(kind))
        stored = await _db_state(conn, plan_id, kind)
        found = compare(kind, plan_id, listing, stored, zone, snapshot, listed_at)
        report.api_rows += len(listing.items)
        report.db_rows += len(stored[0])
        report.drift.extend(found.drift)
        if not listing.complete:
            report.unsettled.append(kind)
            log.warning("reconcile_rows_moving", plan_id=plan_id, kind=kind)
        if fix and found.writes:
            async with conn.transaction():
                result = await apply_api_rows(conn, found.writes, "reconcile")
            report.fixed += result.records_changed + result.milestones_changed
    return report


async def plan_ids(conn: AsyncConnection[Any]) -> list[str]:
    """Every plan the database knows."""
    cur = conn.cursor(row_factory=dict_row)
    return [r["id"] for r in await (await cur.execute(query("reconcile_plans"))).fetchall()]


async def reconcile_all(
    url: str,
    api: Api,
    zone: tzinfo,
    *,
    plans: list[str] | None = None,
    fix: bool = False,
) -> list[PlanReport]:
    """Reconcile the given plans (default: every plan in the database), one after another."""
    snapshot = parse_time(datetime.now(UTC).isoformat())
    assert snapshot is not None
    async with await db.aconnect(url, autocommit=True) as conn:
        cur = conn.cursor(row_factory=scalar_row)
        run_id = await (await cur.execute(query("reconcile_run_start"), {"fix": fix})).fetchone()
        reports: list[PlanReport] = []
        totals: dict[str, Any] = {"id": run_id, "error": None}
        try:
            ids = plans or await plan_ids(conn)
            for pid in ids:
                reports.append(await reconcile_plan(conn, api, pid, zone, snapshot, fix=fix))
        except Exception as exc:
            totals["error"] = describe_error(exc)
            raise
        finally:
            # The pass's record and the client's view of the API, kept for the dashboard.
            totals.update(
                plans=len(reports),
                drift=sum(len(r.drifted) for r in reports),
                newer_here=sum(r.counts().get(NEWER_HERE, 0) for r in reports),
                fixed=sum(r.fixed for r in reports),
            )
            await conn.execute(query("reconcile_run_finish"), totals)
            await save_quietly(conn, "reconcile", api)
        return reports


async def run_scheduled(settings: Settings, url: str, stop: asyncio.Event) -> None:
    """Reconcile every plan (fixing drift) every `BEPRODUCT_SYNC_RECONCILE_INTERVAL_SECONDS`,
    until `stop` is set. Runs inside `serve` when the interval is set and the API configured."""
    interval = float(settings.beproduct_sync_reconcile_interval_seconds)
    client: BeProductClient | None = None
    log.info("reconcile_scheduled", interval_s=interval)
    try:
        while not await pause(stop, interval):
            try:
                # Opened at the first pass (not at start) so a database down at start only
                # costs passes; kept afterwards so its access token is reused between passes.
                client = client or await open_client(settings, url)
                reports = await reconcile_all(url, client, settings.date_zone, fix=True)
            except Exception as exc:  # noqa: BLE001 - a failed pass is logged; the next one retries
                log.warning("reconcile_failed", error=describe_error(exc))
                continue
            log.info(
                "reconcile_done",
                plans=len(reports),
                drift=sum(len(r.drifted) for r in reports),
                newer_here=sum(r.counts().get(NEWER_HERE, 0) for r in reports),
                fixed=sum(r.fixed for r in reports),
            )
    finally:
        if client is not None:
            await client.aclose()
