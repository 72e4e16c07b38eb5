"""Worker child processes for `serve --worker-processes N`.

On a small machine the receiver answers faster when the workers' CPU work (parsing, mapping) runs
in other processes rather than in the receiver's event loop. `serve` then stays the one command
a deployment needs: it starts `beproduct-sync worker` children, restarts any that die, and on
shutdown sends them SIGTERM (they finish what is in flight and exit 0) before it exits itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

import structlog

log = structlog.get_logger("beproduct_sync.supervise")

RESTART_DELAY_SECONDS = 1.0
PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_SECONDS = 30.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: the child gets SIGTERM if `serve` dies without stopping it (e.g. SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def _child(index: int, url: str, loops: int | None, stop: asyncio.Event) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    args = [sys.executable, "-m", "beproduct_sync", "worker"]
    if loops is not None:
        args += ["--workers", str(loops)]
    while not stop.is_set():
        # Own session: a Ctrl-C in the terminal reaches `serve` only, which then stops the
        # children once (a second signal would make a worker hurry instead of finishing).
        proc = await asyncio.create_subprocess_exec(
            *args, env=env, stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.info("worker_process_started", index=index, pid=proc.pid)
        waiter = asyncio.ensure_future(proc.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set() and proc.returncode is None:
            stopper.cancel()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(waiter, STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                # Its leases return its events to the queue; nothing is lost by killing it.
                log.warning("worker_process_killed", index=index, pid=proc.pid)
                proc.kill()
                await waiter
            log.info("worker_process_stopped", index=index, code=proc.returncode)
            return
        stopper.cancel()
        log.warning("worker_process_exited", index=index, code=proc.returncode,
                    restart_in_s=RESTART_DELAY_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RESTART_DELAY_SECONDS)


async def run_worker_processes(url: str, count: int, loops: int | None,
                               stop: asyncio.Event) -> None:
    """Keep `count` worker processes running until `stop` is set, then stop them gracefully."""
    await asyncio.gather(*(_child(i, url, loops, stop) for i in range(count)))
