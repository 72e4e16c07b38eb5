"""Reverse sync under a rate limit: 1,000 change requests across 10 plans drained to the fake.

Backfills a fake account (10 plans x 20 styles x 10 milestones) into a fresh database, starts
`beproduct-sync serve` (receiver plus one worker process, which runs the sender) against it, has
the fake deliver its OnChange webhooks back to `serve`, then records `--requests` change
requests (a status and a rev date each, on distinct milestones spread over the plans) in one
transaction and waits until every one is settled. The fake's per-minute limit is small and its
minute shortened (`--per-minute`, `--minute-seconds`), so the sender has to pace itself.

Prints JSON: requests/s (recorded → all confirmed), API calls per request (Edit and re-read calls
over requests; token and enrichment calls left out), 429s, how requests were confirmed (echo,
read-back, already), and `lost`: requests not confirmed or whose values BeProduct does not hold.
A benchmark-style script, not a timed test.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/reverse_sync.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

from beproduct_sync import db, migrations
from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings
from beproduct_sync.model.rows import map_status
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import Behaviour, RateLimits

SECRET = "bench-reverse-sync-secret"
STATUSES = ("in_progress", "waiting_on", "complete", "approved")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit("serve exited early")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("serve did not come up")
        time.sleep(0.1)


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT state || coalesce(':' || confirmed_by, ''), count(*)"
            " FROM ops.timeline_change_request GROUP BY 1"
        ).fetchall()
    return {k: int(v) for k, v in rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--plans", type=int, default=10)
    ap.add_argument("--per-minute", type=int, default=30, help="requests per (scaled) minute")
    ap.add_argument("--minute-seconds", type=float, default=5.0, help="length of a minute")
    ap.add_argument("--timeout", type=float, default=110.0)
    args = ap.parse_args()

    admin = db.resolve_url(db.env_database_url(), Path(tempfile.mkdtemp()) / "data")
    name = f"bench_reverse_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin, dbname=name)
    migrations.migrate(url)
    sizes = Sizes(folders=1, plans=args.plans, styles=20, milestones=10, materials=0)
    limits = RateLimits(
        per_minute=args.per_minute, per_hour=0, per_day=0, time_scale=args.minute_seconds / 60
    )
    behaviour = Behaviour(seconds_per_row=0.0, webhook_delay_seconds=0.5)
    proc: subprocess.Popen[bytes] | None = None
    log = Path(tempfile.mkdtemp()) / "serve.log"
    try:
        with FakeBeProduct.running(
            seed=3, sizes=sizes, rate_limits=limits, behaviour=behaviour
        ) as fake:
            settings = Settings(_env_file=None, **{k.lower(): v for k, v in fake.env().items()})

            async def copy() -> None:
                async with BeProductClient(settings, page_size=100) as client:
                    await backfill.run(
                        url, client, backfill.Options(page_size=100), ZoneInfo("UTC")
                    )

            asyncio.run(copy())
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {
                **os.environ,
                **fake.env(),
                "DATABASE_URL": url,
                "BEPRODUCT_WEBHOOK_SECRET": SECRET,
                "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
                "BEPRODUCT_SYNC_LOG_LEVEL": "WARNING",
                "BEPRODUCT_SYNC_LOG_FORMAT": "json",
                "BEPRODUCT_SYNC_OUTBOX_POLL_SECONDS": "0.2",
                "BEPRODUCT_SYNC_WORKERS": "1",
            }
            with log.open("wb") as sink:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "beproduct_sync", "serve", "--port", str(port)],
                    env=env,
                    stdout=sink,
                    stderr=sink,
                )
            wait_up(base, proc)
            fake.send_webhooks_to(base + "/webhooks/beproduct/tracking", SECRET)
            # Let the enricher's first calls pass, then count only what reverse sync does.
            time.sleep(2)
            fake.limiter.reset()
            fake.stats.reset()

            rng = random.Random(5)
            plans = list(fake.world.plans.values())[: args.plans]
            per_plan = args.requests // len(plans)
            wanted: dict[str, str] = {}
            for p in plans:
                milestones = [m for r in p.styles.values() for m in r.milestones]
                for m in rng.sample(milestones, per_plan):
                    choices = [s for s in STATUSES if map_status(s) != map_status(m.status)]
                    wanted[m.id] = rng.choice(choices)
            # Recorded in random order, as many users would: a batch spans the plans.
            order = list(wanted.items())
            rng.shuffle(order)
            started = time.perf_counter()
            with psycopg.connect(url) as conn:
                for i, (mid, status) in enumerate(order):
                    conn.execute(
                        "SELECT ops_api.request_timeline_change(%s, %s, %s::jsonb)",
                        (
                            mid,
                            f"bench-{i}",
                            json.dumps({"status": status, "rev_date": "2027-01-15"}),
                        ),
                    )
            recorded = time.perf_counter() - started
            deadline = time.monotonic() + args.timeout
            sent_at = None
            while True:
                found = counts(url)
                states: Counter[str] = Counter()
                for k, v in found.items():
                    states[k.split(":")[0]] += v
                if sent_at is None and states["pending"] + states["sending"] == 0:
                    sent_at = time.perf_counter() - started
                if states["pending"] + states["sending"] + states["sent"] == 0:
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            seconds = time.perf_counter() - started
            edits = fake.count("style_edit")
            rereads = fake.count("style_timeline")
            throttled = sum(fake.count(e, 429) for e in ("style_edit", "style_timeline"))
            with fake.world.lock:
                held = {
                    m.id: m.status for p in plans for r in p.styles.values() for m in r.milestones
                }
            lost = sum(
                1
                for mid, status in wanted.items()
                if map_status(held.get(mid)) != map_status(status)
            )
            delivered = fake.sender.stats.to_json()
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    confirmed = sum(v for k, v in found.items() if k.startswith("confirmed"))
    print(
        json.dumps(
            {
                "benchmark": "reverse_sync_drain",
                "limit": {"per_minute": args.per_minute, "minute_seconds": args.minute_seconds},
                "requests": len(wanted),
                "plans": len(plans),
                "recorded_seconds": round(recorded, 2),
                "all_sent_seconds": None if sent_at is None else round(sent_at, 2),
                "drain_seconds": round(seconds, 2),
                "requests_per_second": round(len(wanted) / seconds, 1),
                "api_calls": {"edit": edits, "re_read": rereads, "answered_429": throttled},
                "api_calls_per_request": round((edits + rereads) / len(wanted), 3),
                "states": dict(Counter(found)),
                "confirmed": confirmed,
                "lost": lost + (len(wanted) - confirmed),
                "webhooks": delivered,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    from beproduct_sync.logs import configure

    configure(os.environ.get("BEPRODUCT_SYNC_LOG_LEVEL", "WARNING"), "console")
    main()
