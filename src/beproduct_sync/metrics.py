"""Prometheus metrics, defined once; every module records through these objects.

`serve` runs its workers in child processes. They record in prometheus-client's multiprocess
mode, into files in a directory `serve` makes for them (MULTIPROC_ENV, set by apply/supervise),
and the receiver's `/metrics` shows its own metrics and theirs as one exposition: one family per
name, counters and histograms summed, each gauge from the process that keeps it fresh.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Set when this process was started in multiprocess mode (a worker child of `serve`, or an
# operator's own setup): prometheus-client chose file-backed values when it was imported.
INHERITED_DIR = os.environ.get(MULTIPROC_ENV) or None

# Receiver
RECEIVED = Counter(
    "beproduct_sync_events_received_total", "Webhook bodies stored, by event type.", ["event_type"]
)
DUPLICATES = Counter(
    "beproduct_sync_events_duplicate_total", "Duplicate deliveries acknowledged.", ["event_type"]
)
AUTH_FAILURES = Counter(
    "beproduct_sync_auth_failures_total", "Rejected webhook requests by reason.", ["reason"]
)
REJECTED = Counter(
    "beproduct_sync_requests_rejected_total", "Webhook requests refused by error code.", ["error"]
)
ACK_SECONDS = Histogram(
    "beproduct_sync_ack_seconds",
    "Time from request to acknowledgement.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)

# Workers
OUTCOMES = Counter(
    "beproduct_sync_events_total",
    "Apply outcomes (applied, ignored, stale, failed, dead) by event type.",
    ["event_type", "outcome"],
)
APPLY_SECONDS = Histogram(
    "beproduct_sync_apply_seconds",
    "Time to apply one event.",
    ["event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LAG_SECONDS = Histogram(
    "beproduct_sync_receive_to_applied_seconds",
    "Time from receipt to applied.",
    ["event_type"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
QUEUE_DEPTH = Gauge(
    "beproduct_sync_queue_depth",
    "Events waiting (pending, processing or failed awaiting retry).",
    multiprocess_mode="livemostrecent",  # every process reads the same queue: the latest wins
)

# BeProduct API and enrichment
API_CALLS = Counter(
    "beproduct_sync_api_calls_total",
    "BeProduct API calls by endpoint and status.",
    ["endpoint", "status"],
)
CACHE_LOOKUPS = Counter(
    "beproduct_sync_cache_lookups_total",
    "Plan/folder/definition lookups by result (hit = served from the database).",
    ["result"],
)
ENRICHMENT_QUEUE = Gauge(
    "beproduct_sync_enrichment_queue_depth",
    "Enrichment jobs waiting.",
    multiprocess_mode="livemostrecent",
)
ENRICHMENT_OUTCOMES = Counter(
    "beproduct_sync_enrichment_jobs_total", "Enrichment job outcomes by kind.", ["kind", "outcome"]
)

# Reverse sync (api/outbox.py)
OUTBOX_REQUESTS = Gauge(
    "beproduct_sync_outbox_requests",
    "Change requests by state (pending, sending, sent, confirmed, conflict, rejected, dead).",
    ["state"],
    multiprocess_mode="livemostrecent",
)
OUTBOX_OUTCOMES = Counter(
    "beproduct_sync_outbox_outcomes_total",
    "Change request outcomes by state reached (sent, confirmed, conflict, rejected, retry, dead).",
    ["outcome"],
)
OUTBOX_BATCH_SIZE = Histogram(
    "beproduct_sync_outbox_edit_batch_size",
    "Milestones per BeProduct Timelines/Edit call.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)

# prometheus_client.multiprocess has no type hints (hence the ignores below).

# Gauges the receiver refreshes itself on every scrape: its value wins over its children's.
_SCRAPED = frozenset({"beproduct_sync_queue_depth"})


def registry(children_dir: str | None = None) -> CollectorRegistry:
    """What to expose: this process's metrics and those its children record in
    `children_dir`, as one registry."""
    if INHERITED_DIR is not None:  # every process, this one included, writes files there
        combined = CollectorRegistry()
        MultiProcessCollector(combined, INHERITED_DIR)  # type: ignore[no-untyped-call]
        return combined
    if children_dir is None:
        return REGISTRY
    combined = CollectorRegistry(auto_describe=False)
    combined.register(_WithChildren(children_dir))
    return combined


def exposition(children_dir: str | None = None) -> bytes:
    """The Prometheus text exposition of registry(children_dir)."""
    return _generate_latest(registry(children_dir))


def forget_process(pid: int, children_dir: str) -> None:
    """A child exited: its live gauges go (its counters stay, they only ever add up)."""
    mark_process_dead(pid, children_dir)  # type: ignore[no-untyped-call]


class _WithChildren(Collector):
    """This process's families merged with the children's, one family per name."""

    def __init__(self, path: str) -> None:
        self._children = MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        theirs = {f.name: f for f in self._children.collect()}  # type: ignore[no-untyped-call]
        for family in REGISTRY.collect():
            yield _merge(family, theirs.pop(family.name, None))
        yield from (_merge(f, None) for f in theirs.values())


def _merge(first: Metric, second: Metric | None) -> Metric:
    """One family from this process's samples of it and the children's. Multiprocess mode has
    no `_created` samples, so the merged exposition has none either."""
    merged = Metric(first.name, first.documentation, first.type, first.unit)
    if first.type == "gauge":
        fresh = second is None or first.name in _SCRAPED or not second.samples
        merged.samples = list(first.samples if fresh or second is None else second.samples)
        return merged
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in (first, second):
        for sample in family.samples if family is not None else ():
            if not sample.name.endswith("_created"):
                key = (sample.name, tuple(sorted(sample.labels.items())))
                totals[key] = totals.get(key, 0.0) + sample.value
    for (name, labels), value in totals.items():
        merged.add_sample(name, dict(labels), value)
    return merged
