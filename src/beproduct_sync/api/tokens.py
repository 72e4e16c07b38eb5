"""The BeProduct refresh token, kept in Postgres and shared by every process that calls the API.

BeProduct documents refresh tokens as reusable until revoked, but a token response may carry a
new one (both official SDKs adopt it) and a rotated-away token may be retired, so the latest
must survive restarts and be the same for serve, worker, backfill and reconcile.
`ops.beproduct_api_token` holds it, one row per client id:

- **Start**: when the row was started from the configured BEPRODUCT_REFRESH_TOKEN (same SHA-256),
  its token is the latest rotation: start from it. Otherwise the operator configured a new token:
  use that and reset the row to it.
- **Rotation**: the client's hook stores every new token with the next generation; the write is
  guarded, so an older generation (or an older configuration) never replaces a newer one.
- **Races**: two processes refreshing with the same one-time token at once make one of them get
  `invalid_grant`. That one waits briefly for the winner's token to appear in the row and
  retries once with it (see BeProductClient's `on_invalid_grant`).

Tokens never reach logs or exception messages.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg.rows import class_row
from pydantic import SecretStr

from beproduct_sync import db
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.config import Settings
from beproduct_sync.errors import BeProductNotConfigured, SyncError, TokenStoreUnavailable
from beproduct_sync.sql import query

log = structlog.get_logger("beproduct_sync.tokens")

SAVE_ATTEMPTS = 3
SAVE_RETRY_SECONDS = 0.2
NEWER_WAIT_SECONDS = 5.0  # how long an invalid_grant waits for another process's rotation
NEWER_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Stored:
    """The stored token row of one client."""

    refresh_token: str
    generation: int


class TokenStore:
    """One client's refresh token in `ops.beproduct_api_token`, and the generation it holds."""

    def __init__(self, url: str, client_id: str, configured_token: str) -> None:
        self._url = url
        self._configured = configured_token
        self._key: dict[str, Any] = {
            "client_id": client_id,
            "configured_sha256": hashlib.sha256(configured_token.encode()).digest(),
        }
        self.generation = 0

    async def start(self) -> str:
        """The token to start from: the stored latest, or the configured one after a reset."""
        try:
            async with await db.aconnect(self._url, autocommit=True) as conn:
                await conn.execute(
                    query("api_token_start"), {**self._key, "configured_token": self._configured}
                )
                found = await self._get(conn)
        except psycopg.Error as exc:
            raise TokenStoreUnavailable() from exc
        if found is None:  # another process reset the row to a different token meanwhile
            return self._configured
        self.generation = found.generation
        log.info("api_token_loaded", generation=self.generation)
        return found.refresh_token

    async def save(self, token: str) -> None:
        """Store a rotated token (the client's `on_refresh_token` hook); retries briefly."""
        generation = self.generation + 1
        self.generation = generation
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                async with await db.aconnect(self._url, autocommit=True) as conn:
                    cur = await conn.execute(
                        query("api_token_save"),
                        {**self._key, "refresh_token": token, "generation": generation},
                    )
                log.info("api_token_saved", generation=generation, stored=cur.rowcount == 1)
                return
            except (psycopg.Error, SyncError) as exc:
                if attempt == SAVE_ATTEMPTS:
                    # The client keeps the token in memory; only a restart would need it.
                    log.error(
                        "api_token_not_saved",
                        error=type(exc).__name__,
                        consequence="a restart may need a new BEPRODUCT_REFRESH_TOKEN",
                    )
                    raise
                await asyncio.sleep(SAVE_RETRY_SECONDS * attempt)

    async def newer_than(self, used: str) -> str | None:
        """A stored token other than `used` (the client's `on_invalid_grant` hook), or None.

        The process that won a refresh race stores its rotated token moments after BeProduct
        answered it, so this waits up to NEWER_WAIT_SECONDS for the row to change.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + NEWER_WAIT_SECONDS
        while True:
            try:
                async with await db.aconnect(self._url, autocommit=True) as conn:
                    found = await self._get(conn)
            except (psycopg.Error, SyncError) as exc:
                log.warning("api_token_unreadable", error=type(exc).__name__)
                found = None
            else:
                if found is None:
                    return None  # reset to another configured token: not ours to use
                if found.refresh_token != used:
                    self.generation = found.generation
                    log.info("api_token_adopted", generation=self.generation)
                    return found.refresh_token
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(NEWER_POLL_SECONDS)

    async def _get(self, conn: psycopg.AsyncConnection[Any]) -> Stored | None:
        cur = conn.cursor(row_factory=class_row(Stored))
        return await (await cur.execute(query("api_token_get"), self._key)).fetchone()


async def open_client(settings: Settings, url: str, **options: Any) -> BeProductClient:
    """A BeProduct client starting from the latest refresh token stored in the database at
    `url`, and storing rotations there.

    Use as `async with await open_client(settings, url) as client:`; `options` go to
    BeProductClient.
    """
    if not settings.api_configured:
        raise BeProductNotConfigured()
    assert settings.beproduct_refresh_token is not None  # api_configured checked it
    store = TokenStore(
        url,
        settings.beproduct_client_id or "",
        settings.beproduct_refresh_token.get_secret_value(),
    )
    token = await store.start()
    current = settings.model_copy(update={"beproduct_refresh_token": SecretStr(token)})
    return BeProductClient(
        current, on_refresh_token=store.save, on_invalid_grant=store.newer_than, **options
    )
