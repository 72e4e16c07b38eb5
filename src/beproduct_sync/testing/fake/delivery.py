"""Webhook delivery: the fake sends the OnChange bodies its changes cause to a configured URL.

As BeProduct does after an Edit (or a change made in its UI), each body is POSTed with the
subscription's `Authorization: Bearer <secret>` header, after a delay drawn per body (so bodies
of one edit may arrive out of order), and some bodies twice (`Behaviour.webhook_delay_seconds`,
`webhook_duplicate_fraction`). A failed delivery (connection refused, 5xx) is retried a few
times, as a webhook sender would. Runs in a few threads with plain httpx clients.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from beproduct_sync.testing.fake.behaviour import Behaviour

RETRIES = 5
THREADS = 4  # deliveries in flight at once, as a webhook sender's workers would have
RETRY_SECONDS = 0.5
MIN_DELAY_SECONDS = 0.02


@dataclass
class DeliveryStats:
    """What the sender did: bodies queued, POSTs answered 2xx, duplicates sent, failures."""

    queued: int = 0
    delivered: int = 0
    duplicates: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As `GET /_admin/webhooks` shows them."""
        return {
            "queued": self.queued,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "statuses": dict(self.statuses),
        }


class WebhookSender:
    """Background threads POSTing scheduled bodies to the target URL."""

    def __init__(self, behaviour: Behaviour, seed: int = 1) -> None:
        self.behaviour = behaviour
        self.url: str | None = None
        self.secret: str | None = None
        self.stats = DeliveryStats()
        self._rng = random.Random(seed)
        self._heap: list[tuple[float, int, bytes, int]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._in_flight = 0

    def target(self, url: str | None, secret: str | None) -> None:
        """Where bodies go (None: nowhere; bodies are then dropped, as with no subscription)."""
        with self._cond:
            self.url, self.secret = url, secret
            if url and not self._threads:
                self._threads = [
                    threading.Thread(
                        target=self._run, name=f"fake-beproduct-webhooks-{i}", daemon=True
                    )
                    for i in range(THREADS)
                ]
                for t in self._threads:
                    t.start()

    def send(self, bodies: list[dict[str, Any]]) -> None:
        """Schedule bodies (each after its own random delay; some twice)."""
        if not self.url:
            return
        b = self.behaviour
        with self._cond:
            now = time.monotonic()
            for body in bodies:
                raw = orjson.dumps(body)
                copies = 2 if self._rng.random() < b.webhook_duplicate_fraction else 1
                self.stats.queued += 1
                self.stats.duplicates += copies - 1
                for _ in range(copies):
                    delay = self._rng.uniform(
                        MIN_DELAY_SECONDS, max(MIN_DELAY_SECONDS, b.webhook_delay_seconds)
                    )
                    heapq.heappush(self._heap, (now + delay, next(self._seq), raw, 0))
            self._cond.notify()

    def pending(self) -> int:
        """Bodies not yet delivered (or given up), in flight included."""
        with self._cond:
            return len(self._heap) + self._in_flight

    def close(self) -> None:
        """Stop the thread (undelivered bodies are dropped)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            while True:
                with self._cond:
                    while not self._closed and (
                        not self._heap or self._heap[0][0] > time.monotonic()
                    ):
                        wait = self._heap[0][0] - time.monotonic() if self._heap else None
                        self._cond.wait(wait)
                    if self._closed:
                        return
                    _, _, raw, tries = heapq.heappop(self._heap)
                    url, secret = self.url, self.secret
                    self._in_flight += 1
                    if self._heap:
                        self._cond.notify()  # another thread may take the next one
                ok, status = _post(http, url, secret, raw) if url else (False, "no target")
                with self._cond:
                    self._in_flight -= 1
                    self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
                    if ok:
                        self.stats.delivered += 1
                    elif tries + 1 < RETRIES:
                        at = time.monotonic() + RETRY_SECONDS * (tries + 1)
                        heapq.heappush(self._heap, (at, next(self._seq), raw, tries + 1))
                    else:
                        self.stats.failed += 1


def _post(http: httpx.Client, url: str, secret: str | None, raw: bytes) -> tuple[bool, str]:
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    try:
        resp = http.post(url, content=raw, headers=headers)
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    return resp.status_code < 300, str(resp.status_code)
