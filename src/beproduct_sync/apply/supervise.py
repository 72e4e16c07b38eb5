"""Worker child processes for `serve --worker-processes N`.

On a small machine the receiver answers faster when the workers' CPU work (parsing, mapping) runs
in other processes rather than in the receiver's event loop. `serve` then stays the one command
a deployment needs: it starts `beproduct-sync worker` children, restarts any that die, and on
shutdown sends them SIGTERM (they finish what is in flight and exit 0) before it exits itself.
Each child gets its worker process id (BEPRODUCT_SYNC_PROCESS_ID) from here, so when one dies
its claimed events are handed back at once (inbox.leases.release_process), charging only those
it was applying, rather than when its heartbeat is noticed missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys

import psycopg
import structlog

from beproduct_sync import db, metrics
from beproduct_sync._backoff import pause
from beproduct_sync.apply.worker import PROCESS_ENV, new_process_id
from beproduct_sync.errors import SyncError
from beproduct_sync.inbox.leases import release_process

log = structlog.get_logger("beproduct_sync.supervise")

RESTART_DELAY_SECONDS = 1.0
# An unreachable database must not hold up the restart (the heartbeat takeover still works).
RELEASE_CONNECT_TIMEOUT_SECONDS = 5
PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_SECONDS = 30.0


PARENT_ENV = "BEPRODUCT_SYNC_PARENT_PID"


def follow_parent() -> bool:
    """In a worker `serve` started: get SIGTERM when `serve` dies without stopping it (SIGKILL,
    OOM), so no orphan keeps working; exit at once if it died already. True in such a worker.

    Done in the child after exec, not in a pre-exec hook: code between fork and exec in a
    process with threads can deadlock.
    """
    raw = os.environ.pop(PARENT_ENV, None)
    if not raw or not raw.isdigit():
        return False
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(raw):  # serve died before the signal was asked for
        raise SystemExit(0)
    return True


def lower_priority(increment: int) -> None:
    """In a worker `serve` started: run at a lower CPU priority (nice), so that on a machine
    short of cores the receiver always gets the core first and acknowledges webhooks at once,
    while the workers apply with the CPU time left (a backlog waits durably in the inbox)."""
    if increment > 0:
        try:
            os.nice(increment)
        except OSError as exc:  # not allowed here (some sandboxes): run at the usual priority
            log.warning("worker_nice_refused", increment=increment, error=str(exc))


async def _release(url: str, process: str, index: int) -> None:
    """A child exited: hand its claimed events back now rather than when its heartbeat is
    noticed missing (or its lease runs out); see inbox.leases.release_process."""
    try:
        async with await db.aconnect(
            url,
            autocommit=True,
            application_name="beproduct-sync supervisor",
            connect_timeout=RELEASE_CONNECT_TIMEOUT_SECONDS,
        ) as conn:
            released = await release_process(conn, process)
    except (psycopg.Error, SyncError) as exc:  # the heartbeat takeover still happens
        log.warning("worker_claims_not_released", index=index, error=db.describe_error(exc))
        return
    log.info("worker_claims_released", index=index, events=released)


async def _child(
    index: int, url: str, loops: int | None, stop: asyncio.Event, metrics_dir: str | None
) -> None:
    env = {**os.environ, "DATABASE_URL": url, PARENT_ENV: str(os.getpid())}
    if metrics_dir is not None:  # the receiver's /metrics reads what the child records there
        env[metrics.MULTIPROC_ENV] = metrics_dir
    args = [sys.executable, "-m", "beproduct_sync", "worker"]
    if loops is not None:
        args += ["--workers", str(loops)]
    while not stop.is_set():
        # Own session: a Ctrl-C in the terminal reaches `serve` only, which then stops the
        # children once (a second signal would make a worker hurry instead of finishing).
        process = new_process_id()  # its workers' claims are named after it
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                env={**env, PROCESS_ENV: process},
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:  # e.g. no memory to fork: try again rather than give up the slot
            log.error(
                "worker_process_start_failed",
                index=index,
                error=str(exc),
                retry_in_s=RESTART_DELAY_SECONDS,
            )
            await pause(stop, RESTART_DELAY_SECONDS)
            continue
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
            _forget(proc.pid, metrics_dir)
            log.info("worker_process_stopped", index=index, code=proc.returncode)
            return
        stopper.cancel()
        _forget(proc.pid, metrics_dir)
        log.warning(
            "worker_process_exited",
            index=index,
            code=proc.returncode,
            restart_in_s=RESTART_DELAY_SECONDS,
        )
        await _release(url, process, index)
        await pause(stop, RESTART_DELAY_SECONDS)


def _forget(pid: int, metrics_dir: str | None) -> None:
    """A child is gone: its gauges no longer count (its counters do)."""
    if metrics_dir is not None:
        metrics.forget_process(pid, metrics_dir)


async def run_worker_processes(
    url: str, count: int, loops: int | None, stop: asyncio.Event, metrics_dir: str | None = None
) -> None:
    """Keep `count` worker processes running until `stop` is set, then stop them gracefully.
    With `metrics_dir`, the children record their metrics there (metrics.registry reads it)."""
    await asyncio.gather(*(_child(i, url, loops, stop, metrics_dir) for i in range(count)))
