"""Backfill throughput: a seeded fake BeProduct account copied into Postgres over HTTP.

Starts `beproduct-sync fake-beproduct` in its own process (3 folders x 10 plans x 50 styles x
25 milestones = 37,500 milestone rows by default, zero latency), backfills it into a fresh
database twice — the second run changes nothing — and prints JSON with both timings.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/backfill_throughput.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from fakeapi import fake_api
from psycopg.conninfo import make_conninfo

from beproduct_sync import db, migrations
from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folders", type=int, default=3)
    ap.add_argument("--plans", type=int, default=10)
    ap.add_argument("--styles", type=int, default=50)
    ap.add_argument("--milestones", type=int, default=25)
    ap.add_argument("--page-size", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()

    admin = db.resolve_url(db.env_database_url(), Path(tempfile.mkdtemp()) / "data")
    name = f"bench_backfill_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin, dbname=name)
    migrations.migrate(url)

    options = ["--folders", str(args.folders), "--plans", str(args.plans)]
    options += ["--styles", str(args.styles), "--milestones", str(args.milestones)]
    options += ["--materials", "0"]
    try:
        with fake_api(options) as env:
            settings = Settings(
                **{k.lower(): v for k, v in env.items()},
                beproduct_api_max_concurrency=args.concurrency,
            )

            async def go() -> list[dict]:
                out = []
                async with BeProductClient(settings, page_size=args.page_size) as client:
                    for _ in range(2):
                        opts = backfill.Options(page_size=args.page_size, restart=True)
                        out.append(
                            await backfill.run(
                                url, client, opts, ZoneInfo("UTC"), concurrency=args.concurrency
                            )
                        )
                return out

            first, second = asyncio.run(go())
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        json.dumps(
            {
                "benchmark": "backfill",
                "account": {
                    "folders": args.folders,
                    "plans": args.folders * args.plans,
                    "styles": first["rows"],
                    "milestones": first["milestones"],
                },
                "page_size": args.page_size,
                "concurrency": args.concurrency,
                "first_run": {
                    k: first[k]
                    for k in (
                        "seconds",
                        "rows_per_s",
                        "milestones_per_s",
                        "rows_changed",
                        "milestones_changed",
                        "pages",
                    )
                },
                "second_run_no_changes": {
                    k: second[k]
                    for k in (
                        "seconds",
                        "rows_per_s",
                        "milestones_per_s",
                        "rows_changed",
                        "milestones_changed",
                    )
                },
                "targets_s": {"first_run": 3.0, "second_run": 2.0},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    from beproduct_sync.logs import configure

    configure(os.environ.get("BEPRODUCT_SYNC_LOG_LEVEL", "WARNING"), "console")
    main()
