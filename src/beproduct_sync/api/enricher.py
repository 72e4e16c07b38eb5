"""The enricher: works off the enrichment job queue (see api.jobs) with the BeProduct API.

Webhooks carry ids; names and dates come from the API. Applying an event never calls the API:
jobs.schedule runs inside the event's apply transaction and only records, in
`ops.enrichment_job`, the fetches still outstanding. The enricher (run by `serve` and `worker`
when the API is configured) fetches them: an API outage delays names, never events.
"""

from __future__ import annotations

import asyncio

import structlog

from beproduct_sync import db
from beproduct_sync._backoff import Backoff, keep_running, pause
from beproduct_sync.api.health import save_quietly
from beproduct_sync.api.jobs import EnrichConfig, Source, run_batch
from beproduct_sync.api.tokens import open_client
from beproduct_sync.config import Settings

log = structlog.get_logger("beproduct_sync.enrich")

MAX_PAUSE_SECONDS = 5.0


async def run_enricher(url: str, config: EnrichConfig, client: Source, stop: asyncio.Event) -> None:
    """Run due enrichment jobs until `stop` is set; reconnects after database errors."""
    log.info("enricher_started", batch_size=config.batch_size, poll_s=config.poll_seconds)

    async def connected(backoff: Backoff) -> None:
        name = "beproduct-sync enricher"
        async with await db.aconnect(url, autocommit=True, application_name=name) as conn:
            while not stop.is_set():
                ran = await run_batch(conn, client, config)
                backoff.reset()
                if ran:
                    await save_quietly(conn, "enricher", client)
                if ran < config.batch_size:  # a full batch means more is due: no pause
                    await pause(stop, config.poll_seconds)

    await keep_running("enricher_db_error", stop, connected)
    log.info("enricher_stopped")


async def run_with_api(settings: Settings, url: str, stop: asyncio.Event) -> None:
    """Open the BeProduct client (it reads the shared refresh token, so the database must be
    up first: retried with backoff) and run the enricher with it until `stop` is set."""
    config = EnrichConfig.from_settings(settings)
    # A fetch waits out a few seconds of rate limiting; longer (an hour or day window, or a
    # 429 storm) fails the job with the reset time as its retry delay, so jobs wait in the
    # queue rather than in a request that holds their lease and the rest of the batch.
    max_pause = min(MAX_PAUSE_SECONDS, config.lease_seconds / 4)

    async def opened(backoff: Backoff) -> None:
        async with await open_client(settings, url, max_pause=max_pause) as client:
            await run_enricher(url, config, client, stop)

    await keep_running("enricher_db_error", stop, opened)
