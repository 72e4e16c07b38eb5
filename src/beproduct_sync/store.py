"""Row sets → SQL → Postgres. The only module that writes the ops tables.

SQL lives in `sql/*.sql` as named queries with `%(name)s` parameters. Table names differ between
styles and materials; they are filled in from a fixed map with psycopg.sql.Identifier, never from
input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from .mapping import Kind, RowSet

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
    return sql.SQL(query(name)).format(**idents)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ApplyResult:
    """What one row set changed."""

    record_changed: bool
    milestones_changed: int
    other_changes: int

    @property
    def changed(self) -> bool:
        """False when every write lost to newer stored data: the event was stale."""
        return self.record_changed or self.milestones_changed > 0 or self.other_changes > 0


def _record_params(record: dict[str, Any]) -> dict[str, Any]:
    params = dict(record)
    params["raw_payload"] = Jsonb(record["raw_payload"])
    params["suppliers"] = Jsonb(record["suppliers"]) if record["suppliers"] is not None else None
    return params


async def apply_rows(conn: AsyncConnection[Any], rows: RowSet) -> ApplyResult:
    """Write one event's rows; the caller owns the transaction.

    All statements go out in one pipeline: one network round trip for the whole event.
    Statements run in foreign-key order (folder, plan, definitions, record, milestones with
    their assignments). `SET LOCAL synchronous_commit = off` is safe here: the inbox row was
    committed durably before, and the apply commits its rows and the inbox status together, so a
    crash that loses this commit loses both, and the event is applied again (idempotently).
    """
    stubs = [t for t in rows.templates if t["source_version"] is None]
    definitions = [t for t in rows.templates if t["source_version"] is not None]

    async with conn.pipeline():
        cursors = []
        await conn.execute("SET LOCAL synchronous_commit = off")
        cur = conn.cursor()
        if rows.folder_ids:
            await cur.execute(query("apply_folders"), {"ids": rows.folder_ids})
            cursors.append(cur)
            cur = conn.cursor()
        await cur.execute(query("apply_plan"), rows.plan)
        cursors.append(cur)
        cur = conn.cursor()
        await cur.execute(query("apply_plan_folder"), rows.plan)
        cursors.append(cur)
        if stubs:
            cur = conn.cursor()
            await cur.execute(query("apply_template_stubs"), {"rows": Jsonb(stubs)})
            cursors.append(cur)
        if definitions:
            cur = conn.cursor()
            await cur.execute(query("apply_templates"), {"rows": Jsonb(definitions)})
            cursors.append(cur)
        rec_cur = conn.cursor()
        await rec_cur.execute(kind_query("apply_record", rows.kind), _record_params(rows.record))
        if rows.milestones:
            ms_cur = conn.cursor()
            await ms_cur.execute(
                kind_query("apply_milestones", rows.kind), {"rows": Jsonb(rows.milestones)}
            )
    other = sum(max(c.rowcount, 0) for c in cursors)
    milestones_changed = 0
    if rows.milestones:
        counts = await ms_cur.fetchone()
        assert counts is not None
        milestones_changed = int(counts[0])
        other += int(counts[1])
    return ApplyResult(rec_cur.rowcount > 0, milestones_changed, other)
