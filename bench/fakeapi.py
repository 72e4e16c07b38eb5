"""A `beproduct-sync fake-beproduct` process for benchmarks, and the settings pointing at it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
from service import free_port

FAKE = (sys.executable, "-m", "beproduct_sync", "fake-beproduct")
# Measure our side: no simulated page latency, no rate limit in the way.
QUIET = ("--seconds-per-row", "0", "--rate-per-minute", "0", "--rate-per-hour", "0",
         "--rate-per-day", "0")  # fmt: skip


@contextmanager
def fake_api(options: Sequence[str] = ()) -> Iterator[dict[str, str]]:
    """Run the fake with `options` (plus QUIET); yields the BEPRODUCT_* settings it printed."""
    port = free_port()
    fake = subprocess.Popen(
        [*FAKE, "--port", str(port), *QUIET, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        env: dict[str, str] = {}
        assert fake.stdout is not None
        deadline = time.time() + 60
        while time.time() < deadline and "BEPRODUCT_TOKEN_URL" not in env:
            line = fake.stdout.readline()
            if not line and fake.poll() is not None:
                raise RuntimeError("the fake BeProduct exited")
            key, _, value = line.strip().removeprefix("export ").partition("=")
            if key.startswith("BEPRODUCT_"):
                env[key] = value.strip("'\"")
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/_admin/stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield env
    finally:
        fake.terminate()
        fake.wait(10)
