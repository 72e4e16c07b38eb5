"""Backfill and reconciliation against the fake BeProduct API over real HTTP and a real Postgres."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from beproduct_sync import db
from beproduct_sync.api import backfill
from beproduct_sync.api import reconcile as reconcile_module
from beproduct_sync.api.client import BeProductClient, Listing
from beproduct_sync.api.reconcile import reconcile_all
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from beproduct_sync.apply.service import Entry, apply_batch
from beproduct_sync.apply.writer import ApplyResult, apply_api_rows
from beproduct_sync.config import Settings
from beproduct_sync.inbox.log import record
from beproduct_sync.model.body import canonical, digest
from beproduct_sync.model.rows import RowSet, map_status
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import RateLimits
from tests.helpers.cli import run_cli
from tests.helpers.clock import SkipAhead

UTC_ZONE = ZoneInfo("UTC")
SIZES = Sizes(folders=2, plans=2, styles=5, milestones=4, materials=2, material_milestones=3)
# 2 folders x 2 plans = 4 plans; 20 style rows x 4 = 80 milestones; 8 material rows x 3 = 24.


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    with FakeBeProduct.running(seed=7, sizes=SIZES) as f:
        yield f


def settings_for(fake: FakeBeProduct, **extra: Any) -> Settings:
    values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
    values.update(beproduct_api_backoff_base_seconds=0.01, beproduct_api_backoff_max_seconds=0.05)
    return Settings(_env_file=None, **values, **extra)


async def run_backfill(
    url: str, fake: FakeBeProduct, opts: backfill.Options | None = None, api_wrapper: Any = None
) -> dict[str, Any]:
    async with BeProductClient(settings_for(fake)) as client:
        api = api_wrapper(client) if api_wrapper else client
        return await backfill.run(url, api, opts or backfill.Options(page_size=2), UTC_ZONE)


def q(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def content(url: str) -> dict[str, list[Any]]:
    tables = [
        "tracking_folder",
        "tracking_plan",
        "tracking_timeline_template_item",
        "tracking_plan_style",
        "tracking_plan_style_timeline",
        "tracking_timeline_assignment",
        "tracking_plan_material",
        "tracking_plan_material_timeline",
    ]
    out = {}
    with psycopg.connect(url) as conn:
        for t in tables:
            cols = [
                c.name
                for c in conn.execute(f"SELECT * FROM ops.{t} LIMIT 0").description or []
                if c.name not in ("created_at", "updated_at", "enriched_at")
            ]
            out[t] = sorted(
                conn.execute(f"SELECT {', '.join(cols)} FROM ops.{t}").fetchall(), key=repr
            )
    return out


async def test_backfill_copies_the_whole_account_with_exact_values(
    db_url: str, fake: FakeBeProduct
) -> None:
    summary = await run_backfill(db_url, fake)
    assert (summary["plans"], summary["rows"], summary["milestones"]) == (4, 28, 104)
    counts = q(
        db_url,
        "SELECT (SELECT count(*) FROM ops.tracking_folder WHERE name IS NOT NULL),"
        " (SELECT count(*) FROM ops.tracking_plan WHERE name IS NOT NULL),"
        " (SELECT count(*) FROM ops.tracking_plan_style),"
        " (SELECT count(*) FROM ops.tracking_plan_style_timeline),"
        " (SELECT count(*) FROM ops.tracking_plan_material),"
        " (SELECT count(*) FROM ops.tracking_plan_material_timeline)",
    )[0]
    assert counts == (2, 4, 20, 80, 8, 24)
    row = fake.world.rows("Style")[0]
    m = row.milestones[0]
    (got,) = q(
        db_url,
        "SELECT s.style_number, s.color_name, t.status_label, t.template_item_id::text,"
        " (SELECT array_agg(assignee_id::text ORDER BY assignee_id::text)"
        "  FROM ops.tracking_timeline_assignment a WHERE a.timeline_id = t.id)"
        " FROM ops.tracking_plan_style s JOIN ops.tracking_plan_style_timeline t"
        " ON t.plan_style_id = s.id WHERE t.id = %s",
        m.id,
    )
    assert got[:4] == (row.header.number, row.color_name, m.status, m.timeline_id)
    assert (got[4] or []) == sorted(u.id for u in m.assigned_to)
    names = q(db_url, "SELECT count(*) FROM ops.tracking_timeline_template_item WHERE name IS NULL")
    assert names == [(0,)]


async def test_a_second_backfill_changes_nothing(db_url: str, fake: FakeBeProduct) -> None:
    await run_backfill(db_url, fake)
    before = content(db_url)
    again = await run_backfill(db_url, fake)
    assert again["resumed"] is False
    assert (again["rows_changed"], again["milestones_changed"]) == (0, 0)
    assert content(db_url) == before


@pytest.mark.parametrize("write_rows", [1, backfill.WRITE_ROWS], ids=["each-page", "grouped"])
async def test_an_interrupted_backfill_resumes_where_it_stopped(
    db_url: str, fake: FakeBeProduct, write_rows: int
) -> None:
    # After nine timeline pages, BeProduct fails for good (until the fault is cleared): each
    # plan's style walk is 3 pages, so at least one of the 4 plans finished and one did not.
    opts = backfill.Options(page_size=2, write_rows=write_rows)
    fake.fault(status=400, endpoint="style_timeline", skip=9)
    with pytest.raises(ExceptionGroup):
        await run_backfill(db_url, fake, opts)
    fake.clear_faults()
    partial = q(db_url, "SELECT count(*) FROM ops.tracking_plan_style")[0][0]
    assert 0 < partial < 20
    (done_before,) = q(db_url, "SELECT sum(rows_done) FROM ops.backfill_checkpoint")[0]
    summary = await run_backfill(db_url, fake, opts)
    assert summary["resumed"] is True
    # Written one page at a time, a walk cut short resumes at its next page; grouped, the
    # pages of a plan's walk (5 rows) are written together or not at all.
    assert (summary["resumed_pages"] >= 1) == (write_rows == 1)
    # Only the pages not yet written were fetched again.
    assert summary["rows"] == 28 - done_before
    assert q(db_url, "SELECT count(*) FROM ops.tracking_plan_style")[0][0] == 20
    assert q(db_url, "SELECT count(*) FROM ops.tracking_plan_style_timeline")[0][0] == 80


BIG = Sizes(folders=1, plans=1, styles=130, milestones=2, materials=0, material_milestones=0)


async def test_a_page_size_the_server_caps_never_leaves_rows_behind(db_url: str) -> None:
    # Fails before paging counted items: 150 asked, 100 served, and page arithmetic
    # ((0 + 1) * 150 >= 130) marked the plan done with 30 rows missing.
    with FakeBeProduct.running(seed=8, sizes=BIG) as big:
        summary = await run_backfill(db_url, big, backfill.Options(page_size=150))
        assert big.count("style_timeline") == 2
    assert summary["rows"] == 130
    assert summary["incomplete"] == []
    assert q(db_url, "SELECT count(*) FROM ops.tracking_plan_style")[0][0] == 130
    assert q(
        db_url, "SELECT page_size, done FROM ops.backfill_checkpoint WHERE kind = 'style'"
    ) == [(100, True)]


async def test_a_resumed_backfill_keeps_the_page_size_the_server_used(db_url: str) -> None:
    with FakeBeProduct.running(seed=8, sizes=BIG) as big:
        big.fault(status=400, endpoint="style_timeline", skip=1)
        with pytest.raises(ExceptionGroup):
            await run_backfill(db_url, big, backfill.Options(page_size=150))
        big.clear_faults()
        summary = await run_backfill(db_url, big, backfill.Options(page_size=150))
    assert summary["resumed"] is True
    assert summary["rows"] == 30
    assert q(db_url, "SELECT count(*) FROM ops.tracking_plan_style")[0][0] == 130


async def test_rows_removed_while_paging_do_not_leave_a_live_row_behind(
    db_url: str, fake: FakeBeProduct
) -> None:
    # Fails before paging counted items: removing a row of page 0 after it was served shifts
    # the next row onto page 0, where nobody looks again; page arithmetic called it done.
    plan_id = next(iter(fake.world.plans))
    rows = list(fake.world.plan(plan_id).styles)
    fake.after_page("Style", lambda: fake.remove_style(rows[0]))
    summary = await run_backfill(db_url, fake, backfill.Options(plans=(plan_id,), page_size=2))
    stored = {r for (r,) in q(db_url, "SELECT id::text FROM ops.tracking_plan_style")}
    assert set(rows[1:]) <= stored
    assert summary["walks_repeated"] == 1
    assert q(db_url, "SELECT bool_and(done) FROM ops.backfill_checkpoint") == [(True,)]


async def test_a_plan_whose_rows_never_hold_still_is_reported_and_not_marked_done(
    db_url: str, fake: FakeBeProduct
) -> None:
    plan_id = next(iter(fake.world.plans))

    def churn() -> None:  # a new row after every page served, for ever
        fake.add_style(plan_id)
        fake.after_page("Style", churn)

    fake.after_page("Style", churn)
    summary = await run_backfill(db_url, fake, backfill.Options(plans=(plan_id,), page_size=2))
    assert summary["incomplete"] == [{"plan_id": plan_id, "kind": "style"}]
    assert q(db_url, "SELECT done FROM ops.backfill_checkpoint WHERE kind = 'style'") == [(False,)]
    assert q(db_url, "SELECT finished_at IS NULL FROM ops.backfill_run") == [(True,)]


async def test_a_backfill_pauses_through_hour_windows_says_until_when_and_finishes(
    db_url: str, fake: FakeBeProduct
) -> None:
    # Fails before rate-limit pauses: the client retried a few times without waiting for the
    # hour window and the backfill failed.
    fake.set_rate_limits(RateLimits(per_minute=0, per_hour=6, per_day=0))
    time_ = SkipAhead(fake)
    shown: list[str] = []
    progress = backfill.Progress(on_change=lambda p: shown.append(p.status))
    async with BeProductClient(settings_for(fake), sleep=time_.sleep, clock=time_.clock) as client:
        client.on_pause = progress.paused
        summary = await backfill.run(
            db_url, client, backfill.Options(page_size=2), UTC_ZONE, progress=progress
        )
    assert (summary["rows"], summary["incomplete"]) == (28, [])
    assert summary["pauses"] >= 3
    assert summary["paused_seconds"] > 3 * 60
    assert any(s.startswith("pacing: paused until") for s in shown)
    assert q(db_url, "SELECT count(*) FROM ops.tracking_plan_style")[0][0] == 20


async def test_webhooks_newer_than_the_api_snapshot_survive_a_backfill(
    db_url: str, fake: FakeBeProduct, tmp_path: Any
) -> None:
    row = fake.world.rows("Style")[0]
    m = row.milestones[0]
    # A webhook announcing a change made after the API's copy of the row was last modified.
    body = fake.on_create(row)
    body["eventType"] = "OnChange"
    item: dict[str, Any] = {
        "Id": m.id,
        "TimeLineId": m.timeline_id,
        "Status": "Rejected",
        "Rev": None,
        "Final": None,
        "DueDate": None,
        "ProjectDate": None,
        "AssignedTo": [],
        "ShareWith": [],
        "Late": True,
        "SubmitsQuantity": 9,
    }
    short = {
        k: body["data"]["after"][k]
        for k in ("Id", "PlanId", "CompanyId", "MasterFolder", "HeaderId")
        if k in body["data"]["after"]
    }
    body["data"]["before"] = {**short, "TimeLineItem": item}
    body["data"]["after"] = {**short, "TimeLineItem": item}
    body["date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    path = tmp_path / "change.json"
    path.write_text(json.dumps(body))
    async with await db.aconnect(db_url, autocommit=True) as conn:
        assert (await ingest(conn, [path], Policy(zone=UTC_ZONE))).counts["applied"] == 1
    await run_backfill(db_url, fake)
    assert q(
        db_url,
        "SELECT status::text, late, submits_quantity FROM"
        " ops.tracking_plan_style_timeline WHERE id = %s",
        m.id,
    ) == [("REJECTED", True, 9)]
    # The rest of the row still came from the API.
    assert q(db_url, "SELECT color_name FROM ops.tracking_plan_style WHERE id = %s", row.id) == [
        (row.color_name,)
    ]


async def reconcile(url: str, fake: FakeBeProduct, fix: bool = False) -> list[Any]:
    async with BeProductClient(settings_for(fake)) as client:
        return await reconcile_all(url, client, UTC_ZONE, fix=fix)


async def test_reconcile_finds_each_kind_of_drift_and_fix_removes_it(
    db_url: str, fake: FakeBeProduct
) -> None:
    await run_backfill(db_url, fake)
    assert all(not r.drift for r in await reconcile(db_url, fake))
    styles = fake.world.rows("Style")
    missing, extra, inactive, changed = styles[0], styles[1], styles[2], styles[3]
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
            "UPDATE ops.tracking_plan_style_timeline SET status = 'COMPLETE',"
            " status_label = 'Complete', due_date = '1999-01-01' WHERE id = %s",
            (changed.milestones[0].id,),
        )
    fake.remove_style(extra.id)
    reports = await reconcile(db_url, fake)
    kinds = {(d.kind, d.row_id) for r in reports for d in r.drift}
    assert ("missing", missing.id) in kinds
    assert ("extra", extra.id) in kinds
    assert ("inactive", inactive.id) in kinds
    assert ("milestone", changed.id) in kinds
    (diff,) = [d for r in reports for d in r.drift if d.kind == "milestone"]
    assert diff.fields["due_date"][0] == "1999-01-01"

    await reconcile(db_url, fake, fix=True)
    assert [d for r in await reconcile(db_url, fake) for d in r.drift] == []
    assert q(
        db_url,
        "SELECT active, deleted_at IS NOT NULL FROM ops.tracking_plan_style WHERE id = %s",
        extra.id,
    ) == [(False, True)]
    assert q(
        db_url,
        "SELECT count(*) FROM ops.tracking_plan_style_timeline WHERE plan_style_id = %s",
        missing.id,
    ) == [(len(missing.milestones),)]


def test_backfill_and_reconcile_commands_work_end_to_end(db_url: str, fake: FakeBeProduct) -> None:
    env = {**fake.env(), "DATABASE_URL": db_url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=env)

    done = cli("backfill", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 28
    clean = cli("reconcile", "--json")
    assert clean.returncode == 0, clean.stderr
    assert all(r["counts"] == {} for r in json.loads(clean.stdout))
    fake.remove_style(fake.world.rows("Style")[0].id)
    drift = cli("reconcile")
    assert drift.returncode == 3
    assert "1 drift item(s)" in drift.stdout
    assert cli("reconcile", "--fix").returncode == 0
    assert cli("reconcile").returncode == 0


def test_backfill_since_with_an_offset_is_sent_in_utc_and_finds_the_change(
    db_url: str, fake: FakeBeProduct
) -> None:
    # Fails before --since was normalised: "…+05:00" went out as written, BeProduct read its
    # digits as UTC (five hours later than meant) and found nothing.
    env = {**fake.env(), "DATABASE_URL": db_url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"}
    assert run_cli("backfill", "--json", env=env).returncode == 0
    before = datetime.now(UTC) - timedelta(seconds=1)
    row = fake.world.rows("Style")[2]
    fake.change_milestone(row.id, status="Rejected")
    local = before.astimezone(timezone(timedelta(hours=5))).isoformat(timespec="seconds")
    done = run_cli("backfill", "--json", "--since", local, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 1
    bad = run_cli("backfill", "--since", "yesterday", env=env)
    assert bad.returncode == 2
    assert "--since" in bad.stderr and "ISO date" in bad.stderr


def test_backfill_without_api_settings_says_what_to_set(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEPRODUCT_")}
    done = subprocess.run(
        [sys.executable, "-m", "beproduct_sync", "backfill"],
        env={**env, "DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "BEPRODUCT_COMPANY" in done.stderr
    assert "Traceback" not in done.stderr


# When a webhook is dated relative to reconcile's snapshot: a few seconds after it, or half a
# minute before it (BeProduct's clock behind ours, or an API read that missed the change).
SKEWS = pytest.mark.parametrize(
    "skew", [timedelta(seconds=5), timedelta(seconds=-30)], ids=["after", "behind"]
)


async def receive_dated(url: str, body: dict[str, Any], skew: timedelta) -> datetime:
    """Receive and apply a webhook body dated `skew` from now (BeProduct's clock ahead of or
    behind ours); returns the date it carries."""
    dated = datetime.now(UTC) + skew
    body["date"] = dated.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    async with await db.aconnect(url, autocommit=True) as conn:
        async with conn.transaction():
            received = await record(conn, body)
        entry = Entry(received.id, received.payload, digest(canonical(body)))
        [outcome] = await apply_batch(conn, [entry], Policy(zone=UTC_ZONE))
    assert outcome.status == "applied"
    return dated


class WebhookDuringRead:
    """The real client, except that right after the plan's style rows have been read (the
    API's snapshot), something changes in BeProduct and its webhook, dated `skew` from now, is
    received and applied: it lands between reconcile's read and its comparison and fix."""

    def __init__(
        self,
        client: BeProductClient,
        url: str,
        change: Callable[[], dict[str, Any]],
        skew: timedelta,
    ) -> None:
        self.client, self.url, self.change, self.skew = client, url, change, skew
        self.dated: datetime | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def timeline_listing(self, plan_id: str, kind: str) -> Listing:
        listing = await self.client.timeline_listing(plan_id, kind)
        if kind != "Style":
            return listing
        self.dated = await receive_dated(self.url, self.change(), self.skew)
        return listing


@SKEWS
async def test_a_webhook_landing_during_a_reconcile_fix_pass_keeps_its_newer_state(
    db_url: str, fake: FakeBeProduct, skew: timedelta
) -> None:
    await run_backfill(db_url, fake)
    row, other = fake.world.rows("Style")[:2]
    racing, drifted = row.milestones[0], other.milestones[0]
    # Older drift in the same plan, which the same fix pass must repair.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ops.tracking_plan_style_timeline SET status = 'COMPLETE',"
            " status_label = 'Complete' WHERE id = %s",
            (drifted.id,),
        )

    def change() -> dict[str, Any]:
        done = fake.change_milestone(
            row.id, racing.id, status="Rejected", late=True, submits_quantity=7
        )
        return fake.on_change(done)

    async with BeProductClient(settings_for(fake)) as client:
        api = WebhookDuringRead(client, db_url, change, skew)
        [report] = await reconcile_all(db_url, api, UTC_ZONE, plans=[row.plan_id], fix=True)
    # Reconcile saw that the webhook's state, newer than the snapshot it had read, is newer
    # here (not drift), while the older edit is drift ...
    found = {(d.kind, d.milestone_id or d.row_id) for d in report.drift}
    assert ("milestone", drifted.id) in found
    assert ("milestone", racing.id) not in found
    assert any(kind == "newer_here" for kind, _ in found)
    # ... and its fix left alone what the webhook wrote, while it replaced the older drift.
    assert q(
        db_url,
        "SELECT status::text, late, submits_quantity, source_updated_at"
        " FROM ops.tracking_plan_style_timeline WHERE id = %s",
        racing.id,
    ) == [("REJECTED", True, 7, api.dated)]
    # (REST may spell the status differently from webhooks: compare the enum.)
    assert q(
        db_url,
        "SELECT status::text FROM ops.tracking_plan_style_timeline WHERE id = %s",
        drifted.id,
    ) == [(map_status(drifted.status),)]


@SKEWS
async def test_a_style_added_during_a_reconcile_fix_pass_is_not_retired_by_it(
    db_url: str, fake: FakeBeProduct, skew: timedelta
) -> None:
    await run_backfill(db_url, fake)
    plan = fake.world.rows("Style")[0].plan_id
    added: list[str] = []

    def change() -> dict[str, Any]:
        row = fake.add_style(plan)
        added.append(row.id)
        return fake.on_create(row)

    async with BeProductClient(settings_for(fake)) as client:
        api = WebhookDuringRead(client, db_url, change, skew)
        [report] = await reconcile_all(db_url, api, UTC_ZONE, plans=[plan], fix=True)
    # The read did not have the new style, but ours is newer than the read: not drift ...
    assert ("extra", added[0]) not in [(d.kind, d.row_id) for d in report.drift]
    # ... and the fix pass did not deactivate it.
    assert q(
        db_url,
        "SELECT active, deleted_at FROM ops.tracking_plan_style WHERE id = %s",
        added[0],
    ) == [(True, None)]


@SKEWS
async def test_a_style_re_added_while_a_fix_pass_retires_it_stays_active(
    db_url: str, fake: FakeBeProduct, skew: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run_backfill(db_url, fake)
    row = fake.world.rows("Style")[0]
    removal = fake.remove_style(row.id)
    dated: list[datetime] = []
    write_fix = apply_api_rows

    async def re_added_first(
        conn: psycopg.AsyncConnection[Any], rowsets: Sequence[RowSet], source: str
    ) -> ApplyResult:
        # BeProduct puts the row back (same id) after reconcile has listed the plan without it
        # and read our side, before its fix is written: the OnCreate is applied first.
        if not dated and any(r.record["id"] == row.id for r in rowsets):
            dated.append(await receive_dated(db_url, fake.on_create(removal.row), skew))
        return await write_fix(conn, rowsets, source)

    monkeypatch.setattr(reconcile_module, "apply_api_rows", re_added_first)
    async with BeProductClient(settings_for(fake)) as client:
        [report] = await reconcile_all(db_url, client, UTC_ZONE, plans=[row.plan_id], fix=True)
    # The pass saw the row as extra (it was, when read) and retired it as of the listing, less
    # the clock-skew margin: older than the re-add, which stays.
    assert [(d.kind, d.row_id) for d in report.drift] == [("extra", row.id)]
    assert q(
        db_url,
        "SELECT active, deleted_at, source_updated_at FROM ops.tracking_plan_style WHERE id = %s",
        row.id,
    ) == [(True, None, dated[0])]


async def test_unknown_statuses_in_api_rows_are_stored_as_warnings_by_backfill_and_reconcile(
    db_url: str, fake: FakeBeProduct
) -> None:
    row = fake.world.rows("Style")[0]
    unknown, empty = row.milestones[0], row.milestones[1]
    unknown.status, empty.status = "On Hold", ""
    await run_backfill(db_url, fake)
    warning = "SELECT sync_log_id, entity_type, entity_id, severity, message FROM ops.import_errors"
    assert q(db_url, warning) == [
        (
            None,
            "tracking",
            unknown.id,
            "warning",
            "unknown status 'On Hold' kept as status_label; status NULL (from backfill)",
        )
    ]
    assert q(
        db_url,
        "SELECT status, status_label FROM ops.tracking_plan_style_timeline WHERE id = ANY(%s)"
        " ORDER BY id = %s",
        [unknown.id, empty.id],
        empty.id,
    ) == [(None, "On Hold"), (None, None)]
    fake.change_milestone(row.id, unknown.id, status="Paused")
    await reconcile(db_url, fake, fix=True)
    assert q(db_url, warning + " ORDER BY id")[1:] == [
        (
            None,
            "tracking",
            unknown.id,
            "warning",
            "unknown status 'Paused' kept as status_label; status NULL (from reconcile)",
        )
    ]
