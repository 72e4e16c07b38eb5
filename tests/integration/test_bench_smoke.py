"""bench/service.py end to end with tiny numbers: it runs, answers every request and reports
every figure and target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "service.py"


@pytest.mark.slow
def test_service_benchmark_reports_every_target_with_no_request_errors(
    pg_server_url: str,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--url",
            pg_server_url,
            "--rate",
            "50",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
            "--backlog",
            "200",
            "--worker-configs",
            "1x1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout)
    for kind in ("create", "mixed"):
        assert report["ack"][kind]["errors"] == 0
        assert report["ack"][kind]["status_codes"] == {"202": 50}
        assert sum(report["lag"][kind]["statuses"].values()) == 60  # 10 warm-up + 50
        assert set(report["lag"][kind]["statuses"]) <= {"applied", "stale"}
        assert report["drain"][kind]["runs"][0]["events"] == 200
        assert set(report["drain"][kind]["runs"][0]["statuses"]) <= {"applied", "stale"}
    assert {(t["figure"], t["stream"]) for t in report["targets"]} == {
        (figure, kind)
        for figure in ("ack_p99_ms", "ack_errors", "lag_p95_s", "drain_events_per_s")
        for kind in ("create", "mixed")
    }
    assert isinstance(report["pass"], bool)
    assert "loadavg_at_start" in report["host"]


RATELIMIT = Path(__file__).resolve().parents[2] / "bench" / "backfill_ratelimit.py"


@pytest.mark.slow
def test_rate_limited_backfill_benchmark_writes_every_row_served_through_its_pauses(
    pg_server_url: str,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(RATELIMIT),
            *("--folders", "1", "--plans", "3", "--styles", "20"),
            *("--per-minute", "8", "--minute-seconds", "1", "--neighbour-every", "0.3"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "DATABASE_URL": pg_server_url},
    )
    report = json.loads(done.stdout)
    assert report["rows"]["in_account"] == 3 * (20 + 10)
    assert report["rows"]["written_equals_served"] is True
    assert report["incomplete"] == []
    # How many pauses a tiny account takes depends on timing; the shape of the report does not.
    assert {"total", "after_429", "after_429_by_source", "pacing", "seconds"} == set(
        report["pauses"]
    )
    assert isinstance(report["enough_pauses"], bool)
    assert report["total_seconds"] > 0


REVERSE = Path(__file__).resolve().parents[2] / "bench" / "reverse_sync.py"


@pytest.mark.slow
def test_reverse_sync_benchmark_confirms_every_request_and_loses_none(pg_server_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(REVERSE), "--requests", "40", "--plans", "2", "--per-minute", "600"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "DATABASE_URL": pg_server_url},
    )
    report = json.loads(done.stdout)
    assert report["requests"] == 40
    assert report["confirmed"] == 40
    assert report["lost"] == 0
    assert report["api_calls"]["edit"] >= 2  # one per plan and batch at least
    assert report["api_calls_per_request"] > 0
    assert report["requests_per_second"] > 0
