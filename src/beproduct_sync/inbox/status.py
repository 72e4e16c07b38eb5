"""The life of an inbox row (`ops.beproduct_sync_log.status`) and of an enrichment job.

    pending ──claim──▶ processing ──▶ applied | stale | ignored | dead
       ▲                    │
       └──── failed ◀───────┘ (retried after a backoff; dead after the last attempt)

`replay` sends settled rows (and failed ones) back to pending.
"""

from __future__ import annotations

from enum import StrEnum


class InboxStatus(StrEnum):
    """Where a received event stands; the values are the column's."""

    PENDING = "pending"
    PROCESSING = "processing"
    APPLIED = "applied"
    IGNORED = "ignored"
    STALE = "stale"
    FAILED = "failed"
    DEAD = "dead"


# Still to be worked on (the workers' queue; the partial indexes cover exactly these).
QUEUED = frozenset({InboxStatus.PENDING, InboxStatus.PROCESSING, InboxStatus.FAILED})
# An operator may send these back to the queue (pending and processing are queued already).
REPLAYABLE = (
    InboxStatus.DEAD,
    InboxStatus.FAILED,
    InboxStatus.IGNORED,
    InboxStatus.STALE,
    InboxStatus.APPLIED,
)


class JobStatus(StrEnum):
    """Where an outstanding enrichment job (`ops.enrichment_job.status`) stands."""

    PENDING = "pending"
    RUNNING = "running"
    FAILED = "failed"
