"""Drain throughput: store a backlog of events, start workers, time until the queue is empty.

    .venv/bin/python -m bench.drain --url postgresql://postgres@127.0.0.1:5432/postgres \
        --events 6000 --kind mixed --workers 2

Creates (and drops) a scratch database next to the one in --url. The workers run as a
separate `beproduct-sync worker` process, as in production; --in-process runs them in this
process instead (handy under a profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from tests.factories import creates, stream

from beproduct_sync import db, inbox


def _bodies(kind: str, n: int) -> list[dict[str, Any]]:
    if kind == "create":
        return list(creates(n))
    return list(stream(n // 3 + 1, with_samples=False))[:n]


async def _store(url: str, bodies: list[dict[str, Any]]) -> None:
    async with await db.aconnect(url, autocommit=True) as conn:
        for i in range(0, len(bodies), 500):
            async with conn.transaction():
                for body in bodies[i : i + 500]:
                    await inbox.record(conn, body)


def _remaining(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM ops.beproduct_sync_log"
                           " WHERE status IN ('pending', 'processing', 'failed')").fetchone()
    return int(row[0]) if row else 0


def _in_process(url: str, workers: int, env: dict[str, str], profile: str | None) -> None:
    from beproduct_sync.bootstrap import build
    from beproduct_sync.config import Settings
    from beproduct_sync.worker import run_workers

    os.environ.update(env)
    rt = build(Settings(_env_file=None), migrate=False)  # type: ignore[call-arg]

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_workers(rt, stop, count=workers))
        while await asyncio.to_thread(_remaining, url):
            await asyncio.sleep(0.05)
        stop.set()
        await task

    if profile:
        import cProfile

        cProfile.runctx("asyncio.run(go())", globals(), locals(), profile)
    else:
        asyncio.run(go())


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
        db.migrate(url)
        bodies = _bodies(args.kind, args.events)
        asyncio.run(_store(url, bodies))
        env = {"DATABASE_URL": url, "BEPRODUCT_SYNC_BATCH_SIZE": str(args.batch_size),
               "BEPRODUCT_SYNC_LOG_LEVEL": args.log_level, "BEPRODUCT_SYNC_LOG_FORMAT": "json",
               "BEPRODUCT_SYNC_AUTO_MIGRATE": "false"}
        started = time.perf_counter()
        if args.in_process or args.profile:
            _in_process(url, args.workers, env, args.profile)
        else:
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", "from beproduct_sync.cli import main; main()",
                     "worker", "--workers", str(args.workers)],
                    env={**os.environ, **env}, stderr=subprocess.DEVNULL,
                )
                for _ in range(args.processes)
            ]
            while _remaining(url):
                time.sleep(0.05)
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = time.perf_counter() - started
        in_process = args.in_process or args.profile
        cpu = float("nan") if in_process else usage.ru_utime + usage.ru_stime
        with psycopg.connect(url) as conn:
            statuses = dict(conn.execute(
                "SELECT status, count(*) FROM ops.beproduct_sync_log GROUP BY status").fetchall())
        print(f"{args.kind}: {len(bodies)} events, {args.processes} x {args.workers} workers,"
              f" {elapsed:.2f} s (incl. worker start-up) = {len(bodies) / elapsed:.0f} events/s"
              f" (worker process CPU {cpu:.1f} s);"
              f" statuses {statuses}")
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
