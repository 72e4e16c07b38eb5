"""The composition root: settings → database URL → migrated schema → policy and background work.

Only the entrypoints (`cli/`) import this module; every subsystem takes plain arguments
(settings, a URL, a config object), so tests wire real or fake parts in the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import structlog

from beproduct_sync import db, migrations
from beproduct_sync.api.jobs import schedule
from beproduct_sync.api.outbox import confirm_from_events
from beproduct_sync.apply.policy import Policy
from beproduct_sync.config import Settings
from beproduct_sync.inbox import retention
from beproduct_sync.testing.fault_injection import failing_styles, style_numbers

log = structlog.get_logger("beproduct_sync.bootstrap")


@dataclass(frozen=True)
class Runtime:
    """What every command needs, built once."""

    settings: Settings
    url: str = field(repr=False)  # may carry a password
    policy: Policy
    embedded: bool


def build(settings: Settings, *, migrate: bool | None = None) -> Runtime:
    """Resolve the database (starting the embedded one if needed) and migrate it."""
    given = settings.database_url.get_secret_value() if settings.database_url else None
    url = db.resolve_url(given, settings.beproduct_sync_data_dir)
    if migrate if migrate is not None else settings.beproduct_sync_auto_migrate:
        migrations.migrate(url, settings.beproduct_sync_migrate_lock_timeout_seconds)
    return Runtime(settings=settings, url=url, policy=policy_from(settings), embedded=not given)


def policy_from(settings: Settings) -> Policy:
    """The apply/retry policy the settings describe."""
    return Policy(
        zone=settings.date_zone,
        max_attempts=settings.beproduct_sync_max_attempts,
        retry_base_seconds=settings.beproduct_sync_retry_base_seconds,
        retry_max_seconds=settings.beproduct_sync_retry_max_seconds,
        fault=failing_styles(style_numbers(settings.beproduct_sync_fault_style_numbers)),
        # Always scheduled, API configured or not: the queue is the record of what is missing,
        # and a process with API credentials (now or later) works it off.
        after_apply=partial(schedule, ttl_seconds=settings.beproduct_sync_enrich_ttl_seconds),
        # Always on: a webhook for a milestone with a change request in flight confirms it.
        after_events=confirm_from_events,
    )


def workers(
    rt: Runtime, stop: asyncio.Event, count: int | None = None
) -> Coroutine[Any, Any, None]:
    """The worker loops (default count: BEPRODUCT_SYNC_WORKERS) until `stop` is set."""
    settings = rt.settings
    if rt.policy.fault is not None:
        log.warning(
            "fault_injection_enabled", style_numbers=settings.beproduct_sync_fault_style_numbers
        )
    from beproduct_sync.apply.worker import WorkerConfig, run_workers

    n = settings.beproduct_sync_workers if count is None else count
    return run_workers(rt.url, rt.policy, WorkerConfig.from_settings(settings), stop, n)


def enricher_work(rt: Runtime, stop: asyncio.Event) -> Coroutine[Any, Any, None] | None:
    """The enricher, when the BeProduct API is configured; None otherwise (jobs then wait in the
    table for a process that has it). It ends by itself once `stop` is set."""
    if not rt.settings.api_configured:
        log.info("enricher_off", reason="BeProduct API not configured (BEPRODUCT_* settings)")
        return None
    from beproduct_sync.api import enricher

    return enricher.run_with_api(rt.settings, rt.url, stop)


def reconcile_work(rt: Runtime, stop: asyncio.Event) -> Coroutine[Any, Any, None] | None:
    """Scheduled reconciliation, when its interval is set and the API configured; else None."""
    settings = rt.settings
    if not settings.api_configured or settings.beproduct_sync_reconcile_interval_seconds <= 0:
        return None
    from beproduct_sync.api import reconcile

    return reconcile.run_scheduled(settings, rt.url, stop)


def retention_work(rt: Runtime, stop: asyncio.Event) -> Coroutine[Any, Any, None] | None:
    """The scheduled prune, when BEPRODUCT_SYNC_RETENTION_DAYS is set; else None."""
    days = rt.settings.beproduct_sync_retention_days
    if days <= 0:
        return None
    return retention.run_scheduled(rt.url, timedelta(days=days), stop)


def outbox_work(rt: Runtime, stop: asyncio.Event, owner: str) -> Coroutine[Any, Any, None] | None:
    """The reverse-sync sender, when the API is configured and BEPRODUCT_SYNC_REVERSE_SYNC is
    on; None otherwise (requests then wait in the outbox). It ends by itself once `stop` is set."""
    settings = rt.settings
    if not settings.api_configured or not settings.beproduct_sync_reverse_sync:
        log.info(
            "outbox_sender_off",
            reason="BeProduct API not configured"
            if not settings.api_configured
            else "BEPRODUCT_SYNC_REVERSE_SYNC=false",
        )
        return None
    from beproduct_sync.api import outbox

    return outbox.run_with_api(settings, rt.url, stop, owner)
