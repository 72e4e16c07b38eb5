"""The service as a role that owns nothing: what it may not do is one clear line (never a
traceback), `/readyz` says why it is not ready, and workers wait, without charging the events,
until the role is granted what it needs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from beproduct_sync.errors import MissingPrivilege
from beproduct_sync.migrations import history
from tests.helpers.cli import run_cli
from tests.helpers.live_server import auth, live_server, webhook_url
from tests.helpers.samples import SAMPLE_NAMES, load_sample, sample_path
from tests.helpers.supabase import login_role, service_login
from tests.helpers.workers import store

REVOKED = "INSERT ON ops.tracking_plan_style"


def cli(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *args,
        env={
            "DATABASE_URL": url,
            "BEPRODUCT_SYNC_LOG_FORMAT": "json",
            "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
            **env,
        },
    )


def role_of(url: str) -> str:
    return str(conninfo_to_dict(url)["user"])


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


def test_a_role_outside_the_service_group_gets_one_line_naming_role_privilege_and_grant(
    db_url: str,
) -> None:
    with login_role(db_url, db_url) as nobody:
        line = one_line(cli(nobody, "ingest", str(sample_path(SAMPLE_NAMES[0]))))
    role = role_of(nobody)
    assert line.startswith(f"error: database role {role} may not INSERT here")
    assert "permission denied for schema ops" in line
    assert f"GRANT beproduct_sync_service TO {role};" in line


def test_a_member_of_the_service_group_starts_with_auto_migrate_on_when_nothing_is_pending(
    db_url: str,
) -> None:
    # Only SELECTs when nothing is pending: no CREATE SCHEMA, no lock (it may create nothing).
    with service_login(db_url, db_url) as app:
        done = cli(app, "status", BEPRODUCT_SYNC_AUTO_MIGRATE="true")
        assert done.returncode == 0, done.stderr
        done = cli(app, "migrate")
        assert (done.returncode, done.stdout.strip()) == (0, "applied 0 migration(s)")


def test_migrating_as_the_service_role_says_schema_changes_are_the_owners(db_url: str) -> None:
    newest = history_versions(db_url)[-1]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM ops.schema_migrations WHERE version = %s", (newest,))
    with service_login(db_url, db_url) as app:
        line = one_line(cli(app, "migrate"))
    assert f"database role {role_of(app)} may not CREATE here" in line
    assert "schema changes are the owner's" in line
    assert "BEPRODUCT_SYNC_AUTO_MIGRATE=false" in line


def history_versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return sorted(history.read(conn).ours)


def test_readyz_answers_503_with_the_reason_until_the_role_has_its_privileges(
    db_url: str,
) -> None:
    with login_role(db_url, db_url) as nobody, live_server(nobody) as base:
        answer = httpx.get(base + "/readyz", timeout=10)
        posted = httpx.post(
            webhook_url(base), content=sample_path(SAMPLE_NAMES[0]).read_bytes(), headers=auth()
        )
    assert (answer.status_code, answer.json()["error"]) == (503, "missing_privileges")
    assert f"GRANT beproduct_sync_service TO {role_of(nobody)}" in answer.json()["message"]
    # The sender retries later; the answer names nothing internal.
    assert (posted.status_code, posted.json()["error"]) == (503, "missing_privileges")
    assert posted.headers["Retry-After"] and role_of(nobody) not in posted.text

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"REVOKE {REVOKED} FROM beproduct_sync_service")
    with service_login(db_url, db_url) as app, live_server(app) as base:
        answer = httpx.get(base + "/readyz", timeout=10)
    assert (answer.status_code, answer.json()["error"]) == (503, "missing_privileges")
    assert "INSERT on ops.tracking_plan_style" in answer.json()["message"]

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"GRANT {REVOKED} TO beproduct_sync_service")
    with service_login(db_url, db_url) as app, live_server(app) as base:
        assert httpx.get(base + "/readyz", timeout=10).status_code == 200


def inbox(url: str) -> list[tuple[str, int, int]]:
    with psycopg.connect(url) as conn:
        return [
            (str(s), int(a), int(c))
            for s, a, c in conn.execute(
                "SELECT status, attempts, claims FROM ops.beproduct_sync_log ORDER BY id"
            )
        ]


def wait_for(what: str, check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_workers_back_off_without_charging_events_while_a_privilege_is_missing(
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"REVOKE {REVOKED} FROM beproduct_sync_service")
    asyncio.run(store(db_url, [load_sample(n) for n in SAMPLE_NAMES]))
    with service_login(db_url, db_url) as app:
        worker = subprocess.Popen(
            [sys.executable, "-m", "beproduct_sync", "worker", "--workers", "1"],
            env={
                **os.environ,
                "DATABASE_URL": app,
                "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
                "BEPRODUCT_SYNC_LOG_FORMAT": "json",
                "BEPRODUCT_SYNC_POLL_SECONDS": "0.1",
                # One attempt, one claim: charging the events even once would kill them.
                "BEPRODUCT_SYNC_MAX_ATTEMPTS": "1",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Several refused rounds (the backoff starts at a quarter of a second) ...
            wait_for("four refusals", lambda: refusals(db_url) >= 4)
            wait_for("the events handed back", lambda: inbox(db_url) == [("pending", 0, 0)] * 3)
            # ... then the grant, and the same worker applies them.
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute(f"GRANT {REVOKED} TO beproduct_sync_service")
            wait_for("the events applied", lambda: {s for s, _, _ in inbox(db_url)} == {"applied"})
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert [a for _, a, _ in inbox(db_url)] == [1, 1, 1]
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM ops.import_errors WHERE severity = 'error'"
        ).fetchone() == (0,)
    records = [json.loads(line) for line in err.splitlines()]  # every line JSON, no traceback
    refused = [r for r in records if MissingPrivilege.__name__ in str(r.get("error", ""))]
    # Rate-limited: one line for the first refusal, then at most one a minute with a count.
    assert 1 <= len(refused) < refusals(db_url), refused
    # A later line carries how many were held back since the last one (none when the backoff
    # itself outgrew the minute, as on a slow machine).
    assert "repeated" not in refused[0] and all(r.get("repeated", 1) > 0 for r in refused[1:])
    assert refused[0]["event"] == "worker_db_error" and refused[0]["level"] == "warning"
    error = refused[0]["error"]
    assert (
        "may not INSERT" in error and "(permission denied for table tracking_plan_style)" in error
    )
    assert "GRANT beproduct_sync_service TO" in error
    assert "Traceback" not in err


def refusals(url: str) -> int:
    """Refused apply transactions so far, as the server counts them (rolled back)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0
