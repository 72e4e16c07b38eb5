"""Prometheus metrics, defined once; every module records through these objects."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
    "beproduct_sync_queue_depth", "Events waiting (pending, processing or failed awaiting retry)."
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
ENRICHMENT_QUEUE = Gauge("beproduct_sync_enrichment_queue_depth", "Enrichment jobs waiting.")
ENRICHMENT_OUTCOMES = Counter(
    "beproduct_sync_enrichment_jobs_total", "Enrichment job outcomes by kind.", ["kind", "outcome"]
)
