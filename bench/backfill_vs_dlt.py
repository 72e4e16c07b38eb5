"""Backfill of the fake account as a whole command, against dlt's merge of the same rows.

    pip install -e '.[bench]'   # dlt with its postgres destination
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/backfill_vs_dlt.py \
        [--styles 50] [--materials 10]

Starts `beproduct-sync fake-beproduct` (its default account: 3 folders x 10 plans x (50 style +
10 material rows) x 25 milestones; page latency and rate limits off, so it measures the
client's side), then in one run:
1. ours: `beproduct-sync backfill --json` as a whole command (process start included) into a
   fresh database; then again with nothing changed (incremental: only rows modified since the
   last complete pass are fetched);
2. dlt: the same style and material rows, fetched beforehand and held in memory (so dlt does no
   HTTP at all), loaded with `write_disposition="merge"` and `primary_key="id"` by its
   postgres destination into another fresh database (milestones become dlt's child table).
Prints JSON with each time, the targets (ours ≤ 0.5 x dlt; a no-change rerun ≤ 1 s), pass/fail
and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from drain import command
from fakeapi import fake_api
from psycopg.conninfo import conninfo_to_dict
from service import Databases, host

from beproduct_sync import migrations
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings

RATIO_TARGET = 0.5
RERUN_TARGET_S = 1.0


def ours(url: str, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """`beproduct-sync backfill --json` as a whole command: wall seconds and its summary."""
    started = time.perf_counter()
    done = subprocess.run(
        [*command(), "backfill", "--json", *extra],
        env={
            **os.environ,
            **env,
            "DATABASE_URL": url,
            "BEPRODUCT_SYNC_LOG_LEVEL": "WARNING",
            "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"backfill failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    keep = ("rows", "milestones", "pages", "rows_changed", "milestones_changed", "plans_unchanged")
    keep += ("seconds",)
    return {"command_seconds": round(seconds, 3), **{k: summary.get(k) for k in keep}}


async def fetch_rows(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every style and material row of the account, as the API serves them."""
    settings = Settings(**{k.lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    async with BeProductClient(settings) as client:
        for folder in await client.folders():
            listing = await client.plan_listing(str(folder["id"]))
            for plan in listing.items:
                for kind in ("Style", "Material"):
                    found = await client.timeline_listing(str(plan["id"]), kind)
                    rows.extend({**r, "master_folder": kind} for r in found.items)
    return rows


def dlt_merge(url: str, rows: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """dlt's merge of `rows` (from memory) into the database at `url`: wall seconds."""
    # dlt logs to stdout, where this script prints its JSON: errors only.
    os.environ["RUNTIME__LOG_LEVEL"] = "ERROR"
    os.environ["DLT_DATA_DIR"] = str(workdir / "dlt-data")
    import dlt  # an optional bench dependency (extra `bench`)

    info = conninfo_to_dict(url)
    credentials = {
        "database": info.get("dbname"),
        "username": info.get("user") or "postgres",
        "password": info.get("password") or "",
        "host": info.get("host") or "127.0.0.1",
        "port": int(info.get("port") or 5432),
    }
    pipeline = dlt.pipeline(
        pipeline_name="bench_backfill",
        pipelines_dir=str(workdir / "dlt-pipelines"),
        destination=dlt.destinations.postgres(credentials=credentials),
        dataset_name="dlt_tracking",
    )
    started = time.perf_counter()
    loaded = pipeline.run(
        rows, table_name="tracking_rows", write_disposition="merge", primary_key="id"
    )
    seconds = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        counted = conn.execute("SELECT count(*) FROM dlt_tracking.tracking_rows").fetchone()
    return {
        "seconds": round(seconds, 3),
        "rows_loaded": counted[0] if counted else 0,
        "has_failed_jobs": loaded.has_failed_jobs,
        "dlt_version": dlt.__version__,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--folders", type=int, default=3)
    p.add_argument("--plans", type=int, default=10)
    p.add_argument("--styles", type=int, default=50)
    p.add_argument("--materials", type=int, default=10)
    p.add_argument("--no-dlt", action="store_true", help="only our side (dlt not installed)")
    args = p.parse_args()
    if not args.url:
        p.error("--url or DATABASE_URL is required")
    load = os.getloadavg()
    dbs = Databases(args.url)
    result: dict[str, Any] = {"benchmark": "backfill_vs_dlt"}
    sizes = ["--folders", str(args.folders), "--plans", str(args.plans)]
    sizes += ["--styles", str(args.styles), "--materials", str(args.materials)]
    try:
        with fake_api(sizes) as env, tempfile.TemporaryDirectory(prefix="bps-dlt-") as tmp:
            ours_db = dbs.url(dbs.create("ours"))
            migrations.migrate(ours_db)
            result["ours_first"] = ours(ours_db, env)
            result["ours_rerun_no_change"] = ours(ours_db, env)
            if not args.no_dlt:
                rows = asyncio.run(fetch_rows(env))
                result["account"] = {
                    "rows": len(rows),
                    "milestones": sum(len(r.get("timelines") or []) for r in rows),
                }
                result["dlt"] = dlt_merge(dbs.url(dbs.create("dlt")), rows, Path(tmp))
    finally:
        dbs.drop_all()
    rerun = result["ours_rerun_no_change"]["command_seconds"]
    result["targets"] = []
    if "dlt" in result:
        ratio = result["ours_first"]["command_seconds"] / result["dlt"]["seconds"]
        result["targets"].append(
            {
                "figure": "backfill command seconds / dlt merge seconds",
                "target": f"<= {RATIO_TARGET}",
                "value": round(ratio, 3),
                "pass": ratio <= RATIO_TARGET,
            }
        )
    result["targets"] += [
        {
            "figure": "no-change rerun, command seconds",
            "target": f"<= {RERUN_TARGET_S}",
            "value": rerun,
            "pass": rerun <= RERUN_TARGET_S,
        },
    ]
    result["pass"] = all(t["pass"] for t in result["targets"])
    result["host"] = host(load)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    from beproduct_sync.logs import configure

    configure("WARNING", "json")  # on stderr: stdout carries the JSON report only
    main()
