"""Dashboard render time: every page and fragment timed over HTTP against a full account.

Backfills the fake BeProduct's default account (3 folders x 10 plans x 50 styles x 25
milestones = 37,500 style milestones, plus materials) into a fresh database, stores a day of
inbox history (`--events`, spread over 24 hours, 1 % dead-lettered with import errors), starts
`beproduct-sync serve --workers 0`, signs in with a read token and requests each page
`--rounds` times, one request at a time. Prints JSON: p50/p95/max per page, the target
(p95 <= 200 ms for every page), pass/fail, the host's load average, and how long computing
the shared Operations figures takes (the dashboard computes them at most once per refresh
interval for all viewers; the first request of an interval pays that).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/dashboard_render.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import structlog
from psycopg.conninfo import make_conninfo

from beproduct_sync import db, migrations
from beproduct_sync.api import backfill, overview
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings
from beproduct_sync.testing.fake import FakeBeProduct
from beproduct_sync.testing.fake.behaviour import Behaviour, RateLimits

TARGET_P95_MS = 200.0
TOKEN = "bench-dashboard-reader"
SECRET = "bench-dashboard-secret"

HISTORY = """
INSERT INTO ops.beproduct_sync_log
    (body_sha256, action, entity_id, style_number, payload, received_at, processed_at,
     status, attempts, last_error)
SELECT sha256(convert_to('bench-' || i, 'UTF8')),
       (ARRAY['OnCreate', 'OnChange', 'OnChange', 'OnChange', 'OnDelete'])[1 + i % 5],
       md5(i::text), 'BENCH' || (i % 1500),
       jsonb_build_object('eventType', 'OnChange', 'bench', i),
       at, at + (0.01 + random() * 0.2) * interval '1 second',
       CASE WHEN i % 100 = 0 THEN 'dead' ELSE 'applied' END,
       CASE WHEN i % 100 = 0 THEN 8 ELSE 1 END,
       CASE WHEN i % 100 = 0 THEN 'bench: a failure that dead-lettered the event' END
FROM generate_series(1, %(events)s) AS i,
     LATERAL (SELECT now() - random() * interval '24 hours' AS at) AS t;
INSERT INTO ops.import_errors (sync_log_id, entity_id, severity, message, created_at)
SELECT id, entity_id, 'error', last_error, processed_at
FROM ops.beproduct_sync_log WHERE status = 'dead';
ANALYZE;
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database() -> tuple[str, str, str]:
    """A new migrated database: its URL, the server's admin URL and its name."""
    admin = db.resolve_url(db.env_database_url(), Path(tempfile.mkdtemp()) / "data")
    name = f"bench_dashboard_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin, dbname=name)
    migrations.migrate(url)
    return url, admin, name


def load_account(url: str) -> dict[str, Any]:
    """Backfill the fake's default account; the counts of what was stored."""
    behaviour = Behaviour(seconds_per_row=0)
    limits = RateLimits(per_minute=0, per_hour=0, per_day=0)
    with FakeBeProduct.running(seed=1, behaviour=behaviour, rate_limits=limits) as fake:
        values: dict[str, Any] = {k.lower(): v for k, v in fake.env().items()}
        fake_settings = Settings(_env_file=None, **values)

        async def go() -> None:
            async with BeProductClient(fake_settings, page_size=50) as client:
                await backfill.run(url, client, backfill.Options(page_size=50), ZoneInfo("UTC"))

        asyncio.run(go())
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM ops.tracking_plan),"
            " (SELECT count(*) FROM ops.tracking_plan_style),"
            " (SELECT count(*) FROM ops.tracking_plan_style_timeline),"
            " (SELECT count(*) FROM ops.tracking_plan_material_timeline)"
        ).fetchone()
    assert row is not None
    return dict(
        zip(("plans", "styles", "style_milestones", "material_milestones"), row, strict=True)
    )


def pages_of(client: httpx.Client) -> list[str]:
    """The dashboard's pages and fragments worth timing (a plan page when plans exist)."""
    pages = ["/", "/fragments/operations/panels", "/fragments/operations/chart"]
    for extra in ("/plans", "/workload"):
        reply = client.get(extra)
        if reply.status_code == 200:
            pages.append(extra)
            if extra == "/plans":
                found = re.search(r'href="(/plans/[0-9a-f-]{36})"', reply.text)
                if found:
                    pages.append(found.group(1))
    return pages


def time_pages(base: str, rounds: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        signed = client.post("/login", data={"token": TOKEN, "next": "/"})
        assert signed.status_code == 303, signed.text
        for page in pages_of(client):
            for _ in range(3):  # warm the connection and the templates
                client.get(page).raise_for_status()
            took = []
            for _ in range(rounds):
                started = time.perf_counter()
                client.get(page).raise_for_status()
                took.append((time.perf_counter() - started) * 1000)
            took.sort()
            out[page] = {
                "n": len(took),
                "p50_ms": round(statistics.median(took), 1),
                "p95_ms": round(took[max(0, int(len(took) * 0.95) - 1)], 1),
                "max_ms": round(took[-1], 1),
            }
    return out


def compute_times(url: str, rounds: int = 5) -> dict[str, float]:
    """p50 of computing the shared figures themselves (what a refresh interval's first
    request pays), straight from the database."""

    async def go() -> dict[str, float]:
        out: dict[str, list[float]] = {"operations": [], "per_minute": []}
        async with await db.aconnect(url, autocommit=True) as conn:
            for _ in range(rounds):
                for name, figures in (
                    ("operations", overview.operations),
                    ("per_minute", overview.per_minute),
                ):
                    started = time.perf_counter()
                    await figures(conn)
                    out[name].append((time.perf_counter() - started) * 1000)
        return {f"{k}_p50_ms": round(statistics.median(v), 1) for k, v in out.items()}

    return asyncio.run(go())


def serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BEPRODUCT_WEBHOOK_SECRET": SECRET,
        "BEPRODUCT_SYNC_API_TOKENS": TOKEN,
        "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "beproduct_sync", "serve", "--workers", "0", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("serve did not come up")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000, help="inbox rows over the last day")
    ap.add_argument("--rounds", type=int, default=30, help="timed requests per page")
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.monotonic()
    url, admin, name = fresh_database()
    try:
        account = load_account(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(HISTORY.replace("%(events)s", str(int(args.events))))
        proc, base = serve(url)
        try:
            pages = time_pages(base, args.rounds)
            computed = compute_times(url)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    worst = max(p["p95_ms"] for p in pages.values())
    print(
        json.dumps(
            {
                "account": account,
                "inbox_events": args.events,
                "pages": pages,
                "worst_p95_ms": worst,
                "shared_figures_compute": computed,
                "target": f"p95 <= {TARGET_P95_MS:.0f} ms on every page",
                "pass": worst <= TARGET_P95_MS,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
