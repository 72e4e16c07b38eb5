"""Apply throughput of `beproduct-sync ingest`: OnCreate-sized events applied one by one.

Builds N OnCreate bodies from the real sample with fresh ids (25 milestones each, spread over
a few plans), runs `beproduct-sync ingest DIR` against DATABASE_URL (or the embedded server),
and prints JSON: events/s for the whole command and for the apply loop alone.

    python bench/ingest_throughput.py --events 2000
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from beproduct_sync import db, migrations
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy


def bodies(n: int, plans: int = 10) -> list[dict]:
    sample = json.loads(
        resources.files("beproduct_sync.samples").joinpath("tracking_oncreate.json").read_text()
    )
    plan_ids = [str(uuid.uuid4()) for _ in range(plans)]
    out = []
    for i in range(n):
        body = copy.deepcopy(sample)
        rid = str(uuid.uuid4())
        body["data"]["after"]["Id"] = body["data"]["timelineId"] = rid
        body["data"]["planId"] = body["data"]["after"]["PlanId"] = plan_ids[i % plans]
        body["headerNumber"] = f"BENCH{i:06d}"
        for m in body["data"]["after"]["Timelines"]:
            m["Id"] = str(uuid.uuid4())
        out.append(body)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    args = ap.parse_args()
    url = db.resolve_url(db.env_database_url(), Path(tempfile.mkdtemp()) / "data")
    migrations.migrate(url)
    with tempfile.TemporaryDirectory() as tmp:
        half = args.events // 2
        all_bodies = bodies(args.events)
        cmd_dir, loop_dir = Path(tmp, "cmd"), Path(tmp, "loop")
        cmd_dir.mkdir()
        loop_dir.mkdir()
        for i, body in enumerate(all_bodies[:half]):
            (cmd_dir / f"{i:06d}.json").write_text(json.dumps(body))
        for i, body in enumerate(all_bodies[half:]):
            (loop_dir / f"{i:06d}.json").write_text(json.dumps(body))

        # 1. The whole command, as a user runs it (process start and connection included).
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "beproduct_sync", "ingest", str(cmd_dir)],
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=True,
        )
        command_s = time.perf_counter() - started

        # 2. The apply loop alone (read file, record, parse, map, write, settle), in process.
        async def loop() -> float:
            async with await db.aconnect(url, autocommit=True) as conn:
                t0 = time.perf_counter()
                summary = await ingest(conn, [loop_dir], Policy(zone=ZoneInfo("UTC")))
                assert summary.counts["applied"] == args.events - half, summary.counts
                return time.perf_counter() - t0

        loop_s = asyncio.run(loop())
    print(
        json.dumps(
            {
                "benchmark": "ingest_oncreate",
                "milestones_per_event": 25,
                "command": {
                    "events": half,
                    "seconds": round(command_s, 3),
                    "events_per_s": round(half / command_s, 1),
                    "summary": done.stdout.strip().splitlines()[-1],
                },
                "apply_loop": {
                    "events": args.events - half,
                    "seconds": round(loop_s, 3),
                    "events_per_s": round((args.events - half) / loop_s, 1),
                    "ms_per_event": round(loop_s * 1000 / (args.events - half), 3),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
