"""Ack latency of a running receiver at a fixed request rate (open loop, like a webhook sender).

    python bench/ack_latency.py [--url URL] [--rate 300] [--seconds 20] [--secret S]

Each request is a real sample payload with a unique header id, so none is a duplicate. The
client speaks HTTP/1.1 over raw keep-alive sockets so that, on a small machine, it does not
steal the CPU the service is being measured on. Latency counts from the moment a request was
due, so queueing inside the client is included (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from importlib import resources
from urllib.parse import urlsplit

import orjson


def request(host: str, path: str, secret: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {secret}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
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


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8000/webhooks/beproduct/tracking")
    p.add_argument("--rate", type=float, default=300.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--secret",
                   default=(os.environ.get("BEPRODUCT_WEBHOOK_SECRET") or "").split(",")[0])
    args = p.parse_args()
    url = urlsplit(args.url)
    sample = resources.files("beproduct_sync.samples").joinpath("tracking_onchangetimeline.json")
    template = orjson.loads(sample.read_bytes())
    total = int(args.rate * args.seconds)
    run_id = time.time_ns()
    payloads = [request(url.netloc, url.path, args.secret,
                        orjson.dumps({**template, "headerId": f"bench-{run_id}-{n}"}))
                for n in range(total)]
    due: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
        while (item := await due.get()) is not None:
            at, payload = item
            writer.write(payload)
            status = await read_reply(reader)
            latencies.append(time.perf_counter() - at)
            codes[status] = codes.get(status, 0) + 1
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(args.connections)]
    start = time.perf_counter()
    for n, payload in enumerate(payloads):
        at = start + n / args.rate
        if (delay := at - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        due.put_nowait((at, payload))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    print(f"{len(latencies)} requests in {elapsed:.1f}s ({len(latencies) / elapsed:.0f}/s),"
          f" status codes {codes}")
    print(f"p50 {q[49] * 1000:.1f} ms  p95 {q[94] * 1000:.1f} ms  p99 {q[98] * 1000:.1f} ms"
          f"  max {max(latencies) * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
