"""Reconcile against the adversarial fake BeProduct: normalised comparison, rows newer here,
fixes that converge while webhooks keep arriving, warnings for unknown statuses, exit codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from beproduct_sync import db
from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.reconcile import PlanReport, reconcile_all
from beproduct_sync.apply.policy import Policy
from beproduct_sync.config import Settings
from beproduct_sync.inbox.log import record
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from tests.helpers.apply import apply_one
from tests.helpers.cli import run_cli

UTC = ZoneInfo("UTC")
POLICY = Policy(zone=UTC)
NEWER_HERE = "newer_here"
MILESTONES = (
    "SELECT id, status, status_label, due_date, late, source_version"
    " FROM ops.tracking_plan_style_timeline ORDER BY id"
)
SIZES = Sizes(folders=2, plans=2, styles=8, milestones=5, materials=2, material_milestones=2)


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    with FakeBeProduct.running(seed=19, sizes=SIZES) as f:
        yield f


def settings_for(fake: FakeBeProduct) -> Settings:
    values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
    values.update(beproduct_api_backoff_base_seconds=0.01, beproduct_api_backoff_max_seconds=0.05)
    return Settings(_env_file=None, **values)


def q(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


async def run_backfill(url: str, fake: FakeBeProduct) -> None:
    async with BeProductClient(settings_for(fake)) as client:
        await backfill.run(url, client, backfill.Options(), UTC)


async def reconcile(url: str, fake: FakeBeProduct, fix: bool = False) -> list[PlanReport]:
    async with BeProductClient(settings_for(fake), page_size=3) as client:
        return await reconcile_all(url, client, UTC, fix=fix)


def kinds(reports: list[PlanReport]) -> list[tuple[str, str, str | None]]:
    return sorted((d.kind, d.row_id, d.milestone_id) for r in reports for d in r.drift)


async def deliver(url: str, bodies: list[dict[str, Any]]) -> list[str]:
    """Record and apply webhook bodies, one by one, as a worker would."""
    statuses = []
    async with await db.aconnect(url, autocommit=True) as conn:
        for body in bodies:
            digest = body_digest(canonical(body))
            async with conn.transaction():
                received = await record(conn, body, digest)
            statuses.append((await apply_one(conn, received.id, body, digest, POLICY)).status)
    return statuses


async def test_spellings_case_and_late_are_not_drift(db_url: str, fake: FakeBeProduct) -> None:
    # Fails before the normalised comparison: the webhook's "Approved with corrections" / "NA"
    # (in whatever case) against REST's "Approved with Corrections" / "N/A", and the webhook's
    # Late snapshot against REST's computed late, were all reported as drift.
    row = fake.world.rows()[0]
    for m, status in zip(
        row.milestones, ("Approved with corrections", "NA", "In Progress"), strict=False
    ):
        fake.change_milestone(row.id, m.id, status=status, late=not m.late)
    await run_backfill(db_url, fake)
    assert await deliver(db_url, [fake.on_create(row)]) == ["applied"]
    labels = {
        label
        for (label,) in q(
            db_url,
            "SELECT status_label FROM ops.tracking_plan_style_timeline WHERE plan_style_id = %s",
            row.id,
        )
    }
    assert {"Approved with Corrections", "N/A"} & labels == set()  # the webhook's spellings
    assert kinds(await reconcile(db_url, fake)) == []


async def test_a_webhook_after_the_snapshot_is_newer_here_and_fix_keeps_it(
    db_url: str, fake: FakeBeProduct
) -> None:
    # Fails before `newer_here`: a webhook newer than the API's copy was reported as drift.
    await run_backfill(db_url, fake)
    row = fake.world.rows()[1]
    m = row.milestones[0]
    was = m.status
    new = "Rejected" if was != "Rejected" else "Approved"
    change = fake.change_milestone(row.id, m.id, status=new)
    assert await deliver(db_url, [fake.on_change(change)]) == ["applied"]
    m.status = was  # BeProduct served the row as it was before this change
    reports = await reconcile(db_url, fake)
    assert kinds(reports) == [(NEWER_HERE, row.id, m.id)]
    assert all(d.kind == NEWER_HERE for r in reports for d in r.drift)
    await reconcile(db_url, fake, fix=True)
    assert q(
        db_url, "SELECT status::text FROM ops.tracking_plan_style_timeline WHERE id = %s", m.id
    ) == [(new.upper(),)]


async def test_share_lists_are_compared_as_sets_of_ids(db_url: str, fake: FakeBeProduct) -> None:
    await run_backfill(db_url, fake)
    row = fake.world.rows()[2]
    m = row.milestones[1]
    partner = fake.world.partners[0]
    with psycopg.connect(db_url, autocommit=True) as conn:
        # The same partner in the webhook's shape: not drift.
        conn.execute(
            "UPDATE ops.tracking_plan_style_timeline SET shared_with = %s WHERE id = %s",
            (json.dumps([{"value": partner.name, "code": partner.id}]), row.milestones[0].id),
        )
    fake.change_milestone(row.id, row.milestones[0].id, share_with=[partner.name])
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ops.tracking_plan_style_timeline SET shared_with = %s WHERE id = %s",
            (
                json.dumps(
                    [{"value": "Someone Else", "code": "00000000-0000-4000-8000-000000000009"}]
                ),
                m.id,
            ),
        )
    reports = await reconcile(db_url, fake)
    drift = [d for r in reports for d in r.drift]
    # Fails before share lists were compared: the replaced partner went unnoticed.
    assert [(d.kind, d.milestone_id) for d in drift] == [("milestone", m.id)]
    assert set(drift[0].fields) == {"shared"}


async def test_unknown_api_statuses_are_kept_as_warnings_by_backfill_and_reconcile(
    db_url: str, fake: FakeBeProduct
) -> None:
    # Fails before: the warnings were computed and dropped.
    row = fake.world.rows()[3]
    fake.change_milestone(row.id, row.milestones[0].id, status="On Hold (vendor)")
    await run_backfill(db_url, fake)
    fake.change_milestone(row.id, row.milestones[1].id, status="Parked")
    await reconcile(db_url, fake, fix=True)
    warnings = q(
        db_url,
        "SELECT sync_log_id, severity, entity_id, message FROM ops.import_errors ORDER BY id",
    )
    assert [(w[0], w[1], w[2]) for w in warnings] == [
        (None, "warning", row.milestones[0].id),
        (None, "warning", row.milestones[1].id),
    ]
    assert warnings[0][3].startswith("unknown status 'On Hold (vendor)'")
    assert warnings[0][3].endswith("(from backfill)")
    assert warnings[1][3].startswith("unknown status 'Parked'")
    assert warnings[1][3].endswith("(from reconcile)")


async def test_after_fix_an_immediate_reconcile_finds_no_drift_while_webhooks_arrive(
    db_url: str, fake: FakeBeProduct
) -> None:
    """The contract: `reconcile --fix`, webhooks arriving all the while, then `reconcile`
    exits 0 with no drift; a second `--fix` writes nothing (no value flip-flops)."""
    await run_backfill(db_url, fake)
    styles = fake.world.rows("Style")
    missing, extra, inactive, changed = styles[0], styles[5], styles[9], styles[12]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM ops.tracking_timeline_assignment a"
            " USING ops.tracking_plan_style_timeline t"
            " WHERE a.timeline_id = t.id AND t.plan_style_id = %s",
            (missing.id,),
        )
        conn.execute(
            "DELETE FROM ops.tracking_plan_style_timeline WHERE plan_style_id = %s", (missing.id,)
        )
        conn.execute("DELETE FROM ops.tracking_plan_style WHERE id = %s", (missing.id,))
        conn.execute(
            "UPDATE ops.tracking_plan_style SET active = false WHERE id = %s", (inactive.id,)
        )
        conn.execute(
            "UPDATE ops.tracking_plan_style_timeline"
            " SET status = 'COMPLETE', due_date = '1999-01-01' WHERE id = %s",
            (changed.milestones[0].id,),
        )
        conn.execute("DELETE FROM ops.tracking_timeline_assignment")
    # In BeProduct, with their webhooks lost: a row removed, a milestone changed, a row added.
    fake.remove_style(extra.id)
    fake.change_milestone(styles[14].id, status="Waiting On")
    fake.add_style(next(iter(fake.world.plans)))

    stop = asyncio.Event()
    delivered: list[str] = []

    async def webhooks() -> None:
        while not stop.is_set():
            delivered.extend(await deliver(db_url, fake.webhook_stream(1)))
            await asyncio.sleep(0.002)

    sender = asyncio.create_task(webhooks())
    try:
        fixed = await reconcile(db_url, fake, fix=True)
    finally:
        stop.set()
        await sender
    assert len(delivered) >= 5
    assert set(delivered) <= {"applied", "stale"}
    assert sum(r.fixed for r in fixed) > 0
    # Whatever webhooks settled first, every injected difference is gone.
    assert q(db_url, "SELECT active FROM ops.tracking_plan_style WHERE id = %s", extra.id) == [
        (False,)
    ]
    assert q(db_url, "SELECT active FROM ops.tracking_plan_style WHERE id = %s", inactive.id) == [
        (True,)
    ]
    assert q(
        db_url,
        "SELECT count(*) FROM ops.tracking_plan_style_timeline WHERE plan_style_id = %s",
        missing.id,
    ) == [(len(missing.milestones),)]
    assert q(
        db_url,
        "SELECT due_date::text <> '1999-01-01' FROM ops.tracking_plan_style_timeline WHERE id = %s",
        changed.milestones[0].id,
    ) == [(True,)]

    env = {**fake.env(), "DATABASE_URL": db_url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"}
    check = run_cli("reconcile", "--json", env=env)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert sum(r["drift_total"] for r in json.loads(check.stdout)) == 0

    before = q(
        db_url,
        MILESTONES,
    )
    again = await reconcile(db_url, fake, fix=True)
    assert sum(r.fixed for r in again) == 0
    assert (
        q(
            db_url,
            MILESTONES,
        )
        == before
    )
    assert q(db_url, "SELECT active FROM ops.tracking_plan_style WHERE id = %s", extra.id) == [
        (False,)
    ]


def test_reconcile_exit_codes(db_url: str, fake: FakeBeProduct) -> None:
    env = {**fake.env(), "DATABASE_URL": db_url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"}
    assert run_cli("backfill", env=env).returncode == 0
    assert run_cli("reconcile", env=env).returncode == 0
    fake.remove_style(fake.world.rows()[0].id)
    drift = run_cli("reconcile", env=env)
    assert drift.returncode == 3
    assert "1 drift item(s) in 1 plan(s)" in drift.stdout
    assert run_cli("reconcile", "--fix", env=env).returncode == 0
    assert run_cli("reconcile", env=env).returncode == 0
    fake.fault(status=400, endpoint="style_timeline")
    broken = run_cli("reconcile", env=env)
    assert broken.returncode == 1
    assert "rejected" in broken.stderr and "rerun" in broken.stderr
    assert "Traceback" not in broken.stderr
