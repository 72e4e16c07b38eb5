"""The database writes of a backfill: milestones copied into staging tables against JSON.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/backfill_write.py \
        [--rounds 3] [--concurrency 1]

Backfills the fake's default account (3 folders x 10 plans x (50 style + 10 material rows) x 25
milestones) in-process into fresh databases, alternating the two ways of sending milestones
(`Options.copy_rows`), and sums the time spent in the writer's calls (`apply_api_rows`: sending
and merging rows, not the checkpoints, fetching or mapping). One plan at a time by default, so
the writer's calls do not overlap and their sum is the time writes took. Prints JSON with each
round, the median of each way, their ratio and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any
from zoneinfo import ZoneInfo

from fakeapi import fake_api
from service import Databases

from beproduct_sync import migrations
from beproduct_sync.api import backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings


async def one(url: str, env: dict[str, str], copy_rows: bool, concurrency: int) -> dict[str, Any]:
    """A full backfill into `url`: seconds in the writer and in the whole pass."""
    spent = [0.0]
    write = backfill.apply_api_rows

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await write(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    backfill.apply_api_rows = timed  # type: ignore[assignment]
    try:
        settings = Settings(**{k.lower(): v for k, v in env.items()})  # type: ignore[arg-type]
        async with BeProductClient(settings) as client:
            summary = await backfill.run(
                url,
                client,
                backfill.Options(copy_rows=copy_rows),
                ZoneInfo("UTC"),
                concurrency=concurrency,
            )
    finally:
        backfill.apply_api_rows = write  # type: ignore[assignment]
    return {
        "copy_rows": copy_rows,
        "write_seconds": round(spent[0], 3),
        "pass_seconds": summary["seconds"],
        "milestones_changed": summary["milestones_changed"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=1, help="plans at once")
    args = p.parse_args()
    if not args.url:
        p.error("--url or DATABASE_URL is required")
    load = os.getloadavg()
    dbs = Databases(args.url)
    rounds: list[dict[str, Any]] = []
    try:
        with fake_api() as env:
            for i in range(args.rounds):
                for copy_rows in (True, False) if i % 2 else (False, True):
                    name = dbs.create(f"w{i}{int(copy_rows)}")
                    migrations.migrate(dbs.url(name))
                    rounds.append(asyncio.run(one(dbs.url(name), env, copy_rows, args.concurrency)))
                    dbs.drop(name)
    finally:
        dbs.drop_all()
    median = {
        way: statistics.median(r["write_seconds"] for r in rounds if r["copy_rows"] == copied)
        for way, copied in (("copy", True), ("json", False))
    }
    print(
        json.dumps(
            {
                "benchmark": "backfill_write",
                "rounds": rounds,
                "median_write_seconds": median,
                "copy_over_json": round(median["copy"] / median["json"], 3),
                "host": {
                    "cpus": os.cpu_count(),
                    "loadavg_at_start": [round(x, 2) for x in load],
                    "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    from beproduct_sync.logs import configure

    configure("WARNING", "json")
    main()
