"""Reconciliation: compare the database with the BeProduct API and report (or fix) drift.

Drift kinds, per plan: `missing` (a row BeProduct has and we do not), `extra` (active here,
absent in BeProduct), `inactive` (active in BeProduct, inactive here), `milestone_missing`, and
`milestone` (status, dates, late flag or assignees differ). `--fix` writes the API's rows through
the same versioned upserts, versioned at the snapshot time minus a clock-skew margin: drifted
data older than that is replaced, while anything a webhook wrote later is newer and is kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

import structlog
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from beproduct_sync import db
from beproduct_sync._backoff import pause
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.tokens import open_client
from beproduct_sync.apply.writer import apply_api_rows
from beproduct_sync.config import Settings
from beproduct_sync.db import describe_error
from beproduct_sync.model.from_rest import map_api_row, retire_row
from beproduct_sync.model.rows import KINDS, Kind, RowSet, source_version
from beproduct_sync.model.times import SourceTime, parse_time
from beproduct_sync.sql import kind_query, query

log = structlog.get_logger("beproduct_sync.reconcile")

COMPARED = ("status", "status_label", "plan_date", "due_date", "rev_date", "final_date", "late")


class Api(Protocol):
    """The part of api.client.BeProductClient reconciliation uses."""

    def style_timelines(self, plan_id: str, filters: Any = None) -> Any: ...
    def material_timelines(self, plan_id: str, filters: Any = None) -> Any: ...


@dataclass(frozen=True)
class Drift:
    """One difference between BeProduct and the database."""

    kind: str
    entity: str  # 'style' | 'material'
    row_id: str
    milestone_id: str | None = None
    fields: dict[str, list[Any]] = field(default_factory=dict)  # name → [ours, BeProduct's]
    label: str | None = None


@dataclass
class PlanReport:
    """Drift found in one plan."""

    plan_id: str
    api_rows: int = 0
    db_rows: int = 0
    drift: list[Drift] = field(default_factory=list)
    fixed: int = 0

    def counts(self) -> dict[str, int]:
        """Drift items per kind."""
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
            "fixed": self.fixed,
            "drift": [asdict(d) for d in self.drift],
        }


async def _api_rows(api: Api, plan_id: str, kind: Kind) -> list[dict[str, Any]]:
    source = api.style_timelines if kind == "style" else api.material_timelines
    return [r async for r in source(plan_id) if isinstance(r, dict) and r.get("id")]


async def _db_state(
    conn: AsyncConnection[Any], plan_id: str, kind: Kind
) -> tuple[dict[str, tuple[bool, str | None]], dict[str, dict[str, Any]]]:
    """Our records of the plan (id → (active, style number)) and milestones (id → fields)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(kind_query("reconcile_records", kind), {"plan_id": plan_id})
    records = {r["id"]: (r["active"], r["style_number"]) for r in await cur.fetchall()}
    await cur.execute(kind_query("reconcile_milestones", kind), {"plan_id": plan_id})
    milestones = {
        r["id"]: {"parent": r["parent"], **{k: r[k] for k in COMPARED}, "assignees": r["assignees"]}
        for r in await cur.fetchall()
    }
    return records, milestones


def _compare(
    kind: Kind,
    api: list[RowSet],
    records: dict[str, tuple[bool, str | None]],
    milestones: dict[str, dict[str, Any]],
) -> tuple[list[Drift], list[RowSet], list[str]]:
    drift: list[Drift] = []
    to_fix: list[RowSet] = []
    seen: set[str] = set()
    for rows in api:
        rid, label = rows.record["id"], rows.record["style_number"]
        seen.add(rid)
        found = len(drift)
        if rid not in records:
            drift.append(Drift("missing", kind, rid, label=label))
        elif rows.record["active"] and not records[rid][0]:
            drift.append(Drift("inactive", kind, rid, label=label))
        for m in rows.milestones:
            ours = milestones.get(m["id"])
            if ours is None:
                if rid in records:
                    drift.append(Drift("milestone_missing", kind, rid, m["id"], label=label))
                continue
            fields: dict[str, Any] = dict(m)
            theirs = {
                **{k: fields[k] for k in COMPARED},
                "assignees": sorted(a["assignee_id"] for a in m["assignees"]),
            }
            diff = {
                k: [ours[k], theirs[k]] for k in (*COMPARED, "assignees") if ours[k] != theirs[k]
            }
            if diff:
                drift.append(Drift("milestone", kind, rid, m["id"], diff, label))
        if len(drift) > found:
            to_fix.append(rows)
    extra = [rid for rid, (active, _) in records.items() if active and rid not in seen]
    drift.extend(Drift("extra", kind, rid, label=records[rid][1]) for rid in extra)
    return drift, to_fix, extra


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
    """Compare one plan (styles and materials); with `fix`, write the API's truth."""
    report = PlanReport(plan_id)
    margin = int(skew.total_seconds() * 10_000_000)
    at_ticks = snapshot.ticks - margin
    forced = SourceTime(at_ticks, snapshot.text)
    version = source_version(forced, b"\xff" * 32)
    at = forced.datetime.isoformat()
    for kind in KINDS:
        raw = await _api_rows(api, plan_id, kind)
        mapped = [
            map_api_row(
                r,
                plan_id=plan_id,
                folder_id=None,
                kind=kind,
                zone=zone,
                fallback=snapshot,
                force=forced,
            )
            for r in raw
        ]
        records, milestones = await _db_state(conn, plan_id, kind)
        drift, to_fix, extra = _compare(kind, mapped, records, milestones)
        report.api_rows += len(raw)
        report.db_rows += len(records)
        report.drift.extend(drift)
        if fix and (to_fix or extra):
            retire = [retire_row(kind, plan_id, rid, version, at) for rid in extra]
            async with conn.transaction():
                result = await apply_api_rows(conn, [*to_fix, *retire], "reconcile")
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
        ids = plans or await plan_ids(conn)
        return [await reconcile_plan(conn, api, pid, zone, snapshot, fix=fix) for pid in ids]


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
                drift=sum(len(r.drift) for r in reports),
                fixed=sum(r.fixed for r in reports),
            )
    finally:
        if client is not None:
            await client.aclose()
