"""`beproduct-sync report …` on the hand-checked plan: JSON for scripts, tables for people."""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest

from tests.helpers import schedule
from tests.helpers.cli import run_cli


@pytest.fixture
def url(db_url: str) -> str:
    schedule.load(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f"ALTER DATABASE \"{name}\" SET ops_api.today = '{schedule.TODAY}'")
    return db_url


def report(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("report", *args, env={"DATABASE_URL": url, "BEPRODUCT_SYNC_LOG_FORMAT": "json"})


def test_progress_as_json_and_as_a_table(url: str) -> None:
    done = report(url, "progress", "fixture plan", "--json")
    assert done.returncode == 0, done.stderr
    p = json.loads(done.stdout)
    assert (p["total"], p["completed"], p["late"]) == (8, 1, 5)
    table = report(url, "progress", str(schedule.PLAN))
    assert table.returncode == 0, table.stderr
    assert "FIXTURE PLAN" in table.stdout and "DEV" in table.stdout


def test_late_critical_path_and_workload(url: str) -> None:
    late = json.loads(report(url, "late", "FIXTURE", "--json").stdout)
    assert [m["milestone_name"] for m in late] == [
        "D LOOP", "E LOOP", "B SUBMIT", "F ORPHAN", "G NO RULE",
    ]  # fmt: skip
    path = json.loads(report(url, "critical-path", "FIXTURE", "--json").stdout)
    assert [m["milestone_name"] for m in path["critical_path"]] == ["B SUBMIT", "C APPROVE"]
    assert path["latest"][0]["days_past_plan_end"] == 2
    weeks = json.loads(report(url, "workload", "--json").stdout)
    assert [(w["week_start"], w["open_milestones"]) for w in weeks] == [
        ("2026-01-05", 6),
        ("2026-01-12", 1),
    ]
    table = report(url, "critical-path", "FIXTURE")
    assert table.returncode == 0 and "C APPROVE" in table.stdout


def test_an_unknown_plan_or_bad_option_is_a_readable_error(url: str) -> None:
    done = report(url, "progress", "no such plan")
    assert done.returncode == 2
    assert "no plan has the id or a name like" in done.stderr
    assert "Traceback" not in done.stderr
    bad = report(url, "workload", "--from", "yesterday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
