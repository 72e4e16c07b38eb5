"""Fast crash takeover: a SIGKILLed worker's claimed events are applied by another worker within
seconds (its heartbeat stops), not after the lease, and the crashes are charged to no event."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Any

import psycopg

from beproduct_sync import db
from beproduct_sync.apply.worker import Worker, WorkerConfig, new_process_id
from beproduct_sync.inbox.leases import claim, heartbeat, release_process
from beproduct_sync.inbox.log import record
from beproduct_sync.testing.crash_drill import APPLY_SLICE, Drill, run
from tests.helpers.cli import SECRET, env_with, serving
from tests.helpers.samples import load_sample
from tests.helpers.workers import make_runtime, statuses, store

# The lease in the drill is 600 s: every takeover below it came from the heartbeat.
TAKEOVER_BOUND_SECONDS = 30.0


def test_killed_worker_processes_events_are_taken_over_fast_and_never_dead_lettered(
    db_url: str,
) -> None:
    found = run(Drill(db_url, kills=5, events_per_round=200))
    print(f"\ncrash drill: {found}")
    assert found["kills"] == 5
    assert max(found["takeover_seconds"]) < TAKEOVER_BOUND_SECONDS
    assert set(found["statuses"]) <= {"applied", "stale", "ignored"}
    # Only events in flight at a kill are charged a claim (at most one per kill).
    assert found["events_charged_for_a_crash"] <= 5 * APPLY_SLICE


class Crash(BaseException):
    """The worker process dying mid-apply: nothing in the apply catches it."""


def test_only_the_events_in_flight_are_charged_when_a_dead_process_is_taken_over(
    db_url: str,
) -> None:
    bodies = [load_sample("tracking_oncreate.json")]
    for i in range(1, 12):
        body = load_sample("tracking_oncreate.json")
        body["headerNumber"] = f"{body['headerNumber']}-{i}"
        body["headerId"] = body["headerId"][:-4] + f"{i:04d}"
        bodies.append(body)
    ids = asyncio.run(store(db_url, bodies))
    rt = make_runtime(db_url)
    doomed = new_process_id()

    def fault(event: Any) -> None:
        raise Crash()  # the first slice kills the worker

    async def crash_then_take_over() -> list[int]:
        async with await db.aconnect(db_url, autocommit=True) as conn:
            await heartbeat(conn, doomed, "host", 1)
            config = WorkerConfig(apply_slice=4, dead_after_seconds=1.0)
            policy = dataclasses.replace(rt.policy, fault=fault)
            worker = Worker(db_url, policy, config, f"{doomed}/0", asyncio.Event())
            batch = await claim(conn, worker.name, 100, 600.0, 1.0)
            assert len(batch) == len(ids)
            with contextlib.suppress(Crash):
                await worker._work(conn, batch, asyncio.Event())
            # Still its lease (600 s), and its heartbeat counts as live (a generous limit here,
            # so a slow machine cannot age it): nobody else may claim the events.
            assert await claim(conn, "other/0", 100, 600.0, 3600.0) == []
            # The heartbeat is silent: taken over once it is older than the limit.
            await asyncio.sleep(1.2)  # the heartbeat goes stale (dead_after_seconds=1)
            taken = await claim(conn, "other/0", 100, 600.0, 1.0)
            return [e.claims for e in taken]

    claims = asyncio.run(crash_then_take_over())
    assert len(claims) == len(ids)
    assert sorted(claims) == [1] * 8 + [2] * 4  # the four in flight were charged, not the rest


def test_the_supervisor_hands_back_an_exited_childs_claims_at_once_charging_only_in_flight(
    db_url: str,
) -> None:
    ids = asyncio.run(store(db_url, [load_sample(n) for n in ("tracking_oncreate.json",)]))
    process = new_process_id()

    async def go() -> int:
        async with await db.aconnect(db_url, autocommit=True) as conn:
            await heartbeat(conn, process, "host", 1)
            assert len(await claim(conn, f"{process}/0", 10, 600.0)) == 1
            return await release_process(conn, process)

    assert asyncio.run(go()) == 1
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status, claims, locked_by FROM ops.beproduct_sync_log WHERE id = %s",
            (ids[0],),
        ).fetchone()
        left = conn.execute("SELECT count(*) FROM ops.worker_process").fetchone()
    assert row == ("pending", 0, None)
    assert left == (0,)
    assert statuses(db_url) == {"pending": 1}


def test_serve_hands_back_a_killed_childs_claims_as_soon_as_it_exits(
    tmp_path: Path, db_url: str
) -> None:
    # A lease and a heartbeat limit far beyond the test: only the supervisor can be that fast.
    env = env_with(
        DATABASE_URL=db_url,
        BEPRODUCT_WEBHOOK_SECRET=SECRET,
        BEPRODUCT_SYNC_LEASE_SECONDS="600",
        BEPRODUCT_SYNC_WORKER_DEAD_AFTER_SECONDS="600",
    )
    with serving(tmp_path, env, "--worker-processes", "1", "--workers", "1") as served:
        served.wait_logged("workers_started")
        [(child, pid)] = _until(
            lambda: _rows(db_url, "SELECT id, pid FROM ops.worker_process"), "a heartbeat"
        )

        async def held_by_child() -> list[int]:
            # Claimed by the child (a loop of it that never ran), not yet started: committed in
            # one transaction, so the child never sees them pending.
            async with await db.aconnect(db_url, autocommit=True) as conn, conn.transaction():
                ids = [(await record(conn, b)).id for b in (_variant(i) for i in range(3))]
                await conn.execute(
                    "UPDATE ops.beproduct_sync_log SET status = 'processing', locked_by = %s,"
                    " locked_until = now() + interval '600 s', claims = 1 WHERE id = ANY(%s)",
                    (f"{child}/9", ids),
                )
                return ids

        ids = asyncio.run(held_by_child())
        os.kill(pid, signal.SIGKILL)
        _until(
            lambda: _rows(
                db_url,
                "SELECT 1 FROM ops.beproduct_sync_log WHERE id = ANY(%s)"
                " HAVING bool_and(status IN ('applied', 'stale'))",
                (ids,),
            ),
            "the killed child's events settled by its replacement",
        )
        claims = _rows(
            db_url, "SELECT claims FROM ops.beproduct_sync_log WHERE id = ANY(%s)", (ids,)
        )
        code, _, err = served.stop()
    assert code == 0, err
    assert '"events": 3' in err and "worker_claims_released" in err
    assert sorted(c for (c,) in claims) == [1, 1, 1]  # the killed claim was not charged


def _variant(i: int) -> dict[str, Any]:
    body = load_sample("tracking_onchangetimeline.json")
    body["variant"] = i
    return body


def _rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _until(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.05)
    return found
