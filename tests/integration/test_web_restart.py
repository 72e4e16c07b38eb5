"""The receiver across a database restart and an outage, on a private PostgreSQL (an embedded
server in a temporary directory) that the test stops, starts and restarts."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from beproduct_sync import db, migrations
from tests.helpers.live_server import auth, live_server, webhook_url
from tests.helpers.samples import SAMPLE_NAMES, load_sample

POOL_TIMEOUT = 2.0  # the default of BEPRODUCT_SYNC_POOL_TIMEOUT_SECONDS


class PrivateServer:
    """An embedded PostgreSQL of this test alone, driven with its own pg_ctl."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = db.embedded_url(root)
        self.pgdata = (root / "pgdata").resolve()
        self.socket_dir = str(conninfo_to_dict(self.url)["host"])
        import pgserver  # the embedded extra, installed with the dev dependencies

        self.pg_ctl = str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl")

    def ctl(self, *args: str) -> None:
        """Run pg_ctl as the data directory's owner (the server refuses to run as root)."""
        owner = self.pgdata.stat().st_uid
        user = pwd.getpwuid(owner).pw_name if os.geteuid() == 0 and owner != 0 else None
        subprocess.run(
            [self.pg_ctl, "-D", str(self.pgdata), "-w", "-t", "60", *args],
            check=True,
            # Not a pipe: the server pg_ctl starts would inherit it and keep it open.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=90,
            user=user,
        )

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")

    def start(self) -> None:
        self.ctl("-o", f'-h "" -k {self.socket_dir}', "-l", str(self.pgdata / "again.log"), "start")

    def restart(self) -> None:
        self.ctl("-m", "fast", "-l", str(self.pgdata / "again.log"), "restart")

    def wait_accepting(self) -> None:
        """Until a new connection succeeds (the moment 'the database is back')."""
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "the database did not come back"
                time.sleep(0.05)


@pytest.fixture
def private_server() -> Iterator[PrivateServer]:
    root = Path(tempfile.mkdtemp(prefix="bps-restart-"))
    server = PrivateServer(root)
    try:
        migrations.migrate(server.url)
        yield server
    finally:
        db.stop_embedded(root)
        shutil.rmtree(root, ignore_errors=True)


def _bodies(start: int, count: int) -> list[dict[str, Any]]:
    base = load_sample(SAMPLE_NAMES[1])
    return [{**base, "deliveryProbe": n} for n in range(start, start + count)]


def _post_all(base: str, bodies: list[dict[str, Any]]) -> list[int]:
    return [
        httpx.post(webhook_url(base), json=b, headers=auth(), timeout=30).status_code
        for b in bodies
    ]


def _first_readyz(base: str) -> tuple[int, float]:
    started = time.monotonic()
    reply = httpx.get(base + "/readyz", timeout=30)
    return reply.status_code, time.monotonic() - started


def test_no_503_after_a_restart_or_an_outage_and_a_fast_503_during_it(
    private_server: PrivateServer,
) -> None:
    with live_server(private_server.url, beproduct_sync_pool_timeout_seconds=POOL_TIMEOUT) as base:
        assert _post_all(base, _bodies(0, 5)) == [202] * 5  # the pool holds live connections

        # 1. Restarted while idle: every pooled connection is dead.
        private_server.restart()
        private_server.wait_accepting()
        ready_after_restart = _first_readyz(base)
        after_restart = _post_all(base, _bodies(100, 20))

        # 2. An outage with traffic: each answer a fast 503 with Retry-After.
        private_server.stop()
        during: list[tuple[int, str | None, float]] = []
        for body in _bodies(200, 5):
            started = time.monotonic()
            reply = httpx.post(webhook_url(base), json=body, headers=auth(), timeout=30)
            during.append(
                (reply.status_code, reply.headers.get("retry-after"), time.monotonic() - started)
            )
        ready_during = httpx.get(base + "/readyz", timeout=30)

        # 3. Back: the pool may still be waiting out its reconnect backoff.
        private_server.start()
        private_server.wait_accepting()
        ready_after_outage = _first_readyz(base)
        after_outage = _post_all(base, _bodies(300, 20))

    print(
        f"\n503s after restart: {after_restart.count(503)}, after outage:"
        f" {after_outage.count(503)}; first /readyz after restart {ready_after_restart},"
        f" after outage {ready_after_outage}; during outage {during}"
    )
    assert after_restart == [202] * 20
    assert after_outage == [202] * 20
    # The first /readyz once the database is back is 200, not a 503 from a dead pooled
    # connection. The time bound is loose on purpose (a loaded machine); the figure printed
    # above is the measurement (well under 1 s on an idle one).
    assert ready_after_restart[0] == 200 and ready_after_restart[1] < 5.0
    assert ready_after_outage[0] == 200 and ready_after_outage[1] < 5.0
    assert [(status, retry) for status, retry, _ in during] == [(503, "5")] * 5
    # Bounded by the pool timeout (then a fresh connection, refused at once), not a long hang.
    assert max(took for _, _, took in during) < POOL_TIMEOUT + 5
    assert ready_during.status_code == 503 and ready_during.headers.get("retry-after") == "5"
    with psycopg.connect(private_server.url) as conn:
        stored = conn.execute("SELECT count(*) FROM ops.beproduct_sync_log").fetchone()
    assert stored == (45,)
