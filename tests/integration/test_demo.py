"""The README demo: `serve` pointed at `fake-beproduct`, the real samples sent with `send`,
ends with enriched plan, folder and milestone names in the detail view."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg

from tests.helpers.cli import (
    SECRET,
    cli,
    env_with,
    free_port,
    serving,
)
from tests.helpers.samples import SAMPLE_NAMES, sample_path


def test_serve_with_the_fake_api_enriches_the_real_samples(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    fake = subprocess.Popen(
        cli(
            "fake-beproduct",
            "--port",
            str(port),
            "--plans",
            "1",
            "--styles",
            "2",
            "--milestones",
            "3",
            "--materials",
            "0",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert fake.stdout is not None
        api_env: dict[str, str] = {}
        while len(api_env) < 6:
            key, _, value = fake.stdout.readline().strip().partition("=")
            assert key.startswith("BEPRODUCT_"), key
            api_env[key] = value
        env = env_with(DATABASE_URL=db_url, BEPRODUCT_WEBHOOK_SECRET=SECRET, **api_env)
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
            assert sent.returncode == 0, sent.stderr
            deadline = time.monotonic() + 30
            while True:
                with psycopg.connect(db_url) as conn:
                    rows = conn.execute(
                        "SELECT plan_name, folder_name, milestone_name"
                        " FROM ops.tracking_plan_style_timeline_detail"
                        " WHERE style_number = 'MSP26O73' AND milestone_name IS NOT NULL"
                    ).fetchall()
                if len(rows) == 25 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            code, _, err = served.stop()
    finally:
        fake.terminate()
        fake.communicate(timeout=10)
    assert code == 0, err
    assert len(rows) == 25
    assert {(r[0], r[1]) for r in rows} == {("GREYSON 2026 SPRING DROP 1", "GREYSON 2026 SPRING")}
    assert "TECHPACKS PASS OFF" in {r[2] for r in rows}
