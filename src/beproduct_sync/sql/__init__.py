"""Named SQL queries: the `.sql` files beside this module, loaded once by name.

Values are always `%(name)s` parameters. The only text ever filled in is a fixed identifier:
style and material rows live in tables of the same shape, and `kind_query` names them from
`TABLES` with psycopg.sql.Identifier, never from input.
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
def kind_query(name: str, kind: Kind) -> sql.Composed:
    """A named query with the style or material table names filled in."""
    idents: dict[str, sql.Composable] = {
        key: (sql.Identifier(value) if key == "parent_column" else sql.Identifier("ops", value))
        for key, value in TABLES[kind].items()
    }
    return sql.SQL(query(name)).format(**idents)
