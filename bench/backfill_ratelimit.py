"""Backfill under a tight rate limit: the default fake account copied through 429 pauses.

Serves the default fake BeProduct account (3 folders x 10 plans x 50 styles x 25 milestones,
10 materials x 8 per plan) with a small per-minute limit, while another client of the same
account (as another beproduct-sync process would be) keeps spending part of every window, so
the backfill's own pacing cannot foresee every refusal: it runs into 429s, some with their wait
only in the JSON body, pauses until the window resets, and carries on. Prints JSON: rows the
fake served and rows written, the pauses taken (by cause and by where the wait was read), the
429s, and the total time. A benchmark-style script, not a timed test.

The minute window is shortened (`--minute-seconds`, default 5) so a run takes under a minute;
`--minute-seconds 60` runs it in real time.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/backfill_ratelimit.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

from beproduct_sync import db, migrations
from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import RateLimits


def neighbour(fake: FakeBeProduct, every: float, stop: threading.Event, made: Counter[int]) -> None:
    """Another client of the same account: one request every `every` seconds, 429s ignored."""
    token = httpx.post(
        fake.token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "refresh_token": fake.refresh_token,
        },
    ).json()["access_token"]
    with httpx.Client(base_url=fake.api_base, headers={"Authorization": f"Bearer {token}"}) as c:
        while not stop.wait(every):
            made[c.get("Tracking/Folders").status_code] += 1


def count_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM ops.tracking_plan_style)"
            " + (SELECT count(*) FROM ops.tracking_plan_material)"
        ).fetchone()
    assert row is not None
    return int(row[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-minute", type=int, default=30, help="requests per (scaled) minute")
    ap.add_argument("--minute-seconds", type=float, default=5.0, help="length of a minute")
    ap.add_argument("--neighbour-every", type=float, default=0.25, help="seconds; 0 = none")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--folders", type=int, default=Sizes().folders)
    ap.add_argument("--plans", type=int, default=Sizes().plans)
    ap.add_argument("--styles", type=int, default=Sizes().styles)
    args = ap.parse_args()

    admin = db.resolve_url(db.env_database_url(), Path(tempfile.mkdtemp()) / "data")
    name = f"bench_ratelimit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin, dbname=name)
    migrations.migrate(url)
    sizes = Sizes(folders=args.folders, plans=args.plans, styles=args.styles)
    limits = RateLimits(
        per_minute=args.per_minute, per_hour=0, per_day=0, time_scale=args.minute_seconds / 60
    )
    stop = threading.Event()
    other: Counter[int] = Counter()
    try:
        with FakeBeProduct.running(seed=1, sizes=sizes, rate_limits=limits) as fake:
            account = sum(len(p.styles) + len(p.materials) for p in fake.world.plans.values())
            settings = Settings(
                _env_file=None,
                **{k.lower(): v for k, v in fake.env().items()},
                beproduct_api_max_concurrency=args.concurrency,
            )
            if args.neighbour_every > 0:
                threading.Thread(
                    target=neighbour, args=(fake, args.neighbour_every, stop, other), daemon=True
                ).start()

            async def go() -> tuple[dict[str, Any], list[Any]]:
                opts = backfill.Options(page_size=args.page_size)
                async with BeProductClient(settings, page_size=args.page_size) as client:
                    summary = await backfill.run(
                        url, client, opts, ZoneInfo("UTC"), concurrency=args.concurrency
                    )
                    return summary, list(client.pauses)

            started = time.perf_counter()
            summary, pauses = asyncio.run(go())
            seconds = time.perf_counter() - started
            stop.set()
            served = sum(fake.stats.rows.values())
            refused = sum(fake.count(e, 429) for e in ("folders", "plans", "plan"))
            refused += fake.count("style_timeline", 429) + fake.count("material_timeline", 429)
        written = count_rows(url)
    finally:
        stop.set()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    throttled = [p for p in pauses if p.reason == "429"]
    print(
        json.dumps(
            {
                "benchmark": "backfill_under_rate_limit",
                "limit": {
                    "per_minute": args.per_minute,
                    "minute_seconds": args.minute_seconds,
                    "neighbour_requests": dict(other),
                },
                "rows": {
                    "in_account": account,
                    "served": served,
                    "written": written,
                    "written_equals_served": written == served == account,
                },
                "pauses": {
                    "total": len(pauses),
                    "after_429": len(throttled),
                    "after_429_by_source": dict(Counter(p.source for p in throttled)),
                    "pacing": len(pauses) - len(throttled),
                    "seconds": round(sum(p.seconds for p in pauses), 2),
                },
                "backfill_429s_answered": refused - other[429],
                "incomplete": summary["incomplete"],
                "total_seconds": round(seconds, 2),
                "enough_pauses": len(throttled) >= 3
                and any(p.source == "retryAfterSeconds" for p in throttled),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    from beproduct_sync.logs import configure

    configure(os.environ.get("BEPRODUCT_SYNC_LOG_LEVEL", "WARNING"), "console")
    main()
