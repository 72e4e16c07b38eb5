"""The `beproduct-sync` command as outside checks use it: migrate, ingest, status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import psycopg

from beproduct_sync import __version__
from tests.helpers.cli import run_cli
from tests.helpers.samples import CASES, SAMPLE_NAMES, sample_path

SAMPLES = [str(sample_path(n)) for n in SAMPLE_NAMES]


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={"DATABASE_URL": db_url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"})


def test_migrate_then_ingest_the_real_payloads_prints_a_summary(empty_db_url: str) -> None:
    assert cli(empty_db_url, "migrate").returncode == 0
    done = cli(empty_db_url, "ingest", *SAMPLES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        "applied=3 duplicate=0 stale=0 ignored=0 failed=0"
    )
    again = cli(empty_db_url, "ingest", *SAMPLES)
    assert again.stdout.strip().splitlines()[-1] == (
        "applied=0 duplicate=3 stale=0 ignored=0 failed=0"
    )
    with psycopg.connect(empty_db_url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM ops.tracking_folder),"
            " (SELECT count(*) FROM ops.tracking_plan),"
            " (SELECT count(*) FROM ops.tracking_plan_style),"
            " (SELECT count(*) FROM ops.tracking_plan_style_timeline),"
            " (SELECT count(*) FROM ops.tracking_timeline_assignment)"
        ).fetchone()
    assert counts == (1, 1, 2, 26, 1)


def test_ingest_of_a_directory_takes_its_files_sorted_by_name(db_url: str, tmp_path: Path) -> None:
    for name in SAMPLE_NAMES:
        (tmp_path / name).write_bytes(sample_path(name).read_bytes())
    done = cli(db_url, "ingest", "--json", str(tmp_path))
    report = json.loads(done.stdout)
    assert [Path(f["path"]).name for f in report["files"]] == sorted(SAMPLE_NAMES)
    assert report["applied"] == 3


def test_ingest_exits_non_zero_when_a_file_fails(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    done = cli(db_url, "ingest", SAMPLES[0], str(bad))
    assert done.returncode == 1
    assert "failed=1" in done.stdout
    assert "not JSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_ingest_of_a_missing_path_says_so_plainly(db_url: str) -> None:
    done = cli(db_url, "ingest", "/nonexistent/payload.json")
    assert done.returncode == 2
    assert "no such file or directory: /nonexistent/payload.json" in done.stderr
    assert "Traceback" not in done.stderr


def test_status_json_has_one_documented_shape(db_url: str) -> None:
    cli(db_url, "ingest", *SAMPLES, str(CASES / "onchange_unknown_status.json"))
    done = cli(db_url, "status", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {
        "events",
        "queue_depth",
        "enrichment_jobs",
        "change_requests",
        "recent_errors",
    }
    assert report["events"] == {
        "pending": 0,
        "processing": 0,
        "applied": 4,
        "stale": 0,
        "ignored": 0,
        "failed": 0,
        "dead": 0,
    }
    assert report["queue_depth"] == 0
    assert set(report["enrichment_jobs"]) == {"pending", "running", "failed"}
    assert report["change_requests"] == dict.fromkeys(
        ("pending", "sending", "sent", "confirmed", "conflict", "rejected", "dead"), 0
    )
    (warning,) = report["recent_errors"]
    assert set(warning) == {
        "created_at",
        "severity",
        "entity_type",
        "entity_id",
        "sync_log_id",
        "message",
    }
    assert warning["severity"] == "warning"
    assert datetime.fromisoformat(warning["created_at"]).tzinfo is not None
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for key in report:
        assert f"`{key}`" in readme, key


def test_status_prints_each_count_once_for_people(db_url: str) -> None:
    cli(db_url, "ingest", *SAMPLES)
    done = cli(db_url, "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" 3\n") == 1  # applied, once
    assert "queue depth: 0" in done.stdout
    assert "enrichment jobs: pending" in done.stdout
    assert "{" not in done.stdout


def test_an_unreachable_database_is_a_clear_error_without_secrets(tmp_path: Path) -> None:
    url = "postgresql://someone:hunter2@127.0.0.1:1/nowhere?connect_timeout=2"
    done = cli(url, "status")
    assert done.returncode == 2
    assert "database cannot be reached" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_version_prints_the_installed_version() -> None:
    done = run_cli("--version", env={})
    assert (done.returncode, done.stdout) == (0, f"beproduct-sync {__version__}\n")


def test_without_database_url_or_the_embedded_extra_a_command_says_what_to_do(
    tmp_path: Path,
) -> None:
    blocked = (
        "import sys; sys.modules['pgserver'] = None; from beproduct_sync.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked, "status"],
        env={**os.environ, "DATABASE_URL": "", "BEPRODUCT_SYNC_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "DATABASE_URL" in done.stderr and "beproduct-sync[embedded]" in done.stderr
