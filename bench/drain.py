"""Drain throughput: store a backlog of events, start workers, time until the queue is empty.

    python bench/drain.py --url postgresql://postgres@127.0.0.1:5432/postgres \
        --events 6000 --kind mixed --processes 2 --workers 1

Creates (and drops) a scratch database next to the one in --url. The workers run as separate
`beproduct-sync worker` processes, as in production; --in-process runs them in this process
instead (handy under a profiler). bench/service.py uses the functions here for its drain part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import make_conninfo

from beproduct_sync import migrations
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.model.times import parse_time
from beproduct_sync.testing.loadgen import Stream

TODO = "status IN ('pending', 'processing', 'failed')"


def command() -> list[str]:
    """The `beproduct-sync` command of this environment."""
    script = Path(sys.executable).with_name("beproduct-sync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "beproduct_sync"]


def store(url: str, bodies: list[dict[str, Any]]) -> None:
    """Put `bodies` in the inbox as pending events with one COPY (what the receiver would
    have stored, without the per-request round trips)."""
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
                    body_digest(canonical(body)),
                    body.get("eventType"),
                    body.get("headerId"),
                    body.get("headerNumber"),
                    at.datetime if at else None,
                    orjson.dumps(body).decode(),
                )
            )


def remaining(url: str) -> int:
    """Events still to be worked on."""
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM ops.beproduct_sync_log WHERE {TODO}").fetchone()
    return int(row[0]) if row else 0


def outcome(url: str) -> dict[str, Any]:
    """Statuses, and the span from the first to the last settled event (seconds)."""
    with psycopg.connect(url) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM ops.beproduct_sync_log GROUP BY status"
            ).fetchall()
        )
        row = conn.execute(
            "SELECT extract(epoch FROM max(processed_at) - min(processed_at))::float8"
            " FROM ops.beproduct_sync_log WHERE processed_at IS NOT NULL"
        ).fetchone()
    return {"statuses": statuses, "apply_span_s": row[0] if row else None}


def drain(
    url: str, processes: int, loops: int, env: dict[str, str], timeout: float = 1800.0
) -> dict[str, Any]:
    """Start `processes` worker processes of `loops` loops each on the backlog in `url`, wait
    until the queue is empty, stop them; events/s counted from the first to the last settled
    event (worker start-up excluded; the wall time includes it)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*command(), "worker", "--workers", str(loops)],
            env={**os.environ, **env, "DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    try:
        while remaining(url):
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"the queue did not drain in {timeout:.0f} s")
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker process exited before the queue was empty")
            time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = outcome(url)
    events = sum(result["statuses"].values())
    span = result.pop("apply_span_s") or wall
    return {
        "processes": processes,
        "loops": loops,
        "events": events,
        "events_per_s": round(events / span, 1),
        "apply_seconds": round(span, 2),
        "wall_seconds_incl_startup": round(wall, 2),
        "worker_cpu_seconds": round(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1
        ),
        **result,
    }


def _in_process(url: str, workers: int, env: dict[str, str], profile: str | None) -> None:
    from beproduct_sync import bootstrap
    from beproduct_sync.bootstrap import build
    from beproduct_sync.config import Settings

    os.environ.update(env, DATABASE_URL=url)
    rt = build(Settings(_env_file=None), migrate=False)  # type: ignore[call-arg]

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(bootstrap.workers(rt, stop, workers))
        while await asyncio.to_thread(remaining, url):
            await asyncio.sleep(0.05)
        stop.set()
        await task

    if profile:
        import cProfile

        cProfile.runctx("asyncio.run(go())", globals(), locals(), profile)
    else:
        asyncio.run(go())


def worker_env(batch_size: int, log_level: str) -> dict[str, str]:
    """Settings for benchmark workers (migrations already applied)."""
    return {
        "BEPRODUCT_SYNC_BATCH_SIZE": str(batch_size),
        "BEPRODUCT_SYNC_LOG_LEVEL": log_level,
        "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--kind", choices=("mixed", "create"), default="mixed")
    parser.add_argument("--workers", type=int, default=2, help="loops per worker process")
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the workers (in-process)")
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or DATABASE_URL is required")

    name = f"bps_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.url, dbname=name)
    try:
        migrations.migrate(url)
        store(url, Stream().bodies(args.kind, args.events))
        env = worker_env(args.batch_size, args.log_level)
        if args.in_process or args.profile:
            started = time.perf_counter()
            _in_process(url, args.workers, env, args.profile)
            result = {"wall_seconds": round(time.perf_counter() - started, 2), **outcome(url)}
        else:
            result = drain(url, args.processes, args.workers, env)
        print(json.dumps({"benchmark": "drain", "kind": args.kind, **result}, indent=2))
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
