"""bench/service.py end to end with tiny numbers: it runs, answers every request and reports
every figure and target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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


BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench(script: str, url: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--url", url, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.slow
def test_end_to_end_benchmark_applies_every_event_both_ways_and_reports_the_ratio(
    pg_server_url: str,
) -> None:
    report = _bench("end_to_end.py", pg_server_url, "--events", "150", "--connections", "4")
    assert report["reference"]["applied"] == 150
    e2e = report["end_to_end"]
    assert e2e["errors"] == 0
    assert sum(e2e["statuses"].values()) == 150
    assert set(e2e["statuses"]) <= {"applied", "stale"}
    [ratio, errors] = report["targets"]
    assert ratio["value"] == round(e2e["events_per_s"] / report["reference"]["events_per_s"], 2)
    assert errors["value"] == 0 and errors["pass"] is True
    assert "loadavg_at_start" in report["host"]


@pytest.mark.slow
def test_memory_benchmark_drains_the_backlog_and_reports_the_peak(pg_server_url: str) -> None:
    report = _bench("memory.py", pg_server_url, "--backlog", "300")
    assert report["processes"] == 2  # serve and its worker child
    assert 0 < report["peak_rss_mb"]["serve"] <= report["peak_rss_mb"]["tree"]
    assert report["targets"][0]["value"] == report["peak_rss_mb"]["tree"]


@pytest.mark.slow
def test_backfill_benchmark_reruns_without_writing_anything(pg_server_url: str) -> None:
    report = _bench(
        "backfill_vs_dlt.py",
        pg_server_url,
        *("--folders", "1", "--plans", "2", "--styles", "5", "--materials", "2", "--no-dlt"),
    )
    assert report["ours_first"]["rows"] == 2 * (5 + 2)
    assert report["ours_rerun_no_change"]["rows_changed"] == 0
    assert report["ours_rerun_no_change"]["milestones_changed"] == 0
    assert [t["figure"] for t in report["targets"]] == ["no-change rerun, command seconds"]


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
