"""Incremental backfill against the fake BeProduct API over real HTTP and a real Postgres: after
a complete pass, each plan's rows are asked for only if modified since (minus the skew margin)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from beproduct_sync.api import backfill
from beproduct_sync.errors import BeProductUnavailable
from beproduct_sync.testing.fake import FakeBeProduct
from beproduct_sync.testing.fake.model import Clock, to_ticks
from tests.helpers.cli import run_cli
from tests.integration.test_api_backfill_reconcile import SIZES, q, run_backfill

ALL_ROWS = 28  # SIZES: 4 plans x (5 style + 2 material rows)
WALKS = 8  # 4 plans x 2 kinds


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    with FakeBeProduct.running(seed=11, sizes=SIZES) as f:
        yield f


def synced_through(url: str, plan_id: str, kind: str) -> datetime:
    [(at,)] = q(
        url,
        "SELECT synced_through FROM ops.backfill_plan_sync WHERE plan_id = %s AND kind = %s",
        plan_id,
        kind,
    )
    assert isinstance(at, datetime)
    return at


def status_of(url: str, milestone_id: str) -> str:
    [(label,)] = q(
        url, "SELECT status_label FROM ops.tracking_plan_style_timeline WHERE id = %s", milestone_id
    )
    return str(label)


async def test_an_incremental_rerun_fetches_exactly_the_rows_changed_since_the_last_pass(
    db_url: str, fake: FakeBeProduct
) -> None:
    first = await run_backfill(db_url, fake)
    assert (first["mode"], first["rows"], first["walks_since"]) == ("incremental", ALL_ROWS, 0)
    styles = fake.world.rows("Style")
    changed = [styles[1], styles[7], styles[12]]  # in different plans
    for row in changed:
        fake.change_milestone(row.id, row.milestones[0].id, status="Rejected")
    material = fake.world.rows("Material")[3]
    fake.world.edit_row(material.id, size="XXL")

    again = await run_backfill(db_url, fake)
    assert again["walks_since"] == WALKS
    assert again["rows"] == len(changed) + 1  # nothing else was served
    # A refetched row's milestones carry its new version: all of them are rewritten.
    assert again["milestones_changed"] == sum(len(r.milestones) for r in [*changed, material])
    assert again["incomplete"] == []
    for row in changed:
        assert status_of(db_url, row.milestones[0].id) == "Rejected"
    assert q(db_url, "SELECT size FROM ops.tracking_plan_material WHERE id = %s", material.id) == [
        ("XXL",)
    ]

    # Nothing changed since: the rows changed within the margin before the last pass are served
    # again (that is what the margin is for) and nothing is written.
    quiet = await run_backfill(db_url, fake)
    assert quiet["rows"] == len(changed) + 1
    assert (quiet["rows_changed"], quiet["milestones_changed"]) == (0, 0)
    past = await run_backfill(db_url, fake, backfill.Options(page_size=2, margin_seconds=0))
    assert (past["rows"], past["pages"]) == (0, WALKS)  # one empty page per plan and kind


async def test_a_change_stamped_up_to_the_margin_before_the_last_pass_is_not_missed(
    db_url: str, fake: FakeBeProduct
) -> None:
    margin = 60.0
    opts = backfill.Options(page_size=2, margin_seconds=margin)
    await run_backfill(db_url, fake, opts)
    row, other = fake.world.rows("Style")[0], fake.world.rows("Style")[1]
    assert row.plan_id == other.plan_id
    edge = synced_through(db_url, row.plan_id, "style") - timedelta(seconds=margin)
    # BeProduct's clock lags ours by exactly the margin: the change is stamped at the bound the
    # next pass asks from (ModifiedAt Gte is inclusive).
    fake.world.clock = Clock(start=to_ticks(edge.isoformat()) - 1_234_567, step_seconds=0)
    fake.change_milestone(row.id, row.milestones[0].id, status="Rejected")
    # Lagging by less than the margin: also found.
    fake.world.clock = Clock(
        start=to_ticks((edge + timedelta(seconds=margin / 2)).isoformat()) - 1_234_567,
        step_seconds=0,
    )
    fake.change_milestone(other.id, other.milestones[0].id, status="Rejected")

    again = await run_backfill(db_url, fake, opts)
    assert again["rows"] == 2
    assert status_of(db_url, row.milestones[0].id) == "Rejected"
    assert status_of(db_url, other.milestones[0].id) == "Rejected"


async def test_a_full_pass_fetches_every_row_and_an_explicit_since_leaves_the_state_alone(
    db_url: str, fake: FakeBeProduct
) -> None:
    await run_backfill(db_url, fake)
    plan_id = fake.world.rows("Style")[0].plan_id
    before = synced_through(db_url, plan_id, "style")
    full = await run_backfill(db_url, fake, backfill.Options(page_size=2, full=True))
    assert (full["mode"], full["rows"], full["walks_since"]) == ("full", ALL_ROWS, 0)
    after_full = synced_through(db_url, plan_id, "style")
    assert after_full > before  # a complete full pass moves the bound on too
    since = await run_backfill(
        db_url, fake, backfill.Options(page_size=2, since="2020-01-01T00:00:00Z")
    )
    assert (since["mode"], since["rows"]) == ("since", ALL_ROWS)
    assert synced_through(db_url, plan_id, "style") == after_full


async def test_a_plan_whose_walk_came_back_short_is_walked_whole_next_time(
    db_url: str, fake: FakeBeProduct
) -> None:
    # A pass that never completed a plan records no bound for it: the next pass fetches all of it.
    fake.fault(status=400, endpoint="style_timeline", skip=3)
    with pytest.raises(ExceptionGroup):
        await run_backfill(db_url, fake, backfill.Options(page_size=2, restart=True))
    fake.clear_faults()
    done = q(db_url, "SELECT plan_id::text, kind FROM ops.backfill_plan_sync")
    resumed = await run_backfill(db_url, fake)
    assert resumed["incomplete"] == []
    assert q(db_url, "SELECT count(*) FROM ops.backfill_plan_sync") == [(WALKS,)]
    assert resumed["walks_since"] == 0  # the resumed run walks the rest without a bound
    assert len(done) < WALKS


def test_backfill_command_is_incremental_by_default_and_full_on_request(
    db_url: str, fake: FakeBeProduct
) -> None:
    env = {**fake.env(), "DATABASE_URL": db_url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"}
    first = run_cli("backfill", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["rows"] == ALL_ROWS
    row = fake.world.rows("Style")[4]
    fake.change_milestone(row.id, row.milestones[0].id, status="Rejected")
    again = run_cli("backfill", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["mode"], json.loads(again.stdout)["rows"]) == (
        "incremental",
        1,
    )
    full = run_cli("backfill", "--json", "--full", env=env)
    assert full.returncode == 0, full.stderr
    assert (json.loads(full.stdout)["mode"], json.loads(full.stdout)["rows"]) == ("full", ALL_ROWS)


async def test_an_incremental_pass_fetches_details_only_of_plans_modified_since_the_last(
    db_url: str, fake: FakeBeProduct
) -> None:
    opts = backfill.Options(page_size=2, margin_seconds=0)
    first = await run_backfill(db_url, fake, opts)
    plans = len({r.plan_id for r in fake.world.rows("Style")})
    assert (first["plans"], first["plans_unchanged"]) == (plans, 0)
    bounds = "SELECT plan_id, kind, synced_through FROM ops.backfill_plan_sync ORDER BY 1, 2"
    before = q(db_url, bounds)
    fake.stats.reset()
    quiet = await run_backfill(db_url, fake, opts)
    assert (quiet["plans"], quiet["plans_unchanged"]) == (plans, plans)
    assert fake.stats.requests["plan"] == 0
    # Nothing was found, yet every walk's bookkeeping was written (together, at the end): the
    # bounds moved on and the run is finished.
    after = q(db_url, bounds)
    assert [a[:2] for a in after] == [b[:2] for b in before]
    assert all(a[2] > b[2] for a, b in zip(after, before, strict=True))
    assert q(db_url, "SELECT count(*) FROM ops.backfill_run WHERE finished_at IS NULL") == [(0,)]

    # A row added to a plan moves its modifiedAt: that plan's details are fetched again (its
    # milestone definitions may have changed with it), and its new row is written.
    plan_id = fake.world.rows("Style")[0].plan_id
    added = fake.world.add_row(plan_id, "Style")
    fake.stats.reset()
    moved = await run_backfill(db_url, fake, opts)
    assert (moved["plans_unchanged"], moved["rows_changed"]) == (plans - 1, 1)
    assert fake.stats.requests["plan"] == 1
    assert q(
        db_url, "SELECT plan_id::text FROM ops.tracking_plan_style WHERE id = %s", added.id
    ) == [(plan_id,)]
    # A full pass fetches every plan's details.
    full = await run_backfill(db_url, fake, backfill.Options(page_size=2, full=True))
    assert full["plans_unchanged"] == 0


class _OnePlanDown:
    """The client, except that one plan's style rows cannot be fetched (BeProduct fails)."""

    def __init__(self, client: Any, plan_id: str) -> None:
        self._client, self._plan_id = client, plan_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def pages(self, path: str, endpoint: str, **kwargs: Any) -> AsyncIterator[Any]:
        if self._plan_id in path and "Style" in path:
            return self._down()
        pages: AsyncIterator[Any] = self._client.pages(path, endpoint, **kwargs)
        return pages

    async def _down(self) -> AsyncIterator[Any]:
        raise BeProductUnavailable("BeProduct is down for this plan")
        yield  # an async generator  # pragma: no cover


async def test_a_plan_that_fails_does_not_cost_the_other_plans_their_rows(
    db_url: str, fake: FakeBeProduct
) -> None:
    victim = fake.world.rows("Style")[0].plan_id
    with pytest.raises(ExceptionGroup) as failed:
        await run_backfill(db_url, fake, api_wrapper=lambda c: _OnePlanDown(c, victim))
    assert [type(e) for e in failed.value.exceptions] == [BeProductUnavailable]
    # Every other plan ran to its end: all their rows and complete walks are kept.
    assert q(
        db_url, "SELECT count(*) FROM ops.tracking_plan_style WHERE plan_id <> %s", victim
    ) == [(15,)]
    assert (
        q(
            db_url,
            "SELECT plan_id::text, kind FROM ops.backfill_checkpoint WHERE NOT done ORDER BY kind",
        )
        == []
    )
    assert q(db_url, "SELECT count(*) FROM ops.backfill_plan_sync") == [(WALKS - 2,)]
    resumed = await run_backfill(db_url, fake)
    assert (resumed["resumed"], resumed["rows"], resumed["incomplete"]) == (True, 7, [])
    assert q(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == [(20,)]


def test_backfill_command_names_failed_plans_in_one_line_and_exits_1(
    db_url: str, fake: FakeBeProduct
) -> None:
    fake.fault(status=400, endpoint="style_timeline", skip=2)
    env = {**fake.env(), "DATABASE_URL": db_url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"}
    failed = run_cli("backfill", "--json", env=env)
    assert failed.returncode == 1
    assert "plan(s) failed, the first: BeProduct rejected" in failed.stderr
    assert "Traceback" not in failed.stderr
