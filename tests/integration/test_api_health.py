"""What the dashboard reads of the BeProduct API and reconcile: each pass recorded in
ops.reconcile_run, each component's view of the API (headroom, last error) in ops.api_health."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.reconcile import reconcile_all
from beproduct_sync.config import Settings
from beproduct_sync.errors import BeProductUnavailable
from beproduct_sync.testing.fake import FakeBeProduct, Sizes

UTC = ZoneInfo("UTC")
SIZES = Sizes(folders=1, plans=2, styles=3, milestones=4, materials=1, material_milestones=2)


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    with FakeBeProduct.running(seed=7, sizes=SIZES) as f:
        yield f


def settings_for(fake: FakeBeProduct) -> Settings:
    values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
    values.update(
        beproduct_api_backoff_base_seconds=0.01,
        beproduct_api_backoff_max_seconds=0.02,
        beproduct_api_max_retries=1,
    )
    return Settings(_env_file=None, **values)


def rows(url: str, sql: str) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(sql).fetchall()


def test_backfill_then_reconcile_record_their_passes_and_the_apis_headroom(
    db_url: str, fake: FakeBeProduct
) -> None:
    async def go() -> None:
        async with BeProductClient(settings_for(fake)) as client:
            await backfill.run(db_url, client, backfill.Options(), UTC)
        with psycopg.connect(db_url) as conn:  # one drift: a milestone changed here
            conn.execute(
                "UPDATE ops.tracking_plan_style_timeline SET status = 'REJECTED',"
                " status_label = 'Rejected' WHERE id = (SELECT id"
                " FROM ops.tracking_plan_style_timeline"
                " WHERE status IS DISTINCT FROM 'REJECTED' ORDER BY id LIMIT 1)"
            )
        async with BeProductClient(settings_for(fake)) as client:
            await reconcile_all(db_url, client, UTC)

    asyncio.run(go())
    runs = rows(db_url, "SELECT * FROM ops.reconcile_run")
    health = {r["component"]: r for r in rows(db_url, "SELECT * FROM ops.api_health")}
    assert len(runs) == 1
    assert (runs[0]["plans"], runs[0]["drift"], runs[0]["fix"], runs[0]["error"]) == (
        2,
        1,
        False,
        None,
    )
    assert runs[0]["finished_at"] is not None
    assert set(health) == {"backfill", "reconcile"}
    for seen in health.values():
        assert seen["calls"] > 0
        assert seen["rate_limit"] is not None and seen["rate_remaining"] is not None
        assert 0 <= seen["rate_remaining"] <= seen["rate_limit"]
        assert seen["rate_reset_at"] is not None and seen["last_ok_at"] is not None
        assert seen["last_error"] is None


def test_a_failed_reconcile_pass_records_its_error_and_the_apis(
    db_url: str, fake: FakeBeProduct
) -> None:
    async def go() -> None:
        async with BeProductClient(settings_for(fake)) as client:
            await backfill.run(db_url, client, backfill.Options(), UTC)
        fake.fault(status=503)
        async with BeProductClient(settings_for(fake)) as client:
            await reconcile_all(db_url, client, UTC)

    with pytest.raises(BeProductUnavailable):
        asyncio.run(go())
    run = rows(db_url, "SELECT * FROM ops.reconcile_run")[0]
    health = rows(db_url, "SELECT * FROM ops.api_health WHERE component = 'reconcile'")[0]
    assert run["finished_at"] is not None
    assert run["error"] is not None and "HTTP 503" in run["error"]
    assert health["last_error"] is not None and "HTTP 503" in health["last_error"]
    assert health["last_error_at"] is not None
