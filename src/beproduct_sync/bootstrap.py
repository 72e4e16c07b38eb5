"""The composition root: settings → database URL → migrated schema → policy. Tests swap here."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from beproduct_sync import db
from beproduct_sync.api import enricher as enrich
from beproduct_sync.apply.policy import Policy
from beproduct_sync.config import Settings
from beproduct_sync.testing.fault_injection import failing_styles, style_numbers


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
        db.migrate(url)
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
        after_apply=partial(
            enrich.schedule, ttl_seconds=settings.beproduct_sync_enrich_ttl_seconds
        ),
    )
