"""Enrichment against the fake BeProduct API over real HTTP and a real Postgres: the database is
the cache, an API outage delays names but never events, webhooks newer than the API win."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY
from psycopg import AsyncConnection

from beproduct_sync import bootstrap, db
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.enricher import MAX_PAUSE_SECONDS, run_enricher
from beproduct_sync.api.jobs import ALL_FOLDERS, EnrichConfig
from beproduct_sync.bootstrap import Runtime, policy_from
from beproduct_sync.config import Settings
from beproduct_sync.inbox.log import record
from beproduct_sync.inbox.report import gather
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import Behaviour, RateLimits
from beproduct_sync.testing.fake.model import Folder, MilestoneDef, Plan, to_ticks
from tests.helpers.apply import apply_one
from tests.helpers.samples import load_sample

SIZES = Sizes(folders=3, plans=4, styles=6, milestones=6, materials=0, material_milestones=1)
SAMPLE_PLAN = "4b7d6906-1413-44bb-bcdd-47b7f9cc5643"
SAMPLE_FOLDER = "136625d5-d9cc-4139-8747-d98b85314676"


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    # Folders carry `brand` here, so its mapping is checked; BeProduct documents no brand.
    with FakeBeProduct.running(
        seed=11, sizes=SIZES, behaviour=Behaviour(folder_brand=True)
    ) as running:
        # Ten plans in three folders (4 + 3 + 3): drop one plan from two of the folders.
        for folder in list(running.world.folders)[1:]:
            plan = next(p for p in running.world.plans.values() if p.folder_id == folder)
            del running.world.plans[plan.id]
        yield running


def settings_for(db_url: str, fake: FakeBeProduct, **overrides: Any) -> Settings:
    env = {k.lower(): v for k, v in fake.env().items()}
    values: dict[str, Any] = {
        **env,
        "database_url": db_url,
        "beproduct_api_max_retries": 1,
        "beproduct_api_backoff_base_seconds": 0.02,
        "beproduct_api_backoff_max_seconds": 0.05,
        "beproduct_api_timeout_seconds": 5,
        "beproduct_sync_enrich_poll_seconds": 0.05,
        "beproduct_sync_enrich_retry_base_seconds": 0.1,
        "beproduct_sync_enrich_retry_max_seconds": 0.3,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def runtime_for(settings: Settings) -> Runtime:
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    return Runtime(settings=settings, url=url, policy=policy_from(settings), embedded=False)


@asynccontextmanager
async def enricher(rt: Runtime) -> AsyncIterator[asyncio.Event]:
    """The enricher running in this loop against the fake, until the block ends."""
    stop = asyncio.Event()
    async with BeProductClient(rt.settings, max_pause=MAX_PAUSE_SECONDS) as client:
        config = EnrichConfig.from_settings(rt.settings)
        task = asyncio.create_task(run_enricher(rt.url, config, client, stop))
        try:
            yield stop
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def apply_bodies(
    conn: AsyncConnection[Any], rt: Runtime, bodies: Iterable[dict[str, Any]]
) -> list[str]:
    """Store every body (one transaction), then apply each in order as a worker would."""
    stored = []
    async with conn.transaction():
        for body in bodies:
            digest = body_digest(canonical(body))
            stored.append((await record(conn, body, digest), body, digest))
    statuses = []
    for received, body, digest in stored:
        outcome = await apply_one(conn, received.id, body, digest, rt.policy)
        statuses.append(outcome.status)
    return statuses


async def scalar(conn: AsyncConnection[Any], sql: str) -> Any:
    cur = await conn.execute(sql)
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def drained(conn: AsyncConnection[Any], timeout: float = 15.0) -> float:
    """Wait until no enrichment job is left; returns the seconds it took."""
    started = time.monotonic()
    while await scalar(conn, "SELECT count(*) FROM ops.enrichment_job"):
        assert time.monotonic() - started < timeout, "enrichment did not catch up"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def lookups(result: str) -> float:
    return (
        REGISTRY.get_sample_value("beproduct_sync_cache_lookups_total", {"result": result}) or 0.0
    )


def add_plan(
    fake: FakeBeProduct,
    plan_id: str,
    folder_id: str,
    definitions: dict[str, str],
    modified_at: str,
    name: str = "SAMPLE PLAN",
) -> None:
    """Teach the fake a plan (and its folder) with these milestone definition ids → names."""
    world = fake.world
    at = to_ticks(modified_at)
    with world.lock:
        world.folders.setdefault(folder_id, Folder(folder_id, "GREYSON", "GREYSON", True, at, at))
        defs = [
            MilestoneDef(
                id=d,
                department="PRE-PRODUCTION | CUSTOMER",
                action=text,
                short=text[:12],
                page_name=None,
                days=0,
                plan_date=at,
            )
            for d, text in definitions.items()
        ]
        world.plans[plan_id] = Plan(
            id=plan_id,
            name=name,
            description="sample",
            folder_id=folder_id,
            start=to_ticks("2025-09-01T00:00:00Z"),
            end=to_ticks("2026-06-30T00:00:00Z"),
            active=True,
            created_at=at,
            modified_at=at,
            created_by=world.users[0],
            modified_by=world.users[0],
            style_defs=defs,
            material_defs=[],
        )


async def test_a_thousand_events_fetch_each_plan_once_and_the_folder_list_once(
    db_url: str, fake: FakeBeProduct
) -> None:
    bodies = fake.webhook_stream(1000)
    plans = {b["data"]["planId"] for b in bodies}
    rt = runtime_for(settings_for(db_url, fake))
    hits, misses = lookups("hit"), lookups("miss")
    async with await db.aconnect(db_url, autocommit=True) as conn:
        async with enricher(rt):
            statuses = await apply_bodies(conn, rt, bodies)
            await drained(conn)
        assert set(statuses) <= {"applied", "stale"}
        assert fake.count("plan") <= len(plans) == 10
        assert fake.count("folders") == 1, fake.stats.to_json()
        named = await scalar(
            conn,
            "SELECT count(*) FROM ops.tracking_plan"
            " WHERE name IS NOT NULL AND start_date IS NOT NULL",
        )
        assert named == len(plans)
        assert (
            await scalar(
                conn, "SELECT count(*) FROM ops.tracking_folder WHERE name IS NULL OR brand IS NULL"
            )
            == 0
        )
        assert (
            await scalar(
                conn,
                "SELECT count(*) FROM ops.tracking_plan_style_timeline_detail"
                " WHERE milestone_name IS NULL OR plan_name IS NULL"
                " OR folder_name IS NULL",
            )
            == 0
        )
    hit, miss = lookups("hit") - hits, lookups("miss") - misses
    ratio = hit / (hit + miss)
    print(f"\ncache lookups: {hit:.0f} hits, {miss:.0f} misses, hit ratio {ratio:.2%}")
    assert hit + miss == 2 * len(bodies)
    assert ratio >= 0.98


async def test_an_api_outage_delays_names_but_every_event_is_applied_at_once(
    db_url: str, fake: FakeBeProduct
) -> None:
    bodies = fake.webhook_stream(200)
    plans = {b["data"]["planId"] for b in bodies}
    rt = runtime_for(settings_for(db_url, fake))
    fake.fault(endpoint="plan", status=500)  # the outage lasts until the faults are cleared
    fake.fault(endpoint="folders", status=429, retry_after=0.05)
    async with await db.aconnect(db_url, autocommit=True) as conn:
        async with enricher(rt):
            statuses = await apply_bodies(conn, rt, bodies)
            assert set(statuses) <= {"applied", "stale"}
            assert (
                await scalar(
                    conn,
                    "SELECT count(*) FROM ops.beproduct_sync_log"
                    " WHERE status NOT IN ('applied', 'stale')",
                )
                == 0
            )
            while await scalar(
                conn,
                "SELECT count(*) FROM ops.enrichment_job"
                " WHERE attempts >= 2 AND last_error LIKE '%%HTTP 500%%'",
            ) < len(plans):
                await asyncio.sleep(0.02)
            assert (
                await scalar(conn, "SELECT count(*) FROM ops.tracking_plan WHERE name IS NOT NULL")
                == 0
            )
            fake.clear_faults()  # the window ends
            catch_up = await drained(conn)
        print(f"\ncatch-up after the outage: {catch_up:.2f}s")
        assert catch_up < 5
        assert fake.count("plan", 500) >= 2 * len(plans)
        assert fake.count("folders", 429) > 0
        assert fake.count("plan", 200) == len(plans)
        assert fake.count("folders", 200) == 1
        assert await scalar(
            conn, "SELECT count(*) FROM ops.tracking_plan WHERE name IS NOT NULL"
        ) == len(plans)
        assert (
            await scalar(conn, "SELECT count(*) FROM ops.tracking_folder WHERE name IS NULL") == 0
        )
        definitions = {
            d.id
            for p in plans
            for d in (*fake.world.plan(p).style_defs, *fake.world.plan(p).material_defs)
        }
        cur = await conn.execute(
            "SELECT id::text FROM ops.tracking_timeline_template_item WHERE name IS NOT NULL"
        )
        assert {r[0] for r in await cur.fetchall()} == definitions
        assert (
            await scalar(
                conn,
                "SELECT count(*) FROM ops.beproduct_sync_log"
                " WHERE status NOT IN ('applied', 'stale')",
            )
            == 0
        )


async def test_the_detail_view_shows_milestone_names_for_the_real_oncreate_once_enriched(
    db_url: str, fake: FakeBeProduct
) -> None:
    body = load_sample("tracking_oncreate.json")
    defs = {
        m["TimeLineId"]: f"MILESTONE {i:02d}"
        for i, m in enumerate(body["data"]["after"]["Timelines"])
    }
    add_plan(
        fake,
        SAMPLE_PLAN,
        SAMPLE_FOLDER,
        defs,
        "2025-11-01T00:00:00Z",
        name="GREYSON 2026 SPRING DROP 1",
    )
    rt = runtime_for(settings_for(db_url, fake))
    async with await db.aconnect(db_url, autocommit=True) as conn:
        assert await apply_bodies(conn, rt, [body]) == ["applied"]
        before = await scalar(
            conn,
            "SELECT count(*) FROM ops.tracking_plan_style_timeline_detail"
            " WHERE milestone_name IS NOT NULL",
        )
        assert before == 0  # an OnCreate carries ids only
        async with enricher(rt):
            await drained(conn)
        cur = await conn.execute(
            "SELECT template_item_id::text, milestone_name, plan_name, folder_name, brand,"
            " style_number, start_date::text FROM ops.tracking_plan_style_timeline_detail"
        )
        rows = await cur.fetchall()
    assert len(rows) == 25
    assert {r[0]: r[1] for r in rows} == defs
    assert {r[2:] for r in rows} == {
        ("GREYSON 2026 SPRING DROP 1", "GREYSON", "GREYSON", "MSP26O73", "2025-09-01")
    }


@pytest.mark.parametrize(
    ("plan_modified", "expected"),
    [
        ("2025-11-01T00:00:00Z", "TECHPACKS PASS OFF"),  # API older than the webhook: webhook stays
        ("2025-11-07T00:00:00Z", "RENAMED IN BEPRODUCT"),  # API newer: the rename arrives
    ],
)
async def test_a_webhook_definition_is_overwritten_only_by_a_newer_api_plan(
    db_url: str, fake: FakeBeProduct, plan_modified: str, expected: str
) -> None:
    change = load_sample("tracking_onchangetimeline.json")  # dated 2025-11-06T05:10
    definition = change["data"]["timeLineSchema"]["Id"]
    add_plan(fake, SAMPLE_PLAN, SAMPLE_FOLDER, {definition: "RENAMED IN BEPRODUCT"}, plan_modified)
    rt = runtime_for(settings_for(db_url, fake))
    async with await db.aconnect(db_url, autocommit=True) as conn:
        assert await apply_bodies(conn, rt, [change]) == ["applied"]
        async with enricher(rt):
            await drained(conn)
        assert fake.count("plan") == 1
        cur = await conn.execute(
            "SELECT name, enriched_at IS NOT NULL FROM ops.tracking_timeline_template_item"
            " WHERE id = %s",
            (definition,),
        )
        assert await cur.fetchone() == (expected, True)
        assert (
            await scalar(conn, f"SELECT name FROM ops.tracking_plan WHERE id = '{SAMPLE_PLAN}'")
            == "SAMPLE PLAN"
        )


async def test_a_plan_the_api_does_not_know_is_looked_up_once_and_not_again(
    db_url: str, fake: FakeBeProduct
) -> None:
    rt = runtime_for(settings_for(db_url, fake))
    body = load_sample("tracking_oncreate.json")  # its plan is not in the fake: 404
    async with await db.aconnect(db_url, autocommit=True) as conn:
        await apply_bodies(conn, rt, [body])
        async with enricher(rt):
            await drained(conn)
            await apply_bodies(conn, rt, [load_sample("tracking_ondelete.json")])
            await drained(conn)
        assert fake.count("plan", 404) == 1
        assert await scalar(
            conn,
            "SELECT enriched_at IS NOT NULL AND name IS NULL"
            f" FROM ops.tracking_plan WHERE id = '{SAMPLE_PLAN}'",
        )


async def test_scheduling_queues_a_fetch_once_and_a_stale_plan_again_after_the_ttl(
    db_url: str, fake: FakeBeProduct
) -> None:
    rt = runtime_for(settings_for(db_url, fake, beproduct_sync_enrich_ttl_seconds=60))
    async with await db.aconnect(db_url, autocommit=True) as conn:
        await apply_bodies(
            conn,
            rt,
            [load_sample("tracking_oncreate.json"), load_sample("tracking_onchangetimeline.json")],
        )
        cur = await conn.execute(
            "SELECT kind, entity_id::text, status FROM ops.enrichment_job ORDER BY kind DESC"
        )
        assert await cur.fetchall() == [
            ("plan", SAMPLE_PLAN, "pending"),
            ("folders", str(ALL_FOLDERS), "pending"),
        ]
        await conn.execute("DELETE FROM ops.enrichment_job")
        await conn.execute("UPDATE ops.tracking_plan SET enriched_at = now(), name = 'P'")
        await conn.execute("UPDATE ops.tracking_folder SET enriched_at = now(), name = 'F'")
        await apply_bodies(conn, rt, [load_sample("tracking_ondelete.json")])
        assert await scalar(conn, "SELECT count(*) FROM ops.enrichment_job") == 0
        await conn.execute(
            "UPDATE ops.tracking_plan SET enriched_at = now() - interval '61 seconds'"
        )
        body = load_sample("tracking_ondelete.json")
        body["date"] = "2025-11-07T00:00:00.0000000Z"  # a different event of the same plan
        await apply_bodies(conn, rt, [body])
        cur = await conn.execute("SELECT kind FROM ops.enrichment_job")
        assert await cur.fetchall() == [("plan",)]


async def test_status_reports_enrichment_jobs_waiting_and_failing(
    db_url: str, fake: FakeBeProduct
) -> None:

    rt = runtime_for(settings_for(db_url, fake))
    async with await db.aconnect(db_url, autocommit=True) as conn:
        await apply_bodies(conn, rt, [load_sample("tracking_oncreate.json")])
        await conn.execute(
            "UPDATE ops.enrichment_job SET status = 'failed', attempts = 3 WHERE kind = 'plan'"
        )
    report = await gather(db_url)
    assert report["enrichment_jobs"] == {"pending": 1, "running": 0, "failed": 1}
    assert report["events"]["applied"] == 1


async def test_enricher_task_runs_only_when_the_api_is_configured_and_stops_with_the_flag(
    db_url: str, fake: FakeBeProduct
) -> None:
    stop = asyncio.Event()
    unconfigured = runtime_for(settings_for(db_url, fake, beproduct_refresh_token=None))
    assert bootstrap.enricher_work(unconfigured, stop) is None
    rt = runtime_for(settings_for(db_url, fake))
    add_plan(fake, SAMPLE_PLAN, SAMPLE_FOLDER, {}, "2025-11-01T00:00:00Z")
    async with await db.aconnect(db_url, autocommit=True) as conn:
        await apply_bodies(conn, rt, [load_sample("tracking_oncreate.json")])
        work = bootstrap.enricher_work(rt, stop)
        assert work is not None
        task = asyncio.create_task(work)
        await drained(conn)
        assert await scalar(conn, "SELECT name FROM ops.tracking_plan") == "SAMPLE PLAN"
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_jobs_wait_in_the_queue_for_an_hour_window_instead_of_holding_a_request(
    db_url: str, fake: FakeBeProduct
) -> None:
    # Fails before: the 429 was retried twice without waiting and the job came back in a
    # fraction of a second, whatever the window said.
    rt = runtime_for(settings_for(db_url, fake))
    add_plan(fake, SAMPLE_PLAN, SAMPLE_FOLDER, {}, "2025-11-01T00:00:00Z")
    # The hour's budget spent by another client.
    fake.set_rate_limits(RateLimits(per_minute=0, per_hour=1, per_day=0))
    fake.limiter.hit()
    stop = asyncio.Event()
    async with await db.aconnect(db_url, autocommit=True) as conn:
        await apply_bodies(conn, rt, [load_sample("tracking_oncreate.json")])
        work = bootstrap.enricher_work(rt, stop)
        assert work is not None
        task = asyncio.create_task(work)
        deadline = time.monotonic() + 10
        while not await scalar(conn, "SELECT count(*) FROM ops.enrichment_job WHERE attempts > 0"):
            assert time.monotonic() < deadline, "the enricher never tried"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 5)
        cur = await conn.execute(
            "SELECT extract(epoch FROM next_attempt_at - now()), last_error, status"
            " FROM ops.enrichment_job ORDER BY kind"
        )
        jobs = await cur.fetchall()
    assert fake.count("folders", 429) + fake.count("plan", 429) >= 1
    tried = [j for j in jobs if j[1]]
    assert tried
    for wait, error, status in tried:
        assert float(wait) > 3000  # the hour window's reset, not a retry backoff
        assert "rate limit is used up" in error
        assert status == "failed"
