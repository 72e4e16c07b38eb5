"""What the apply service is told (Policy) and what it reports per event (Outcome)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from beproduct_sync.model.rows import RowSet

if TYPE_CHECKING:  # the parser's models take a while to build: imported when used
    from beproduct_sync.model.webhook import TrackingEvent

Fault = Callable[["TrackingEvent"], None]
AfterApply = Callable[[AsyncConnection[Any], list[RowSet]], Awaitable[None]]
AfterEvents = Callable[[AsyncConnection[Any], list[tuple[int, RowSet]]], Awaitable[None]]
SKIPPED = "skipped"  # an Outcome status: the row is another worker's now, which reports it


@dataclass(frozen=True)
class Policy:
    """How events are applied and retried."""

    zone: tzinfo
    max_attempts: int = 8
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 3600.0
    # Test and chaos hook: raise inside the apply transaction to force a failure.
    fault: Fault | None = None
    # Called inside the apply transaction, once per chunk, after the rows are written, with one
    # row set per plan (see service.per_plan; bootstrap wires the enrichment scheduler here).
    after_apply: AfterApply | None = None
    # Called inside the apply transaction, once per batch, with each event's inbox id and rows,
    # applied or stale (bootstrap wires reverse sync's echo confirmation here).
    after_events: AfterEvents | None = None


@dataclass(frozen=True)
class Outcome:
    """How one event's apply attempt ended: an inbox status (applied, stale, ignored, failed,
    dead) or SKIPPED."""

    log_id: int
    status: str
    duration_ms: float
    event_type: str | None = None
    style_number: str | None = None
    reason: str | None = None
    error: str | None = None
    attempts: int = 1
    warnings: list[str] = field(default_factory=list)
