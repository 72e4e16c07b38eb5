"""Read model benchmark: the fake's default account plus webhook changes, then the read API.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/read_model.py

1. The account: the OnCreate of every row of the fake's default account (3 folders x 10 plans
   x 50 styles x 25 milestones = 37,500 style milestones, and 300 materials x 8) is applied
   and the plans' details stored as the enricher would.
2. Apply path, before and after: `--changes` OnChange events (each carrying its definition's
   timeLineSchema with a predecessor rule) are stored in the inbox of fresh copies of that
   database and drained by in-process workers, once with the read model's upkeep on the write
   path (the statement resolving changed schedule rules, `sql/apply_schedule_rules.sql`)
   replaced by a no-op ("before") and once as shipped ("after"). Events/s are compared,
   `--apply-rounds` times in alternating order; the median round's cost is judged (one pair
   of ~20 s runs on a shared machine is mostly noise).
3. Read API: `beproduct-sync serve --workers 0` on the "after" database; each endpoint is
   called `--requests` times over HTTP on loopback (one client, sequential, ids drawn at
   random), and its p50/p95/max latency compared with its target.

Prints one JSON document with the figures, each target, pass/fail and the load average.
Scratch databases are created next to DATABASE_URL's and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from drain import command, remaining, store
from psycopg.conninfo import make_conninfo

from beproduct_sync import db, migrations
from beproduct_sync.logs import configure
from beproduct_sync.testing.fake import rest, webhooks
from beproduct_sync.testing.fake.world import World

TOKEN = "bench-read-token-0123456789"
TARGETS_MS = {  # p95 over HTTP
    "plans": 50.0,
    "plan": 50.0,
    "plan_timeline": 50.0,
    "plan_progress": 20.0,
    "plan_critical_path": 50.0,
    "entity_timeline": 50.0,
    "node_dependencies": 50.0,
    "user_assignments": 50.0,
    "workload_all": 100.0,
}
MAX_APPLY_COST = 0.10  # the upkeep may cost the apply path at most 10 % of its throughput


def bodies(seed: int, changes: int) -> tuple[World, list[dict[str, Any]], list[dict[str, Any]]]:
    """The seeded account's world, OnCreate for every row, then `changes` milestone changes."""
    world = World(seed=seed)
    creates = [
        webhooks.on_create(world, row) for kind in ("Style", "Material") for row in world.rows(kind)
    ]
    rng = random.Random(seed)
    rows = world.rows("Style") + world.rows("Material")
    edits = [webhooks.on_change(world, world.advance(rng.choice(rows).id)) for _ in range(changes)]
    return world, creates, edits


async def enrich(url: str, world: World) -> None:
    """Plan details (names, start and end dates, definitions) as the enricher stores them."""
    from beproduct_sync.api.catalog import store_plan

    at = dt.datetime.now(dt.UTC)
    async with await db.aconnect(url) as conn, conn.transaction():
        for plan in world.plans.values():
            await store_plan(conn, rest.plan(plan), plan.id, dt.UTC, at)


@contextmanager
def scratch(admin: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A fresh migrated database (or a copy of `template`); dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        clone = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{clone}')
    url = make_conninfo(admin, dbname=name)
    try:
        if template is None:
            migrations.migrate(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dbname(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.info.dbname


def apply_all(url: str, events: list[dict[str, Any]], workers: int, upkeep: bool) -> dict[str, Any]:
    """Store `events`, drain them with in-process workers, and report the apply rate."""
    from beproduct_sync import bootstrap
    from beproduct_sync.apply import writer
    from beproduct_sync.bootstrap import build
    from beproduct_sync.config import Settings
    from beproduct_sync.sql import query

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM ops.beproduct_sync_log").fetchone()
    after_id = int(row[0]) if row else 0
    store(url, events)
    configure("WARNING", "json")
    os.environ.update(
        DATABASE_URL=url,
        BEPRODUCT_SYNC_AUTO_MIGRATE="false",
        BEPRODUCT_SYNC_LOG_LEVEL="WARNING",
        BEPRODUCT_SYNC_LOG_FORMAT="json",
    )
    rt = build(Settings(_env_file=None), migrate=False)  # type: ignore[call-arg]
    original: Callable[[str], str] = writer.query

    def without_upkeep(name: str) -> str:
        return "SELECT 0" if name == "apply_schedule_rules" else query(name)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(bootstrap.workers(rt, stop, workers))
        while await asyncio.to_thread(remaining, url):
            await asyncio.sleep(0.05)
        stop.set()
        await task

    writer.query = original if upkeep else without_upkeep  # type: ignore[assignment]
    try:
        asyncio.run(go())
    finally:
        writer.query = original  # type: ignore[assignment]
    with psycopg.connect(url) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM ops.beproduct_sync_log WHERE id > %s GROUP BY status",
                (after_id,),
            ).fetchall()
        )
        row = conn.execute(
            "SELECT extract(epoch FROM max(processed_at) - min(processed_at))::float8"
            " FROM ops.beproduct_sync_log WHERE id > %s",
            (after_id,),
        ).fetchone()
    span = (row[0] if row else None) or 1.0
    events_n = sum(statuses.values())
    return {"events": events_n, "events_per_s": round(events_n / span, 1), "statuses": statuses}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(url: str) -> Iterator[str]:
    """`beproduct-sync serve --workers 0` on `url` with a read token; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BEPRODUCT_SYNC_API_TOKENS": TOKEN,
        "BEPRODUCT_WEBHOOK_SECRET": "bench-webhook-secret-0123456789",
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
        "BEPRODUCT_SYNC_LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [*command(), "serve", "--workers", "0", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            last = ""
            while True:
                try:
                    reply = httpx.get(f"{base}/readyz", timeout=5)
                    if reply.status_code == 200:
                        break
                    last = reply.text
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    said = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"the service did not become ready ({last}): {said}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            proc.wait(60)


def ids(url: str) -> dict[str, list[str]]:
    """Ids to draw requests from."""
    with psycopg.connect(url) as conn:

        def col(sql: str) -> list[str]:
            return [str(r[0]) for r in conn.execute(sql).fetchall()]

        return {
            "plan": col("SELECT id FROM ops.tracking_plan"),
            "style": col("SELECT id FROM ops.tracking_plan_style WHERE active"),
            "node": col("SELECT id FROM ops.tracking_plan_style_timeline ORDER BY id LIMIT 5000"),
            "user": col("SELECT DISTINCT assignee_id FROM ops.tracking_timeline_assignment"),
        }


def paths(found: dict[str, list[str]], rng: random.Random) -> dict[str, Callable[[], str]]:
    """Each endpoint as a function drawing its next path."""
    pick = rng.choice
    return {
        "plans": lambda: "/api/v1/tracking/plans?page_size=50",
        "plan": lambda: f"/api/v1/tracking/plans/{pick(found['plan'])}",
        "plan_timeline": lambda: (
            f"/api/v1/tracking/plans/{pick(found['plan'])}/timeline?page={rng.randint(1, 5)}"
            "&page_size=100"
        ),
        "plan_progress": lambda: f"/api/v1/tracking/plans/{pick(found['plan'])}/progress",
        "plan_critical_path": lambda: f"/api/v1/tracking/plans/{pick(found['plan'])}/critical-path",
        "entity_timeline": lambda: f"/api/v1/tracking/timeline/style/{pick(found['style'])}",
        "node_dependencies": lambda: (
            f"/api/v1/tracking/timeline/node/{pick(found['node'])}/dependencies"
        ),
        "user_assignments": lambda: (
            f"/api/v1/tracking/users/{pick(found['user'])}/assignments?page_size=100"
        ),
        "workload_all": lambda: "/api/v1/tracking/workload?from=2025-09-01&to=2026-12-31",
    }


def latencies(base: str, make: Callable[[], str], n: int) -> dict[str, float]:
    """p50/p95/max in ms of `n` sequential GETs (after 5 warm-up calls)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    times: list[float] = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for i in range(n + 5):
            path = make()
            started = time.perf_counter()
            reply = client.get(path)
            took = (time.perf_counter() - started) * 1000
            if reply.status_code != 200:
                raise RuntimeError(f"{path}: {reply.status_code} {reply.text[:200]}")
            if i >= 5:
                times.append(took)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--changes", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=100, help="per endpoint")
    ap.add_argument(
        "--apply-rounds", type=int, default=3, help="before/after pairs of the apply path"
    )
    args = ap.parse_args()

    admin = db.resolve_url(db.env_database_url(), Path(tempfile.mkdtemp()) / "data")
    world, creates, changes = bodies(args.seed, args.changes)
    result: dict[str, Any] = {"creates": len(creates), "changes": len(changes)}
    with scratch(admin, "bench_rm_account") as account:
        apply_all(account, creates, args.workers, upkeep=True)
        asyncio.run(enrich(account, world))
        with psycopg.connect(account, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        template = dbname(account)
        # The same changes applied to fresh copies of the account, without and with the
        # upkeep, `--apply-rounds` times in alternating order (a machine that speeds up or
        # slows down during a round favours each side equally often); the cost judged is the
        # median round's. The last "after" copy serves the read API.
        rounds: list[dict[str, Any]] = []
        with ExitStack() as keep:
            url = ""
            for r in range(args.apply_rounds):
                rates: dict[bool, dict[str, Any]] = {}
                for upkeep in (False, True) if r % 2 == 0 else (True, False):
                    prefix = "bench_rm_after" if upkeep else "bench_rm_before"
                    if upkeep and r == args.apply_rounds - 1:
                        url = keep.enter_context(scratch(admin, prefix, template))
                        rates[upkeep] = apply_all(url, changes, args.workers, upkeep=True)
                    else:
                        with scratch(admin, prefix, template) as copy:
                            rates[upkeep] = apply_all(copy, changes, args.workers, upkeep=upkeep)
                before, after = rates[False], rates[True]
                rounds.append(
                    {
                        "before_events_per_s": before["events_per_s"],
                        "after_events_per_s": after["events_per_s"],
                        "cost": round(1 - after["events_per_s"] / before["events_per_s"], 3),
                        "load_average": [round(x, 2) for x in os.getloadavg()],
                    }
                )
            cost = statistics.median(r["cost"] for r in rounds)
            result["apply"] = {
                "rounds": rounds,
                "median_cost": cost,
                "target": f"<= {MAX_APPLY_COST}",
                "pass": cost <= MAX_APPLY_COST,
                "statuses": after["statuses"],
            }
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                counted = conn.execute(
                    "SELECT (SELECT count(*) FROM ops.tracking_plan_style),"
                    " (SELECT count(*) FROM ops.tracking_plan_style_timeline),"
                    " (SELECT count(*) FROM ops.tracking_plan_material_timeline)"
                ).fetchone()
            assert counted is not None
            result["rows"] = dict(
                zip(("styles", "style_milestones", "material_milestones"), counted, strict=True)
            )
            found = ids(url)
            rng = random.Random(args.seed)
            endpoints = {}
            with serving(url) as base:
                for name, make in paths(found, rng).items():
                    figures = latencies(base, make, args.requests)
                    target = TARGETS_MS[name]
                    endpoints[name] = {
                        **figures,
                        "target_p95_ms": target,
                        "pass": figures["p95_ms"] <= target,
                    }
            result["endpoints"] = endpoints
    result["pass"] = result["apply"]["pass"] and all(e["pass"] for e in endpoints.values())
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
