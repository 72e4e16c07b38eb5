"""A small fake BeProduct account backfilled into a test database, with the read model's
"today" set inside its plans so some milestones are late and some are not."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import Behaviour

SIZES = Sizes(folders=1, plans=3, styles=8, milestones=10, materials=0)


def backfilled(db_url: str, sizes: Sizes = SIZES) -> str:
    """Backfill a fake account into `db_url`; set the database's `ops_api.today` to the 70th
    percentile of its milestones' planned dates (new sessions see it); return that date."""
    with FakeBeProduct.running(
        seed=11, sizes=sizes, behaviour=Behaviour(seconds_per_row=0)
    ) as fake:
        values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
        settings = Settings(_env_file=None, **values)

        async def go() -> None:
            async with BeProductClient(settings) as client:
                await backfill.run(db_url, client, backfill.Options(), ZoneInfo("UTC"))

        asyncio.run(go())
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT percentile_disc(0.7) WITHIN GROUP (ORDER BY plan_date)::text"
            " FROM ops.tracking_plan_style_timeline"
        ).fetchone()
        assert row is not None and row[0] is not None
        today = str(row[0])
        name = conninfo_to_dict(db_url)["dbname"]
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET ops_api.today = {}").format(
                sql.Identifier(str(name)), sql.Literal(today)
            )
        )
    return today


def rows(db_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query in a new session (which sees the database's `ops_api.today`)."""
    with psycopg.connect(db_url) as conn:
        return conn.execute(query, params).fetchall()
