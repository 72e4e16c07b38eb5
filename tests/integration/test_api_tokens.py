"""The shared, durable refresh token: the fake BeProduct over real HTTP and a real Postgres."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from beproduct_sync import migrations
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.tokens import TokenStore, open_client
from beproduct_sync.bootstrap import Runtime, policy_from
from beproduct_sync.config import Settings
from beproduct_sync.errors import BeProductAuthError
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import Behaviour

SIZES = Sizes(folders=1, plans=1, styles=2, milestones=2, materials=0, material_milestones=0)


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    # Rotating one-time refresh tokens (an option at BeProduct, whose default is reusable
    # tokens): every refresh token, the configured one included, works exactly once.
    with FakeBeProduct.running(
        seed=3,
        sizes=SIZES,
        behaviour=Behaviour(rotate_refresh_tokens=True),
        retire_initial_refresh_token=True,
    ) as f:
        yield f


def runtime_for(db_url: str, fake: FakeBeProduct, **overrides: Any) -> Runtime:
    values: dict[str, Any] = {
        **{k.lower(): v for k, v in fake.env().items()},
        "database_url": db_url,
        "beproduct_api_max_retries": 1,
        "beproduct_api_backoff_base_seconds": 0.01,
        "beproduct_api_backoff_max_seconds": 0.05,
        "beproduct_api_timeout_seconds": 5,
        **overrides,
    }
    settings = Settings(_env_file=None, **values)
    return Runtime(settings=settings, url=db_url, policy=policy_from(settings), embedded=False)


def stored(db_url: str) -> tuple[bytes, str, int] | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT configured_token_sha256, refresh_token, generation FROM ops.beproduct_api_token"
        ).fetchone()
    return (bytes(row[0]), row[1], row[2]) if row else None


def sha(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def test_the_rotated_token_is_stored_and_the_next_process_starts_from_it(
    db_url: str, fake: FakeBeProduct
) -> None:
    rt = runtime_for(db_url, fake)
    async with await open_client(rt.settings, rt.url) as first:
        await first.folders()
    rotated = fake.tokens.latest_refresh_token
    assert stored(db_url) == (sha(fake.refresh_token), rotated, 1)

    # A client that only knows the configured token is refused: BeProduct retired it.
    with pytest.raises(BeProductAuthError):
        async with BeProductClient(rt.settings) as stale:
            await stale.folders()
    async with await open_client(rt.settings, rt.url) as second:
        assert second.refresh_token == rotated
        assert len(await second.folders()) == 1
    assert stored(db_url) == (sha(fake.refresh_token), fake.tokens.latest_refresh_token, 2)
    assert fake.tokens.latest_refresh_token != rotated


async def test_a_changed_configured_token_resets_the_stored_one(
    db_url: str, fake: FakeBeProduct
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ops.beproduct_api_token (client_id, configured_token_sha256,"
            " refresh_token, generation) VALUES (%s, %s, 'rotated-from-old', 7)",
            (fake.client_id, sha("the-old-configured-token")),
        )
    rt = runtime_for(db_url, fake)
    async with await open_client(rt.settings, rt.url) as client:
        assert client.refresh_token == fake.refresh_token
        assert stored(db_url) == (sha(fake.refresh_token), fake.refresh_token, 8)
        await client.folders()
    assert stored(db_url) == (sha(fake.refresh_token), fake.tokens.latest_refresh_token, 9)

    # A process still running with the old configuration cannot undo the reset.
    old = TokenStore(db_url, fake.client_id, "the-old-configured-token")
    old.generation = 41
    await old.save("rotated-later-from-old")
    assert stored(db_url) == (sha(fake.refresh_token), fake.tokens.latest_refresh_token, 9)


async def test_an_older_rotation_written_late_never_replaces_a_newer_one(db_url: str) -> None:
    a = TokenStore(db_url, "client", "configured")
    b = TokenStore(db_url, "client", "configured")
    assert await a.start() == await b.start() == "configured"
    b.generation = 1
    await b.save("second-rotation")  # generation 2
    await a.save("first-rotation")  # generation 1, arriving late
    assert stored(db_url) == (sha("configured"), "second-rotation", 2)


async def test_clients_refreshing_at_once_all_end_up_working(
    db_url: str, fake: FakeBeProduct
) -> None:
    rt = runtime_for(db_url, fake)
    clients = [await open_client(rt.settings, rt.url) for _ in range(3)]
    try:
        # All start from the same one-time token: BeProduct accepts it once, and the losers
        # recover with the tokens the winners store, one rotation after another.
        answers = await asyncio.gather(*(c.folders() for c in clients))
        assert [len(a) for a in answers] == [1, 1, 1]
        assert fake.count("token", 400) >= 2
        # Each now holds a token another may have used since; refreshing again still works.
        fake.expire_access_tokens()
        answers = await asyncio.gather(*(c.folders() for c in clients))
        assert [len(a) for a in answers] == [1, 1, 1]
    finally:
        for c in clients:
            await c.aclose()
    assert stored(db_url) == (
        sha(fake.refresh_token),
        fake.tokens.latest_refresh_token,
        fake.tokens.grants,
    )
    async with await open_client(rt.settings, rt.url) as fresh:
        assert len(await fresh.folders()) == 1


async def test_a_client_without_a_stored_rotation_fails_with_the_auth_error(
    db_url: str, fake: FakeBeProduct, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime_for(db_url, fake)
    async with await open_client(rt.settings, rt.url) as client:
        await client.folders()
    # The stored token was used by something that never stored its rotation (say, a process
    # killed mid-refresh): nothing newer appears, so the client gives up with a readable error.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE ops.beproduct_api_token SET refresh_token = 'used-elsewhere'")
    monkeypatch.setattr("beproduct_sync.api.tokens.NEWER_WAIT_SECONDS", 0.2)
    with pytest.raises(BeProductAuthError):
        async with await open_client(rt.settings, rt.url) as client:
            await client.folders()


def test_the_token_table_grants_nothing_to_the_api_roles(empty_db_url: str) -> None:
    # Roles are cluster-wide: create them (if missing) inside a transaction that is rolled back.
    with psycopg.connect(empty_db_url) as conn:
        for role in ("anon", "authenticated"):
            found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if found is None:
                conn.execute(f"CREATE ROLE {role} NOLOGIN")
        conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
        for m in migrations.bundled():
            conn.execute(m.sql.encode())
        check = "SELECT has_table_privilege(%s, %s, 'SELECT')"
        assert conn.execute(check, ("authenticated", "ops.tracking_plan")).fetchone() == (True,)
        for role in ("anon", "authenticated"):
            assert conn.execute(check, (role, "ops.beproduct_api_token")).fetchone() == (False,)
        public = conn.execute(
            "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a"
            " WHERE c.oid = 'ops.beproduct_api_token'::regclass AND a.grantee = 0"
        ).fetchone()
        assert public == (0,)
        conn.rollback()
