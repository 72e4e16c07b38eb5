"""Row sets → SQL → Postgres. The only module that writes the ops tables.

SQL lives in `sql/*.sql` as named queries with `%(name)s` parameters. Table names differ between
styles and materials; they are filled in from a fixed map with psycopg.sql.Identifier, never from
input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, sql
from psycopg.types.json import Jsonb

from beproduct_sync.model.from_webhook import Kind, RowSet

TABLES: dict[Kind, dict[str, str]] = {
    "style": {
        "record_table": "tracking_plan_style",
        "timeline_table": "tracking_plan_style_timeline",
        "assignment_table": "tracking_timeline_assignment",
        "parent_column": "plan_style_id",
    },
    "material": {
        "record_table": "tracking_plan_material",
        "timeline_table": "tracking_plan_material_timeline",
        "assignment_table": "tracking_material_timeline_assignment",
        "parent_column": "plan_material_id",
    },
}


@cache
def query(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    return resources.files("beproduct_sync.sql").joinpath(f"{name}.sql").read_text()


@cache
def kind_query(name: str, kind: Kind) -> sql.Composed:
    """A named query with the style or material table names filled in."""
    names = TABLES[kind]
    idents: dict[str, sql.Composable] = {
        key: (sql.Identifier(value) if key == "parent_column" else sql.Identifier("ops", value))
        for key, value in names.items()
    }
    return sql.SQL(query(name)).format(**idents)


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


def _merge(rowsets: Sequence[RowSet]) -> dict[str, Any]:
    """Union the row sets of several events (or API rows) for one set of statements."""
    folders: set[str] = set()
    plans: dict[str, dict[str, Any]] = {}
    stubs: dict[str, dict[str, Any]] = {}
    definitions: dict[str, dict[str, Any]] = {}
    records: dict[Kind, list[dict[str, Any]]] = {"style": [], "material": []}
    milestones: dict[Kind, list[dict[str, Any]]] = {"style": [], "material": []}
    for rows in rowsets:
        folders.update(rows.folder_ids)
        if rows.plan["id"] not in plans or plans[rows.plan["id"]]["folder_id"] is None:
            plans[rows.plan["id"]] = rows.plan
        for t in rows.templates:
            if t["source_version"] is None:
                stubs.setdefault(t["id"], t)
            elif t["id"] not in definitions or int(t["source_version"]) > int(
                definitions[t["id"]]["source_version"]
            ):
                definitions[t["id"]] = t
        records[rows.kind].append(rows.record)
        milestones[rows.kind].extend(rows.milestones)
    for kind in ("style", "material"):
        ids = [r["id"] for r in records[kind]]  # type: ignore[index,unused-ignore]
        if len(ids) != len(set(ids)):
            raise ValueError("a record id appears twice in one batch; apply them separately")
        # One lock order for every writer (workers, backfill, reconcile): rows locked in
        # arrival order could deadlock two appliers holding the same rows in opposite orders.
        records[kind].sort(key=lambda r: r["id"])  # type: ignore[index,unused-ignore]
        milestones[kind].sort(key=lambda r: r["id"])  # type: ignore[index,unused-ignore]
    return {
        "folders": sorted(folders),
        "plans": sorted(plans.values(), key=lambda p: p["id"]),
        "stubs": sorted(stubs.values(), key=lambda t: t["id"]),
        "definitions": sorted(definitions.values(), key=lambda t: t["id"]),
        "records": records,
        "milestones": milestones,
    }


async def apply_rows(conn: AsyncConnection[Any], rows: RowSet) -> ApplyResult:
    """Write one event's rows; the caller owns the transaction."""
    return await apply_many(conn, [rows])


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

    async def run(q: Any, params: dict[str, Any], into: list[AsyncCursor[Any]]) -> None:
        cur = conn.cursor()
        await cur.execute(q, params)
        into.append(cur)

    async with conn.pipeline():
        await conn.execute("SET LOCAL synchronous_commit = off")
        if m["folders"]:
            await run(query("apply_folders"), {"ids": m["folders"]}, counted)
        for plan in m["plans"]:
            await run(query("apply_plan"), plan, counted)
            await run(query("apply_plan_folder"), plan, counted)
        if m["stubs"]:
            await run(query("apply_template_stubs"), {"rows": Jsonb(m["stubs"])}, counted)
        if m["definitions"]:
            await run(query("apply_templates"), {"rows": Jsonb(m["definitions"])}, definitions)
        for kind in ("style", "material"):
            if m["records"][kind]:
                await run(
                    kind_query("apply_record", kind), {"rows": Jsonb(m["records"][kind])}, records
                )
            if m["milestones"][kind]:
                await run(
                    kind_query("apply_milestones", kind),
                    {"rows": Jsonb(m["milestones"][kind])},
                    milestone_curs,
                )
    other = sum(max(c.rowcount, 0) for c in counted)
    sent = {t["id"]: t["source_version"] for t in m["definitions"]}
    milestone_ids: set[str] = set()
    for cur in milestone_curs:
        found = await cur.fetchone()
        assert found is not None
        milestone_ids.update(found[0])
        other += int(found[1])
    return ApplyResult(
        records=frozenset([r[0] for c in records for r in await c.fetchall()]),
        milestones=frozenset(milestone_ids),
        definitions=frozenset(
            [(r[0], str(sent[r[0]])) for c in definitions for r in await c.fetchall()]
        ),
        other_changes=other,
    )
