"""Running `beproduct-sync` as a separate OS process, as users and deployments do."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SECRET = "cli-test-secret-42"
# Settings a developer's shell may carry that would change what a test's `serve` does.
CLEARED = (
    "BEPRODUCT_WEBHOOK_SECRET",
    "BEPRODUCT_WEBHOOK_SIGNING_SECRET",
    "BEPRODUCT_SYNC_INSECURE_DEV",
    "DATABASE_URL",
    "BEPRODUCT_SYNC_PORT",
)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`beproduct-sync ARGS` as a separate process with `env` added to this one's."""
    return subprocess.run(
        [sys.executable, "-m", "beproduct_sync", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_with(**values: str) -> dict[str, str]:
    """This process's environment without the CLEARED settings, JSON logs, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return {**env, "BEPRODUCT_SYNC_LOG_FORMAT": "json", **values}


def cli(*args: str) -> list[str]:
    """The argv of `beproduct-sync ARGS` run by this interpreter."""
    return [sys.executable, "-c", "from beproduct_sync.cli import main; main()", *args]


@dataclass
class Served:
    """A running `serve`: its base URL, process and log file (stderr, JSON lines)."""

    base: str
    proc: subprocess.Popen[str]
    log: Path

    def logged(self) -> str:
        """Everything it has logged so far."""
        return self.log.read_text(errors="replace")

    def wait_logged(self, text: str, timeout: float = 60.0) -> None:
        """Wait until `text` appears in the log (e.g. a component has started)."""
        deadline = time.monotonic() + timeout
        while text not in self.logged():
            assert self.proc.poll() is None, self.logged()
            assert time.monotonic() < deadline, f"{text!r} never logged:\n{self.logged()}"
            time.sleep(0.05)

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM it; its exit code, stdout and log."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, self.logged()


@contextmanager
def serving(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[Served]:
    """Start `serve` on a free port; yield it once /healthz answers; kill it if still running."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            cli("serve", "--port", str(port), *args),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
    served = Served(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, served.logged()
            try:
                if httpx.get(served.base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)
        yield served
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
