"""Row sets → SQL → Postgres: the versioned upserts that write the ops tables.

Webhook events, backfill pages and reconcile fixes all write through `apply_many`, so every
writer obeys the same rule: a group of fields is written only by a strictly newer version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from beproduct_sync.inbox.log import Problem, add_problems
from beproduct_sync.model.rows import (
    KINDS,
    Kind,
    MilestoneRow,
    PlanRow,
    RecordRow,
    RowSet,
    TemplateRow,
)
from beproduct_sync.sql import kind_query, query


@dataclass(frozen=True)
class ApplyResult:
    """What one call changed: ids of the rows inserted or updated, and other row counts."""

    records: frozenset[str]
    milestones: frozenset[str]
    definitions: frozenset[tuple[str, str]]  # (id, version) of definitions written
    other_changes: int

    @property
    def records_changed(self) -> int:
        """Style/material rows inserted or updated."""
        return len(self.records)

    @property
    def milestones_changed(self) -> int:
        """Milestone rows inserted or updated."""
        return len(self.milestones)

    @property
    def changed(self) -> bool:
        """False when every write lost to newer stored data: the event was stale."""
        return bool(self.records or self.milestones or self.definitions or self.other_changes)

    def changed_by(self, rows: RowSet) -> bool:
        """Whether `rows` (one event of a batch) won anything: its record, a milestone, or the
        milestone definition it carried."""
        if rows.record["id"] in self.records:
            return True
        if any(m["id"] in self.milestones for m in rows.milestones):
            return True
        # Only the event whose version of a shared definition was the one written gets credit.
        return any(
            (t["id"], str(t["source_version"])) in self.definitions
            for t in rows.templates
            if t["source_version"] is not None
        )


@dataclass(frozen=True)
class _Merged:
    """The row sets of many events (or API rows), unioned for one set of statements."""

    folders: list[str]
    plans: list[PlanRow]
    stubs: list[TemplateRow]
    definitions: list[TemplateRow]
    records: dict[Kind, list[RecordRow]]
    milestones: dict[Kind, list[MilestoneRow]]


def _merge(rowsets: Sequence[RowSet]) -> _Merged:
    folders: set[str] = set()
    plans: dict[str, PlanRow] = {}
    stubs: dict[str, TemplateRow] = {}
    definitions: dict[str, TemplateRow] = {}
    records: dict[Kind, list[RecordRow]] = {k: [] for k in KINDS}
    milestones: dict[Kind, list[MilestoneRow]] = {k: [] for k in KINDS}
    for rows in rowsets:
        folders.update(rows.folder_ids)
        if rows.plan["id"] not in plans or plans[rows.plan["id"]]["folder_id"] is None:
            plans[rows.plan["id"]] = rows.plan
        for t in rows.templates:
            version = t["source_version"]
            if version is None:
                stubs.setdefault(t["id"], t)
                continue
            known = definitions.get(t["id"])
            if known is None or int(version) > int(known["source_version"] or -1):
                definitions[t["id"]] = t
        records[rows.kind].append(rows.record)
        milestones[rows.kind].extend(rows.milestones)
    for kind in KINDS:
        ids = [r["id"] for r in records[kind]]
        if len(ids) != len(set(ids)):
            raise ValueError("a record id appears twice in one batch; apply them separately")
        # One lock order for every writer (workers, backfill, reconcile): rows locked in
        # arrival order could deadlock two appliers holding the same rows in opposite orders.
        records[kind].sort(key=lambda r: r["id"])
        milestones[kind].sort(key=lambda r: r["id"])
    return _Merged(
        folders=sorted(folders),
        plans=sorted(plans.values(), key=lambda p: p["id"]),
        stubs=sorted(stubs.values(), key=lambda t: t["id"]),
        definitions=sorted(definitions.values(), key=lambda t: t["id"]),
        records=records,
        milestones=milestones,
    )


async def apply_many(conn: AsyncConnection[Any], rowsets: Sequence[RowSet]) -> ApplyResult:
    """Write the rows of many events or API rows at once; the caller owns the transaction.

    All statements go out in one pipeline: one network round trip however many rows. They run
    in foreign-key order (folders, plans, definitions, records, milestones with their
    assignments). `SET LOCAL synchronous_commit = off` is safe: the inbox row of an event was
    committed durably before, and the apply commits its rows together with the inbox status, so a
    crash that loses this commit loses both and the event is applied again (idempotently);
    backfill and reconcile simply rerun.
    """
    m = _merge(rowsets)
    counted: list[AsyncCursor[Any]] = []
    definitions: list[AsyncCursor[Any]] = []
    records: list[AsyncCursor[Any]] = []
    milestone_curs: list[AsyncCursor[Any]] = []

    async def run(q: Any, params: Mapping[str, Any], into: list[AsyncCursor[Any]]) -> None:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(q, params)
        into.append(cur)

    async with conn.pipeline():
        await conn.execute("SET LOCAL synchronous_commit = off")
        if m.folders:
            await run(query("apply_folders"), {"ids": m.folders}, counted)
        for plan in m.plans:
            await run(query("apply_plan"), plan, counted)
            await run(query("apply_plan_folder"), plan, counted)
        if m.stubs:
            await run(query("apply_template_stubs"), {"rows": Jsonb(m.stubs)}, counted)
        if m.definitions:
            await run(query("apply_templates"), {"rows": Jsonb(m.definitions)}, definitions)
        if m.stubs or m.definitions:
            # Rules changed or definitions appeared: re-resolve those plans' rules (a no-op
            # lookup otherwise). Its count is bookkeeping, not a change of this event's.
            ids = sorted({t["id"] for t in m.stubs} | {t["id"] for t in m.definitions})
            await conn.execute(query("apply_schedule_rules"), {"ids": ids})
        for kind in KINDS:
            if m.records[kind]:
                await run(
                    kind_query("apply_record", kind), {"rows": Jsonb(m.records[kind])}, records
                )
            if m.milestones[kind]:
                await run(
                    kind_query("apply_milestones", kind),
                    {"rows": Jsonb(m.milestones[kind])},
                    milestone_curs,
                )
    other = sum(max(c.rowcount, 0) for c in counted)
    sent = {t["id"]: t["source_version"] for t in m.definitions}
    milestone_ids: set[str] = set()
    for cur in milestone_curs:
        found = await cur.fetchone()
        assert found is not None
        milestone_ids.update(found["milestones"])
        other += int(found["assignments"])
    written = [r["id"] for c in definitions for r in await c.fetchall()]
    return ApplyResult(
        records=frozenset([r["id"] for c in records for r in await c.fetchall()]),
        milestones=frozenset(milestone_ids),
        definitions=frozenset([(i, str(sent[i])) for i in written]),
        other_changes=other,
    )


async def apply_api_rows(
    conn: AsyncConnection[Any], rowsets: Sequence[RowSet], source: str
) -> ApplyResult:
    """`apply_many` for rows read from the API (`source`: backfill or reconcile), whose notices
    (e.g. an unknown status) have no inbox event to be settled with: they are added to
    ops.import_errors as warnings without a sync_log_id, in the caller's transaction."""
    result = await apply_many(conn, rowsets)
    await add_problems(
        conn,
        [
            (None, None, Problem(n.entity_id, f"{n.message} (from {source})", "warning"))
            for rows in rowsets
            for n in rows.notices
        ],
    )
    return result
