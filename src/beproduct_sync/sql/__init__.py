"""Named SQL queries: the `.sql` files beside this module, loaded once by name.

Values are always `%(name)s` parameters. The only text ever filled in is a fixed identifier:
style and material rows live in tables of the same shape, and `kind_query` names them from
`TABLES` with psycopg.sql.Identifier, never from input. A query with a `<name>_columns.sql`
(the milestone upsert) reads its rows from `{rows}`: the JSON parameter `rows`, or a staging
table of those columns the caller filled by COPY (`staging_ddl`, `staging`).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from psycopg import sql

from beproduct_sync.model.rows import Kind

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
    return resources.files(__name__).joinpath(f"{name}.sql").read_text()


@cache
def columns(name: str) -> tuple[tuple[str, str], ...]:
    """The (name, type) columns of a query's rows, from `sql/<name>_columns.sql`."""
    text = " ".join(
        line for line in query(f"{name}_columns").splitlines() if not line.startswith("--")
    )
    pairs = (column.split() for column in text.split(","))
    return tuple((column, pgtype) for column, pgtype in pairs)


def staging(name: str, kind: Kind) -> sql.Identifier:
    """The session's temporary table that holds a query's rows before it reads them."""
    return sql.Identifier(f"staged_{name}_{kind}")


@cache
def staging_ddl(name: str, kind: Kind) -> sql.Composed:
    """Creates (once per session) and empties the staging table of a query's rows; its rows
    also go at commit. No JIT for the transaction: an unanalysed staging table's row estimate
    (by its size) times jsonb_array_elements' default of 100 rows prices the milestone upsert
    over `jit_above_cost`, and compiling it took ten times as long as running it."""
    cols = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(pgtype))
        for column, pgtype in columns(name)
    )
    table = staging(name, kind)
    return sql.SQL(
        "SET LOCAL jit = off;"
        " CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({cols}) ON COMMIT DELETE ROWS;"
        " DELETE FROM {table}"
    ).format(table=table, cols=cols)


@cache
def kind_query(name: str, kind: Kind, staged: bool = False) -> sql.Composed:
    """A named query with the style or material table names filled in; with `staged`, it reads
    its rows from the staging table, in id order (else from the JSON parameter `rows`)."""
    idents: dict[str, sql.Composable] = {
        key: (sql.Identifier(value) if key == "parent_column" else sql.Identifier("ops", value))
        for key, value in TABLES[kind].items()
    }
    if resources.files(__name__).joinpath(f"{name}_columns.sql").is_file():
        if staged:
            rows = sql.SQL("(SELECT * FROM pg_temp.{} ORDER BY id) AS x").format(
                staging(name, kind)
            )
        else:
            types = sql.SQL(", ").join(sql.SQL(f"{c} {t}") for c, t in columns(name))
            rows = sql.SQL("jsonb_to_recordset(%(rows)s::jsonb) AS x({})").format(types)
        idents["rows"] = rows
    return sql.SQL(query(name)).format(**idents)
