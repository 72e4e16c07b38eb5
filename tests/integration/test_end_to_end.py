"""End to end over real HTTP and a real Postgres: a shuffled stream with duplicate deliveries,
posted concurrently to `serve`, ends in the same tables as in-order delivery."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from beproduct_sync import db, migrations
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from tests.helpers.apply import apply_one
from tests.helpers.cli import SECRET, env_with, serving
from tests.helpers.factories import stream
from tests.helpers.workers import make_runtime, snapshot, store


async def post_all(base: str, bodies: list[dict[str, Any]], concurrency: int = 8) -> list[int]:
    codes: list[int] = []
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(body: dict) -> None:  # type: ignore[type-arg]
            async with gate:
                r = await client.post(
                    "/webhooks/beproduct/tracking",
                    json=body,
                    headers={"Authorization": f"Bearer {SECRET}"},
                )
                codes.append(r.status_code)

        await asyncio.gather(*(one(b) for b in bodies))
    return codes


def settled(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status IN ('pending', 'processing',"
            " 'failed')) FROM ops.beproduct_sync_log"
        ).fetchone()
    return row is not None and row[0] == 0


async def test_shuffled_duplicated_http_deliveries_match_in_order_delivery(
    tmp_path: Path, db_url: str, empty_db_url: str
) -> None:
    bodies = list(stream(12))
    rng = random.Random(11)
    deliveries = bodies + rng.sample(bodies, len(bodies) // 2)  # every other event twice
    rng.shuffle(deliveries)

    env = env_with(DATABASE_URL=db_url, BEPRODUCT_WEBHOOK_SECRET=SECRET)
    with serving(tmp_path, env, "--workers", "2") as served:
        codes = await post_all(served.base, deliveries)
        deadline = time.monotonic() + 60
        while not settled(db_url) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        code, _, err = served.stop()
    assert code == 0, err
    assert sorted(set(codes)) == [200, 202]
    assert codes.count(202) == len(bodies)  # every distinct event acknowledged as new once

    # Reference: the same events, each once, applied one by one in source-time order.
    migrations.migrate(empty_db_url)
    in_order = sorted(bodies, key=lambda b: b["date"])
    ids = await store(empty_db_url, in_order)
    policy = make_runtime(empty_db_url).policy
    async with await db.aconnect(empty_db_url, autocommit=True) as conn:
        for log_id, body in zip(ids, in_order, strict=True):
            await apply_one(conn, log_id, body, body_digest(canonical(body)), policy)
    assert snapshot(db_url) == snapshot(empty_db_url)
    with psycopg.connect(db_url) as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                "SELECT status, count(*) FROM ops.beproduct_sync_log GROUP BY status"
            ).fetchall()
        )
        deliveries_total = conn.execute(
            "SELECT sum(deliveries) FROM ops.beproduct_sync_log"
        ).fetchone()
    assert set(statuses) <= {"applied", "stale"}
    assert sum(statuses.values()) == len(bodies)
    assert deliveries_total == (len(deliveries),)
