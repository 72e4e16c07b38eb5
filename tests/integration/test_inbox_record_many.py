"""Recording many bodies at once (the receiver's group commit): one statement per round of
distinct digests, results in order, duplicates recognised within a batch, one NOTIFY."""

from __future__ import annotations

import psycopg

from beproduct_sync import db
from beproduct_sync.inbox.log import Incoming, record_many


async def recorded(url: str, items: list[Incoming], notify: bool = False) -> list[tuple[int, bool]]:
    conn = await db.AsyncConnection.connect(url, **db.pool_kwargs())
    async with conn, conn.transaction():
        got = await record_many(conn, items, notify=notify)
    return [(r.id, r.duplicate) for r in got]


async def test_a_body_repeated_within_one_batch_is_stored_once_and_answered_as_duplicate(
    db_url: str,
) -> None:
    a, b, c = ({"eventType": "OnChange", "n": n} for n in range(3))
    got = await recorded(db_url, [Incoming.of(a), Incoming.of(b), Incoming.of(a), Incoming.of(c)])
    assert [dup for _, dup in got] == [False, False, True, False]
    assert got[2][0] == got[0][0]
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id, payload, deliveries FROM ops.beproduct_sync_log ORDER BY id"
        ).fetchall()
    assert [(p, d) for _, p, d in rows] == [(a, 2), (b, 1), (c, 1)]
    again = await recorded(db_url, [Incoming.of(c), Incoming.of(b)])
    assert again == [(got[3][0], True), (got[1][0], True)]


async def test_a_batch_wakes_the_workers_once(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN beproduct_sync_inbox")
        got = await recorded(
            db_url, [Incoming.of({"eventType": "OnDelete", "n": n}) for n in range(5)], notify=True
        )
        heard = [n.payload for n in listener.notifies(timeout=1)]
    assert heard == [str(max(i for i, _ in got))]


async def test_a_body_with_nul_is_stored_replaced_next_to_plain_ones_with_its_original_kept(
    db_url: str,
) -> None:
    raw = b'{"eventType": "OnChange", "headerName": "A\\u0000B"}'
    odd = Incoming.of({"eventType": "OnChange", "headerName": "A\x00B"}, raw)
    plain = Incoming.of({"eventType": "OnChange", "headerName": "AB"})
    await recorded(db_url, [odd, plain])
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT payload->>'headerName', raw_body FROM ops.beproduct_sync_log ORDER BY id"
        ).fetchall()
    assert rows == [("A\ufffdB", raw), ("AB", None)]
