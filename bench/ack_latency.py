"""Ack latency of a running receiver at a fixed request rate (open loop, like a webhook sender).

    python bench/ack_latency.py [--url URL] [--kind mixed|create] [--rate 300] [--seconds 30]

Bodies come from beproduct_sync.testing.loadgen (the real payload shapes with fresh ids) and are all
built and serialised before the clock starts. The client speaks HTTP/1.1 over raw keep-alive
sockets so that, on a small machine, it does not steal the CPU the service is measured on.
Latency counts from the moment a request was due, so queueing inside the client is included
(no coordinated omission). bench/service.py runs this as its load-generating process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from beproduct_sync.testing.loadgen import Stream

REPLY_TIMEOUT_SECONDS = 10.0


def request(host: str, path: str, secret: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_reply(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def summary(
    latencies: list[float], codes: dict[str, int], errors: int, elapsed: float, sent: int
) -> dict[str, Any]:
    """Latency percentiles (ms) and counts of one run."""
    q = statistics.quantiles(latencies, n=1000, method="inclusive") if len(latencies) > 1 else []
    pick = (lambda i: _ms(q[i])) if q else (lambda i: None)
    return {
        "requests": sent,
        "answered": len(latencies),
        "errors": errors,
        "status_codes": codes,
        "seconds": round(elapsed, 2),
        "achieved_rate": round(sent / elapsed, 1),
        "p50_ms": pick(499),
        "p90_ms": pick(899),
        "p99_ms": pick(989),
        "p999_ms": pick(998),
        "max_ms": _ms(max(latencies)) if latencies else None,
    }


async def drive(
    url: str, secret: str, bodies: list[bytes], rate: float, connections: int, warmup: int = 0
) -> dict[str, Any]:
    """Send `bodies` at `rate` per second over `connections` sockets; the first `warmup`
    requests are sent on schedule but left out of the figures."""
    target = urlsplit(url)
    payloads = [request(target.netloc, target.path, secret, b) for b in bodies]
    due: asyncio.Queue[tuple[int, float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    codes: dict[str, int] = {}
    errors = warmup_errors = 0

    def settle(n: int, at: float, status: int | None) -> None:
        nonlocal errors, warmup_errors
        if n < warmup:
            warmup_errors += status is None or not 200 <= status < 300
            return
        latencies.append(time.perf_counter() - at)
        codes[str(status or "no_reply")] = codes.get(str(status or "no_reply"), 0) + 1
        if status is None or not 200 <= status < 300:
            errors += 1

    async def connection() -> None:
        reader = writer = None
        while (item := await due.get()) is not None:
            n, at, payload = item
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(
                        target.hostname, target.port or 80
                    )
                writer.write(payload)
                status: int | None = await asyncio.wait_for(
                    read_reply(reader), REPLY_TIMEOUT_SECONDS
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                status = None  # a refused, reset or silent connection: count it, reconnect
                if writer is not None:
                    writer.close()
                reader = writer = None
            settle(n, at, status)
        if writer is not None:
            writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(connections)]
    start = time.perf_counter()
    for n, payload in enumerate(payloads):
        at = start + n / rate
        if (delay := at - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        due.put_nowait((n, at, payload))
    for _ in tasks:
        due.put_nowait(None)
    await asyncio.gather(*tasks)
    measured_from = start + warmup / rate
    result = summary(
        latencies, codes, errors, time.perf_counter() - measured_from, len(payloads) - warmup
    )
    return {**result, "warmup_errors": warmup_errors}


async def flood(url: str, secret: str, bodies: list[bytes], connections: int) -> dict[str, Any]:
    """Send `bodies` as fast as the receiver answers (closed loop: each of `connections` sockets
    sends its next request when the previous one is answered); for throughput, not latency."""
    target = urlsplit(url)
    payloads = iter(request(target.netloc, target.path, secret, b) for b in bodies)
    codes: dict[str, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(target.hostname, target.port or 80)
        for payload in payloads:
            status: int | None
            try:
                writer.write(payload)
                status = await asyncio.wait_for(read_reply(reader), REPLY_TIMEOUT_SECONDS)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                status = None
                writer.close()
                reader, writer = await asyncio.open_connection(target.hostname, target.port or 80)
            codes[str(status or "no_reply")] = codes.get(str(status or "no_reply"), 0) + 1
        writer.close()

    started_wall, started = time.time(), time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    seconds = time.perf_counter() - started
    errors = sum(n for code, n in codes.items() if not code.startswith("2"))
    return {
        "requests": len(bodies),
        "errors": errors,
        "status_codes": codes,
        "started_at_epoch": started_wall,
        "seconds": round(seconds, 3),
        "achieved_rate": round(len(bodies) / seconds, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8000/webhooks/beproduct/tracking")
    p.add_argument("--kind", choices=("mixed", "create"), default="mixed")
    p.add_argument("--rate", type=float, default=300.0)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument(
        "--warmup", type=float, default=1.0, help="seconds sent at the rate first and not counted"
    )
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--bodies", help="send these bodies (one JSON document per line) instead of a fresh stream"
    )
    p.add_argument(
        "--flood",
        action="store_true",
        help="closed loop: send --bodies as fast as they are answered, report throughput",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--secret", default=(os.environ.get("BEPRODUCT_WEBHOOK_SECRET") or "").split(",")[0]
    )
    args = p.parse_args()
    if args.flood:
        if not args.bodies:
            p.error("--flood sends --bodies")
        lines = Path(args.bodies).read_bytes().splitlines()
        result = asyncio.run(flood(args.url, args.secret, lines, args.connections))
        print(json.dumps({"kind": "flood", **result}))
        return
    warmup = int(args.rate * args.warmup)
    bodies = [
        orjson.dumps(b)
        for b in Stream(seed=args.seed).bodies(args.kind, warmup + int(args.rate * args.seconds))
    ]
    result = asyncio.run(drive(args.url, args.secret, bodies, args.rate, args.connections, warmup))
    result = {"kind": args.kind, "rate": args.rate, "warmup_requests": warmup, **result}
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['requests']} {args.kind} requests in {result['seconds']}s"
        f" ({result['achieved_rate']}/s), status codes {result['status_codes']},"
        f" errors {result['errors']}"
    )
    print(
        f"p50 {result['p50_ms']} ms  p90 {result['p90_ms']} ms  p99 {result['p99_ms']} ms"
        f"  max {result['max_ms']} ms"
    )


if __name__ == "__main__":
    main()
