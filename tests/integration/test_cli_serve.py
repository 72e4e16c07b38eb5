"""`beproduct-sync serve` and `send` as an operator runs them: real processes, real signals."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.cli import app
from beproduct_sync.config import Settings
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from tests.helpers.cli import CLEARED, SECRET, cli, env_with, free_port, serving
from tests.helpers.samples import SAMPLE_NAMES, sample_path


def test_serve_refuses_to_start_without_a_secret_and_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    # An unreachable database: the refusal must come before any connection attempt.
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 2
    assert "BEPRODUCT_WEBHOOK_SECRET" in result.output
    assert "--insecure-dev" in result.output


def test_serve_receives_applies_and_exits_0_on_sigterm(tmp_path: Path, db_url: str) -> None:
    env = env_with(DATABASE_URL=db_url, BEPRODUCT_WEBHOOK_SECRET=f"{SECRET},next-one")
    with serving(tmp_path, env, "--workers", "1") as served:
        sent = subprocess.run(
            cli(
                "send",
                str(sample_path(SAMPLE_NAMES[0]).parent),
                "--url",
                served.base + "/webhooks/beproduct/tracking",
            ),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(db_url) as conn:
                statuses = [
                    r[0]
                    for r in conn.execute("SELECT status FROM ops.beproduct_sync_log ORDER BY id")
                ]
            if statuses == ["applied"] * 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        code, out, err = served.stop()
    assert sent.returncode == 0, sent.stderr
    assert [line.split(" ", 1)[0] for line in sent.stdout.splitlines()] == ["202"] * 3
    assert statuses == ["applied"] * 3
    assert code == 0, err
    assert "/webhooks/beproduct/tracking" in out
    assert SECRET not in out + err


def test_serve_with_insecure_dev_accepts_anyone_and_warns_loudly(
    tmp_path: Path, db_url: str
) -> None:
    env = env_with(DATABASE_URL=db_url)
    with serving(tmp_path, env, "--workers", "0", "--insecure-dev") as served:
        reply = httpx.post(
            served.base + "/webhooks/beproduct/tracking", json={"eventType": "OnCreate"}
        )
        code, _, err = served.stop()
    assert reply.status_code == 202
    assert "INSECURE DEV MODE" in err
    assert code == 0


def test_send_exits_non_zero_when_the_service_refuses_a_file(tmp_path: Path, db_url: str) -> None:
    env = env_with(DATABASE_URL=db_url, BEPRODUCT_WEBHOOK_SECRET=SECRET)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with serving(tmp_path, env, "--workers", "0") as served:
        url = served.base + "/webhooks/beproduct/tracking"
        sent = subprocess.run(
            cli("send", str(sample_path(SAMPLE_NAMES[0])), str(bad), "--url", url),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        served.stop()
    assert sent.returncode == 1
    assert sent.stdout.startswith("202 ")
    assert "400 " in sent.stderr
    assert "invalid_json" in sent.stderr


def test_send_exits_non_zero_when_no_service_is_listening(tmp_path: Path) -> None:
    env = env_with(BEPRODUCT_WEBHOOK_SECRET=SECRET)
    url = f"http://127.0.0.1:{free_port()}/webhooks/beproduct/tracking"
    sent = subprocess.run(
        cli("send", str(sample_path(SAMPLE_NAMES[0])), "--url", url),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert sent.returncode == 1
    assert "is `beproduct-sync serve` running" in sent.stderr


def test_serve_reconciles_on_schedule_and_stops_its_api_tasks_on_sigterm(
    tmp_path: Path, db_url: str
) -> None:
    sizes = Sizes(folders=1, plans=1, styles=2, milestones=2, materials=0, material_milestones=0)
    with FakeBeProduct.running(seed=4, sizes=sizes) as fake:
        values = {k.lower(): v for k, v in fake.env().items()}
        settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]

        async def copy_from_api() -> None:
            async with BeProductClient(settings) as client:
                await backfill.run(db_url, client, backfill.Options(), ZoneInfo("UTC"))

        asyncio.run(copy_from_api())
        milestone = fake.world.rows("Style")[0].milestones[0].id
        drifted = "SELECT due_date::text FROM ops.tracking_plan_style_timeline WHERE id = %s"
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE ops.tracking_plan_style_timeline SET due_date = '1999-01-01' WHERE id = %s",
                (milestone,),
            )
        env = env_with(
            DATABASE_URL=db_url,
            BEPRODUCT_WEBHOOK_SECRET=SECRET,
            **fake.env(),
            BEPRODUCT_SYNC_RECONCILE_INTERVAL_SECONDS="0.2",
        )
        with serving(tmp_path, env, "--workers", "1") as served:
            # Its API tasks run in the worker child: stopping before they started would test
            # nothing (the child would have nothing to stop).
            served.wait_logged('"enricher_started"')
            deadline = time.monotonic() + 30
            while True:
                with psycopg.connect(db_url) as conn:
                    (due,) = conn.execute(drifted, (milestone,)).fetchone() or (None,)
                if due != "1999-01-01" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            started = time.monotonic()
            code, _, err = served.stop()
            stopped_in = time.monotonic() - started
    assert due != "1999-01-01", err
    assert code == 0, err
    assert '"reconcile_done"' in err
    # The enricher and the reconciler were awaited, not abandoned, and promptly.
    assert '"enricher_stopped"' in err
    assert "background_task_cancelled" not in err
    assert stopped_in < 10
    assert fake.refresh_token not in err
    assert fake.tokens.latest_refresh_token not in err


def test_serve_with_worker_processes_applies_in_a_child_and_stops_it_on_sigterm(
    tmp_path: Path, db_url: str
) -> None:
    env = env_with(DATABASE_URL=db_url, BEPRODUCT_WEBHOOK_SECRET=SECRET)
    with serving(tmp_path, env, "--worker-processes", "1", "--workers", "1") as served:
        for name in SAMPLE_NAMES:
            r = httpx.post(
                served.base + "/webhooks/beproduct/tracking",
                content=sample_path(name).read_bytes(),
                headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"},
            )
            assert r.status_code == 202
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(db_url) as conn:
                rows = conn.execute(
                    "SELECT status, locked_by FROM ops.beproduct_sync_log"
                ).fetchall()
            if [s for s, _ in rows] == ["applied"] * 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        with psycopg.connect(db_url) as conn:
            pids = [r[0] for r in conn.execute("SELECT pid FROM ops.worker_process").fetchall()]
        # The child runs at a lower CPU priority (BEPRODUCT_SYNC_WORKER_NICE, default 10), so
        # the receiver gets the core first.
        niceness = {pid: nice_of(pid) for pid in [served.proc.pid, *pids]}
        code, _, err = served.stop()
    assert [s for s, _ in rows] == ["applied"] * 3
    assert len(pids) == 1 and pids[0] != served.proc.pid
    assert niceness[pids[0]] == min(niceness[served.proc.pid] + 10, 19)
    assert code == 0, err
    assert "worker_process_started" in err
    assert "worker_process_stopped" in err
    # The child, not serve itself, applied them: serve runs no worker loops of its own.
    assert "workers_started" in err
    assert err.count("workers_started") == 1


def test_serve_announces_the_receivers_own_webhook_path() -> None:
    from beproduct_sync.cli import serve
    from beproduct_sync.web import app as web_app

    assert serve.WEBHOOK_PATH == web_app.WEBHOOK_PATH


def nice_of(pid: int) -> int:
    """A process's nice value (the 19th field of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])
