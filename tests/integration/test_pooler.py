"""Behind a transaction-mode pooler (pgbouncer pool_mode=transaction, like Supabase's port 6543):
consecutive statements outside a transaction may run on different server connections, so
nothing may rely on session state. Every command start migrates: none may hang there."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from beproduct_sync import migrations
from beproduct_sync.errors import MigrationBusy
from tests.helpers.cli import SECRET, cli, env_with, serving
from tests.helpers.pooler import pgbouncer
from tests.helpers.samples import SAMPLE_NAMES, sample_path

STARTS = 50
SPACING_SECONDS = 0.2
# A backend waiting on a lock longer than this is hung: a wait for another migrator ends after
# BEPRODUCT_SYNC_MIGRATE_LOCK_TIMEOUT_SECONDS (30 s) at the latest.
HUNG_LOCK_WAIT_SECONDS = 45.0
# Fifty Python starts need much CPU: on a busy 2-core machine a start can take minutes without
# waiting for anything. The time each start took is printed (quiet machine: well under 30 s).
GIVE_UP_AFTER_SECONDS = 300.0
# Idempotent (IF NOT EXISTS, guarded updates): forgetting it in the history makes every start
# apply it again, so every start takes the migrators' lock instead of only the first few.
REPEATED_MIGRATION = "20261201000040"


@dataclass
class Start:
    """One command started through the pooler."""

    kind: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float
    done: float | None = None
    signalled: bool = False

    def poll(self, now: float) -> None:
        """Mark it done when it exited; stop a worker once it is up (then it exits)."""
        if self.proc.poll() is not None:
            self.done = self.done or now
        elif self.kind == "worker" and not self.signalled and b"workers_started" in self.output:
            self.done = now  # up: it got through migrating and started its loops
            self.proc.send_signal(signal.SIGTERM)
            self.signalled = True

    @property
    def output(self) -> bytes:
        return self.log.read_bytes()


def _forget_migration_repeatedly(url: str, stop: threading.Event) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.wait(SPACING_SECONDS):
            conn.execute(
                "DELETE FROM ops.schema_migrations WHERE version = %s", (REPEATED_MIGRATION,)
            )


def _longest_lock_wait(url: str) -> float:
    """Seconds the longest-waiting backend of the database has waited on a lock."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(max(extract(epoch FROM now() - state_change)), 0)::float8"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None
    return float(row[0])


def _locks_and_waiters(url: str, dbname: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = %s)",
            (dbname,),
        ).fetchone()
        waiting = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (dbname,),
        ).fetchone()
    assert locks is not None and waiting is not None
    return int(locks[0]), int(waiting[0])


@pytest.mark.timeout(GIVE_UP_AFTER_SECONDS + 600)
def test_fifty_starts_behind_a_transaction_pooler_never_hang_and_leave_no_lock(
    tmp_path: Path, empty_db_url: str, pg_server_url: str
) -> None:
    dbname = str(conninfo_to_dict(empty_db_url)["dbname"])
    with pgbouncer(pg_server_url, dbname) as pooled:
        env = env_with(
            DATABASE_URL=pooled,
            BEPRODUCT_WEBHOOK_SECRET=SECRET,
            BEPRODUCT_SYNC_LISTEN="false",  # LISTEN needs a session: poll instead
            BEPRODUCT_SYNC_POLL_SECONDS="0.2",
            BEPRODUCT_SYNC_WORKERS="1",
        )
        worker_log = tmp_path / "worker.log"
        with worker_log.open("wb") as sink:
            worker = subprocess.Popen(cli("worker"), env=env, stdout=sink, stderr=sink)
        stop_forgetting = threading.Event()
        starts: list[Start] = []
        try:
            with serving(tmp_path, env, "--worker-processes", "0") as served:
                forgetter = threading.Thread(
                    target=_forget_migration_repeatedly, args=(empty_db_url, stop_forgetting)
                )
                forgetter.start()
                kinds = ("status", "migrate", "worker")
                for i in range(STARTS):
                    kind = kinds[i % len(kinds)]
                    log = tmp_path / f"start-{i}-{kind}.log"
                    with log.open("wb") as sink:
                        proc = subprocess.Popen(cli(kind), env=env, stdout=sink, stderr=sink)
                    starts.append(Start(kind, proc, log, time.monotonic()))
                    for s in starts:
                        s.poll(time.monotonic())
                    time.sleep(SPACING_SECONDS)  # pacing the starts, not waiting for a result
                longest_lock_wait = 0.0
                while True:
                    now = time.monotonic()
                    for s in starts:
                        s.poll(now)
                    longest_lock_wait = max(longest_lock_wait, _longest_lock_wait(empty_db_url))
                    open_ = [s for s in starts if s.done is None or s.proc.poll() is None]
                    if longest_lock_wait > HUNG_LOCK_WAIT_SECONDS or all(
                        now - s.started > GIVE_UP_AFTER_SECONDS for s in open_
                    ):
                        break
                    time.sleep(0.2)
                stop_forgetting.set()
                forgetter.join()
                hung = [s for s in starts if s.done is None]
                failed = [s for s in starts if s.proc.poll() not in (0, None)]
                took = sorted(round(s.done - s.started, 1) for s in starts if s.done is not None)
                print(
                    f"\nhung starts: {len(hung)} of {STARTS}; failed: {len(failed)};"
                    f" longest lock wait {longest_lock_wait:.1f} s; seconds each took: {took}"
                )
                print(f"load average: {os.getloadavg()}")
                if hung:
                    with psycopg.connect(empty_db_url) as conn:
                        print(
                            conn.execute(
                                "SELECT pid, state, wait_event_type, wait_event, left(query, 60),"
                                " now() - xact_start FROM pg_stat_activity WHERE datname = %s",
                                (dbname,),
                            ).fetchall()
                        )
                assert longest_lock_wait <= HUNG_LOCK_WAIT_SECONDS
                assert not hung, [(s.kind, s.output.decode()[-1500:]) for s in hung[:3]]
                assert not failed, [(s.kind, s.output.decode()[-2000:]) for s in failed[:3]]

                # serve and the worker kept working through the pooler all along.
                reply = httpx.post(
                    served.base + "/webhooks/beproduct/tracking",
                    content=sample_path(SAMPLE_NAMES[0]).read_bytes(),
                    headers={
                        "Authorization": f"Bearer {SECRET}",
                        "Content-Type": "application/json",
                    },
                    timeout=30,
                )
                assert reply.status_code == 202, reply.text
                deadline = time.monotonic() + 60
                while True:
                    with psycopg.connect(empty_db_url) as conn:
                        row = conn.execute(
                            "SELECT status FROM ops.beproduct_sync_log WHERE id = %s",
                            (reply.json()["id"],),
                        ).fetchone()
                    if row == ("applied",):
                        break
                    assert worker.poll() is None, worker_log.read_text()
                    assert time.monotonic() < deadline, row
                    time.sleep(0.1)
        finally:
            stop_forgetting.set()
            for s in starts:
                if s.proc.poll() is None:
                    s.proc.kill()
                s.proc.wait()
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        assert worker.returncode == 0, worker_log.read_text()[-2000:]
        assert _locks_and_waiters(empty_db_url, dbname) == (0, 0)


def test_a_migrator_waits_for_another_at_most_the_lock_timeout_then_says_so(
    empty_db_url: str,
) -> None:
    with psycopg.connect(empty_db_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (migrations.LOCK,))
        started = time.monotonic()
        with pytest.raises(MigrationBusy, match="BEPRODUCT_SYNC_MIGRATE_LOCK_TIMEOUT_SECONDS"):
            migrations.migrate(empty_db_url, lock_timeout=1.0)
        waited = time.monotonic() - started
    assert waited < 20  # one second of lock wait, plus a busy machine's connection set-up
    assert migrations.migrate(empty_db_url, lock_timeout=1.0)  # the lock ended with its holder
    assert _locks_and_waiters(empty_db_url, str(conninfo_to_dict(empty_db_url)["dbname"])) == (
        0,
        0,
    )
