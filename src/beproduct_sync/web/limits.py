"""Bounds on what clients may hold: how many webhook requests run at once, and how long a body
may take to arrive.

Without them a thousand slow connections (a body trickled a byte at a time) were all held open,
each request buffering up to BEPRODUCT_SYNC_MAX_BODY_BYTES. A request beyond
BEPRODUCT_SYNC_MAX_CONCURRENT_REQUESTS is refused at once with 503 and Retry-After (BeProduct
retries), not queued: waiting would only hold more memory and connections. A body not complete
within BEPRODUCT_SYNC_BODY_TIMEOUT_SECONDS gets 408 and the connection is closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from beproduct_sync.web.auth import Rejected

RETRY_AFTER_SECONDS = "1"


class Gate:
    """Admit at most `limit` requests at once (single event loop: a plain counter suffices)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a slot for the request, or refuse it with 503 when none is free."""
        if self.active >= self.limit:
            raise Rejected(
                503,
                "too_many_requests",
                "too many requests at once; retry later",
                {"Retry-After": RETRY_AFTER_SECONDS},
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


def body_timeout(seconds: float) -> Rejected:
    """The refusal of a body that did not arrive in time."""
    return Rejected(
        408,
        "body_timeout",
        f"the body did not arrive within {seconds:g} seconds",
        {"Connection": "close"},
    )
