"""Crash drill: SIGKILL worker processes while they hold claimed events, and time how long
until another worker has applied those events (the takeover). Used by the test suite (a few
kills) and bench/takeover.py (twenty, with percentiles).

Two `beproduct-sync worker` processes run against the database; each round stores a backlog,
waits until a worker holds claimed events, kills that worker with SIGKILL, records which events
it held, waits until all of them are settled, and starts a replacement. The lease is set far
longer than the drill (BEPRODUCT_SYNC_LEASE_SECONDS=600): a fast takeover can only come from
the heartbeat (see inbox.leases).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
import psycopg

from beproduct_sync.model.body import canonical, digest
from beproduct_sync.model.times import parse_time
from beproduct_sync.testing.loadgen import Stream

UNSETTLED = "status IN ('pending', 'processing', 'failed')"
APPLY_SLICE = 5  # events a worker applies per transaction in the drill: the most a kill charges


@dataclass
class Drill:
    """Settings of a drill, and what it measured."""

    url: str
    kills: int = 5
    events_per_round: int = 300
    processes: int = 2
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0  # per wait: a worker's start, a takeover, the final drain
    takeovers: list[float] = field(default_factory=list)  # seconds, per measured kill
    held: list[int] = field(default_factory=list)  # events the killed worker held, per kill


def store(url: str, bodies: list[dict[str, Any]]) -> None:
    """Put `bodies` in the inbox as pending events (one COPY, as the receiver would store
    them)."""
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY ops.beproduct_sync_log (body_sha256, action, entity_id, style_number, source_at,"
            " payload) FROM STDIN"
        ) as copy,
    ):
        for body in bodies:
            at = parse_time(body.get("date"))
            copy.write_row(
                (
                    digest(canonical(body)),
                    body.get("eventType"),
                    body.get("headerId"),
                    body.get("headerNumber"),
                    at.datetime if at else None,
                    orjson.dumps(body).decode(),
                )
            )


def _rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _wait(what: str, timeout: float, check: Any) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"crash drill: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.01)


@contextmanager
def _workers(drill: Drill) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _start(drill: Drill) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
        "BEPRODUCT_SYNC_LEASE_SECONDS": "600",
        "BEPRODUCT_SYNC_APPLY_BATCH_SIZE": str(APPLY_SLICE),
        "BEPRODUCT_SYNC_BATCH_SIZE": "50",
        "BEPRODUCT_SYNC_LOG_LEVEL": "WARNING",
        **drill.env,
        "DATABASE_URL": drill.url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "beproduct_sync", "worker", "--workers", "1"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _beating(url: str, pids: list[int]) -> bool:
    """Every one of `pids` has written its heartbeat."""
    found = _rows(url, "SELECT count(*) FROM ops.worker_process WHERE pid = ANY(%s)", (pids,))
    return bool(found[0][0] == len(pids))


def _settled(url: str, ids: list[int]) -> bool:
    """None of `ids` is still to be worked on."""
    return not _rows(
        url, f"SELECT 1 FROM ops.beproduct_sync_log WHERE id = ANY(%s) AND {UNSETTLED}", (ids,)
    )


def _holder(url: str, pids: list[int]) -> tuple[int, str] | None:
    """A live worker process (pid, process id) that holds claimed events now."""
    found = _rows(
        url,
        "SELECT w.pid, w.id FROM ops.worker_process AS w"
        " JOIN ops.beproduct_sync_log AS l ON split_part(l.locked_by, '/', 1) = w.id"
        " WHERE l.status = 'processing' AND w.pid = ANY(%s) LIMIT 1",
        (pids,),
    )
    return (int(found[0][0]), str(found[0][1])) if found else None


def run(drill: Drill) -> dict[str, Any]:
    """Run the drill; returns what it measured (see report)."""
    stream = Stream(seed=2026)
    with _workers(drill) as procs:
        rounds = 0
        while len(drill.takeovers) < drill.kills:
            rounds += 1
            if rounds > drill.kills * 5:
                raise RuntimeError("crash drill: workers never held events when killed")
            while len([p for p in procs if p.poll() is None]) < drill.processes:
                procs.append(_start(drill))
            live = [p.pid for p in procs if p.poll() is None]
            _wait("the workers' heartbeats", drill.timeout, partial(_beating, drill.url, live))
            store(drill.url, stream.bodies("mixed", drill.events_per_round))
            pid, process = _wait(
                "a worker holding events", drill.timeout, partial(_holder, drill.url, live)
            )
            os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            held = [
                r[0]
                for r in _rows(
                    drill.url,
                    "SELECT id FROM ops.beproduct_sync_log WHERE status = 'processing'"
                    " AND split_part(locked_by, '/', 1) = %s",
                    (process,),
                )
            ]
            if not held:  # it settled its batch just before the signal: nothing to take over
                continue
            _wait(
                "the takeover of a killed worker's events",
                drill.timeout,
                partial(_settled, drill.url, held),
            )
            drill.takeovers.append(time.monotonic() - killed_at)
            drill.held.append(len(held))
        _wait(
            "the final drain",
            drill.timeout,
            lambda: not _rows(drill.url, f"SELECT 1 FROM ops.beproduct_sync_log WHERE {UNSETTLED}"),
        )
    return report(drill)


def report(drill: Drill) -> dict[str, Any]:
    """Takeover times (seconds from SIGKILL until every event the killed worker held was
    applied by another) and the inbox's final state."""
    rows = _rows(drill.url, "SELECT status, count(*) FROM ops.beproduct_sync_log GROUP BY status")
    [(max_claims, charged)] = _rows(
        drill.url,
        "SELECT coalesce(max(claims), 0), count(*) FILTER (WHERE claims > attempts)"
        " FROM ops.beproduct_sync_log",
    )
    times = sorted(drill.takeovers)
    p95 = times[max(0, round(0.95 * len(times)) - 1)] if times else None
    return {
        "kills": len(times),
        "takeover_seconds": [round(t, 2) for t in drill.takeovers],
        "takeover_p50_s": round(statistics.median(times), 2) if times else None,
        "takeover_p95_s": round(p95, 2) if p95 is not None else None,
        "takeover_max_s": round(times[-1], 2) if times else None,
        "events_held_per_kill": drill.held,
        "statuses": dict(rows),
        "max_claims": max_claims,
        "events_charged_for_a_crash": charged,
    }
