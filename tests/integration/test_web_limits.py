"""Slow and greedy clients, with real sockets against a real uvicorn server: a body that does not
arrive in time gets 408, and requests beyond the concurrency cap get a 503 with Retry-After."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from tests.helpers.live_server import SECRETS, auth, live_server, webhook_url
from tests.helpers.samples import SAMPLE_NAMES, load_sample


@contextmanager
def _slow_request(base: str, declared: int, sent: bytes) -> Iterator[socket.socket]:
    """A webhook request whose headers promise `declared` body bytes, of which only `sent`
    arrive; the socket is left open (the rest never comes)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    head = (
        f"POST /webhooks/beproduct/tracking HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {SECRETS[0]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    try:
        sock.sendall(head.encode() + sent)
        yield sock
    finally:
        sock.close()


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, str]]:
    """Status, headers and JSON body of the response on `sock` (read until it closes)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def test_a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_is_closed(
    db_url: str,
) -> None:
    with (
        live_server(db_url, beproduct_sync_body_timeout_seconds=1.0) as base,
        _slow_request(base, 500, b'{"eventType": "OnCre') as sock,
    ):
        started = time.monotonic()
        status, headers, body = _answer(sock)  # returns once the server closes the connection
        waited = time.monotonic() - started
        after = httpx.post(webhook_url(base), json=load_sample(SAMPLE_NAMES[0]), headers=auth())
    assert status == 408
    assert body["error"] == "body_timeout"
    assert headers.get("connection") == "close"
    assert 0.9 <= waited < 30
    assert after.status_code == 202  # the server is fine for everyone else


def test_requests_beyond_the_concurrency_cap_get_503_with_retry_after_until_a_slot_frees(
    db_url: str,
) -> None:
    body = load_sample(SAMPLE_NAMES[0])
    with live_server(
        db_url, beproduct_sync_max_concurrent_requests=3, beproduct_sync_body_timeout_seconds=60
    ) as base:
        with ExitStack() as held:
            for _ in range(3):  # three greedy clients each hold a slot, reading a body forever
                held.enter_context(_slow_request(base, 100_000, b"{"))
            # The slow requests take their slots once the server has read their headers.
            deadline = time.monotonic() + 30
            while True:
                refused = httpx.post(webhook_url(base), json=body, headers=auth(), timeout=30)
                if refused.status_code == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            readiness = httpx.get(base + "/healthz", timeout=30)
        # The greedy clients are gone: their slots are free again.
        deadline = time.monotonic() + 30
        while True:
            later = httpx.post(webhook_url(base), json=body, headers=auth(), timeout=30)
            if later.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "too_many_requests"
    assert readiness.status_code == 200  # probes are not webhooks: never capped
    assert later.status_code in (200, 202)
