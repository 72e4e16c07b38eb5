"""The dashboard in a real headless Chromium against a real `serve` and real workers: sign in,
watch the counts move as the real samples arrive (without a reload), see an injected failure
dead-lettered, replay it and see it applied; no console errors, no request leaving 127.0.0.1.
Skipped, loudly, only when no Chromium is installed (.ci/run installs Debian's)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, expect

from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.reconcile import reconcile_all
from beproduct_sync.config import Settings
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from tests.helpers.browser import Seen, browser_page, screenshot
from tests.helpers.cli import SECRET, Served, cli, env_with, serving
from tests.helpers.samples import SAMPLE_NAMES, load_sample

READ_TOKEN = "browser-reader-token"
WRITE_TOKEN = "browser-writer-token"
FAILING_STYLE = "MSP26O73"  # the OnCreate and OnDelete samples; the OnChange is MSP26B30A
WAIT_MS = 60_000


def service_env(db_url: str, **extra: str) -> dict[str, str]:
    return env_with(
        DATABASE_URL=db_url,
        BEPRODUCT_WEBHOOK_SECRET=SECRET,
        BEPRODUCT_SYNC_API_TOKENS=READ_TOKEN,
        BEPRODUCT_SYNC_API_WRITE_TOKENS=WRITE_TOKEN,
        BEPRODUCT_SYNC_DASHBOARD_REFRESH_SECONDS="0.5",
        BEPRODUCT_SYNC_MAX_ATTEMPTS="1",
        BEPRODUCT_SYNC_POLL_SECONDS="0.2",
        **extra,
    )


@contextmanager
def worker(tmp_path: Path, env: dict[str, str], name: str) -> Iterator[subprocess.Popen[str]]:
    """A `beproduct-sync worker` process, stopped with SIGTERM (killed if it hangs)."""
    with (tmp_path / f"{name}.log").open("w") as sink:
        proc = subprocess.Popen(
            cli("worker", "--workers", "1"), env=env, cwd=tmp_path, stderr=sink, text=True
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post_samples(served: Served) -> list[int]:
    ids = []
    for name in SAMPLE_NAMES:
        reply = httpx.post(
            served.base + "/webhooks/beproduct/tracking",
            json=load_sample(name),
            headers={"Authorization": f"Bearer {SECRET}"},
        )
        assert reply.status_code == 202, reply.text
        ids.append(int(reply.json()["id"]))
    return ids


def statuses(db_url: str) -> dict[int, str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT id, status FROM ops.beproduct_sync_log").fetchall()
    return {int(i): str(s) for i, s in rows}


def sign_in(page: Page, base: str, token: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login?next=/")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page).to_have_url(base + "/")
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()


def count(page: Page, status: str) -> str:
    return page.get_by_test_id(f"count-{status}").inner_text()


def assert_clean(seen: Seen) -> None:
    assert seen.console_errors == [], seen.console_errors
    assert seen.page_errors == [], seen.page_errors
    assert seen.blocked == [], seen.blocked
    assert seen.requests, "the page made no request at all"
    assert all(r.startswith("http://127.0.0.1:") for r in seen.requests), seen.requests


def test_operations_counts_move_live_and_a_dead_letter_is_replayed_from_the_browser(
    tmp_path: Path, db_url: str
) -> None:
    faulty = service_env(db_url, BEPRODUCT_SYNC_FAULT_STYLE_NUMBERS=FAILING_STYLE)
    healthy = service_env(db_url)
    with (
        serving(tmp_path, healthy, "--workers", "0") as served,
        browser_page() as (page, seen),
    ):
        sign_in(page, served.base, WRITE_TOKEN)
        expect(page.get_by_test_id("role")).to_have_text("write")
        assert (count(page, "applied"), count(page, "dead")) == ("0", "0")
        expect(page.locator("canvas[data-drawn=true]")).to_have_count(1)
        page.evaluate("window.__sameDocument = 'yes'")  # gone if the page ever reloads

        with worker(tmp_path, faulty, "faulty-worker"):
            ids = post_samples(served)
            expect(page.get_by_test_id("count-dead")).to_have_text("2", timeout=WAIT_MS)
            expect(page.get_by_test_id("count-applied")).to_have_text("1", timeout=WAIT_MS)
        create_id = ids[0]
        dead_row = page.get_by_test_id(f"dead-{create_id}")
        expect(dead_row).to_contain_text("injected failure for style MSP26O73")
        expect(dead_row).to_contain_text("OnCreate")
        expect(page.get_by_test_id("queue-depth")).to_have_text("0")
        screenshot(page, tmp_path, "operations-live")
        assert statuses(db_url)[create_id] == "dead"

        # The cause is gone (a worker without the fault); Replay sends the event back.
        with worker(tmp_path, healthy, "healthy-worker"):
            page.get_by_test_id(f"replay-{create_id}").click()
            expect(page.get_by_test_id("notice")).to_contain_text(
                f"Event {create_id} is back in the queue."
            )
            expect(dead_row).to_have_count(0, timeout=WAIT_MS)
            expect(page.get_by_test_id("count-applied")).to_have_text("2", timeout=WAIT_MS)
            expect(page.get_by_test_id("count-dead")).to_have_text("1")
        assert statuses(db_url)[create_id] == "applied"
        assert page.evaluate("window.__sameDocument") == "yes"
        expect(page.get_by_test_id("events-24h")).to_have_text("3 in all", timeout=WAIT_MS)
        assert_clean(seen)


def backfill_and_reconcile(db_url: str) -> None:
    """A small fake account copied in, one milestone changed here, then a reconcile pass:
    the API, backfill and reconcile panels all have something to show."""
    sizes = Sizes(folders=1, plans=3, styles=4, milestones=5, materials=1, material_milestones=2)
    with FakeBeProduct.running(seed=5, sizes=sizes) as fake:
        values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
        settings = Settings(_env_file=None, **values)

        async def go() -> None:
            async with BeProductClient(settings) as client:
                await backfill.run(db_url, client, backfill.Options(), ZoneInfo("UTC"))
            with psycopg.connect(db_url) as conn:
                conn.execute(
                    "UPDATE ops.tracking_plan_style_timeline SET status = 'REJECTED',"
                    " status_label = 'Rejected' WHERE id = (SELECT id"
                    " FROM ops.tracking_plan_style_timeline"
                    " WHERE status IS DISTINCT FROM 'REJECTED' ORDER BY id LIMIT 1)"
                )
            async with BeProductClient(settings) as client:
                await reconcile_all(db_url, client, ZoneInfo("UTC"))

        asyncio.run(go())


def test_every_operations_panel_shows_the_api_reconcile_and_backfill_state(
    tmp_path: Path, db_url: str
) -> None:
    backfill_and_reconcile(db_url)
    env = service_env(db_url, BEPRODUCT_SYNC_FAULT_STYLE_NUMBERS=FAILING_STYLE)
    with (
        serving(tmp_path, env, "--workers", "1", "--worker-processes", "0") as served,
        browser_page() as (page, seen),
    ):
        sign_in(page, served.base, WRITE_TOKEN)
        post_samples(served)
        expect(page.get_by_test_id("count-dead")).to_have_text("2", timeout=WAIT_MS)
        expect(page.get_by_test_id("count-applied")).to_have_text("1", timeout=WAIT_MS)
        expect(page.get_by_test_id("api-backfill")).to_contain_text("none")
        expect(page.get_by_test_id("api-reconcile")).to_contain_text("none")
        expect(page.get_by_test_id("reconcile-last")).to_contain_text("1 drift over 3 plans")
        expect(page.get_by_test_id("backfill-runs")).to_contain_text("done")
        page.reload()  # the chart is drawn on load with all three events
        expect(page.get_by_test_id("events-24h")).to_have_text("3 in all")
        expect(page.locator("canvas[data-drawn=true]")).to_have_count(1)
        screenshot(page, tmp_path, "operations")
        assert_clean(seen)


def test_a_read_token_sees_no_replay_button_and_sign_out_ends_the_session(
    tmp_path: Path, db_url: str
) -> None:
    env = service_env(db_url, BEPRODUCT_SYNC_FAULT_STYLE_NUMBERS=FAILING_STYLE)
    with (
        serving(tmp_path, env, "--workers", "1", "--worker-processes", "0") as served,
        browser_page(width=390, height=844) as (page, seen),
    ):
        sign_in(page, served.base, READ_TOKEN)
        expect(page.get_by_test_id("role")).to_have_text("read only")
        post_samples(served)
        expect(page.get_by_test_id("count-dead")).to_have_text("2", timeout=WAIT_MS)
        expect(page.locator("[data-testid^=replay-]")).to_have_count(0)
        screenshot(page, tmp_path, "operations-phone")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(served.base + "/login")
        page.goto(served.base + "/")
        expect(page).to_have_url(served.base + "/login?next=/")
        assert_clean(seen)


def test_insecure_dev_shows_the_dashboard_without_sign_in_under_a_loud_banner(
    tmp_path: Path, db_url: str
) -> None:
    env = env_with(DATABASE_URL=db_url)
    with (
        serving(tmp_path, env, "--workers", "0", "--insecure-dev") as served,
        browser_page(dark=True) as (page, seen),
    ):
        page.goto(served.base + "/")
        expect(page.get_by_test_id("insecure-banner")).to_contain_text("INSECURE DEV MODE")
        expect(page.locator("canvas[data-drawn=true]")).to_have_count(1)
        screenshot(page, tmp_path, "operations-dark")
        assert "dashboard is open to anyone" in served.logged()
        assert_clean(seen)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The browser talks to 127.0.0.1 directly, whatever proxy the shell names."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
