"""Crash takeover: SIGKILL a worker process holding claimed events, again and again, and time
how long until another worker has applied every event it held.

    python bench/takeover.py --url postgresql://postgres@127.0.0.1:5432/postgres --kills 20

Two `beproduct-sync worker` processes (default settings, except a 600 s lease so that only the
heartbeat can explain a fast takeover); a killed one is replaced each round. Creates (and
drops) a scratch database next to the one in --url. Prints JSON: each kill's takeover time,
p50/p95/max, and the inbox's final statuses (no event may end dead or failed).
"""

from __future__ import annotations

import argparse
import json
import os
import uuid

import psycopg
from psycopg.conninfo import make_conninfo

from beproduct_sync import migrations
from beproduct_sync.testing.crash_drill import Drill, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--events-per-round", type=int, default=200)
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or DATABASE_URL is required")

    name = f"bps_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.url, dbname=name)
    try:
        migrations.migrate(url)
        found = run(Drill(url, kills=args.kills, events_per_round=args.events_per_round))
        print(json.dumps({"benchmark": "takeover", **found}, indent=2))
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
