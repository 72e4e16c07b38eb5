"""`beproduct-sync serve` (receiver + workers, in child processes or in-process) and `send`."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import Coroutine, Generator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer

from beproduct_sync import bootstrap, metrics
from beproduct_sync.bootstrap import Runtime, build
from beproduct_sync.cli.common import (
    BACKGROUND_GRACE_SECONDS,
    app,
    fail,
    finish_tasks,
    load_settings,
    long_running,
    run,
)
from beproduct_sync.errors import SyncError
from beproduct_sync.web.auth import guard_from

if TYPE_CHECKING:
    import uvicorn

log = structlog.get_logger("beproduct_sync.serve")
# The web stack (uvicorn, Starlette, the read API) is imported by the commands that serve:
# every other command starts without paying for it.
WEBHOOK_PATH = "/webhooks/beproduct/tracking"  # web.app.WEBHOOK_PATH (checked by a test)


def _server(config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn without its own signal handling: `serve` owns the signals for web and workers."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            # uvicorn re-raises a captured signal after shutdown, which would turn a clean
            # SIGTERM into a non-zero exit; serve() handles the signals itself instead.
            yield

    return Server(config)


def _on_signals(server: uvicorn.Server, stop: asyncio.Event) -> None:
    """First SIGINT/SIGTERM: stop accepting and let work finish; a second SIGINT: hurry."""
    loop = asyncio.get_running_loop()

    def handle() -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handle)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(handle))


def _background(
    coros: Sequence[Coroutine[Any, Any, None] | None], names: Sequence[str]
) -> list[asyncio.Future[None]]:
    return [
        asyncio.create_task(c, name=f"beproduct-sync {n}")
        for c, n in zip(coros, names, strict=True)
        if c is not None
    ]


async def serve_forever(
    rt: Runtime,
    server: uvicorn.Server,
    workers: int | None,
    processes: int = 0,
    metrics_dir: str | None = None,
) -> None:
    """Run the HTTP server and the workers until a signal, then drain both.

    Workers run in this loop, or with `processes` > 0 in that many child processes (each with
    `workers` loops, default BEPRODUCT_SYNC_WORKERS), which run the enricher themselves.
    """
    stop = asyncio.Event()
    _on_signals(server, stop)
    task: asyncio.Task[None] | None = None
    background: list[asyncio.Future[None]] = []
    if processes > 0:
        task = asyncio.create_task(_worker_processes(rt.url, processes, workers, stop, metrics_dir))
        background = _background(
            [bootstrap.reconcile_work(rt, stop), bootstrap.retention_work(rt, stop)],
            ["reconcile", "retention"],
        )
    elif workers != 0:
        task = asyncio.create_task(bootstrap.workers(rt, stop, workers))
        # BeProduct API enrichment and scheduled reconciliation, when configured; both end
        # by themselves once `stop` is set.
        background = _background(
            [
                bootstrap.enricher_work(rt, stop),
                bootstrap.reconcile_work(rt, stop),
                bootstrap.outbox_work(rt, stop, _worker_name("outbox")),
                bootstrap.retention_work(rt, stop),
            ],
            ["enricher", "reconcile", "outbox", "retention"],
        )
    if task is not None:
        # Workers (or their supervision) that end while serving (a bug) must not leave a
        # receiver filling an inbox nobody drains.
        task.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        stop.set()
        try:
            if task is not None:
                await task
        finally:
            await finish_tasks(background, BACKGROUND_GRACE_SECONDS)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [BEPRODUCT_SYNC_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind [BEPRODUCT_SYNC_PORT].")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Worker loops per worker process (0 = receive only) [BEPRODUCT_SYNC_WORKERS].",
        ),
    ] = None,
    worker_processes: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Run the workers in this many supervised child processes; 0 runs them in"
            " the receiver's own event loop [BEPRODUCT_SYNC_WORKER_PROCESSES].",
        ),
    ] = None,
    insecure_dev: Annotated[
        bool,
        typer.Option(
            "--insecure-dev", help="Accept webhooks without a secret (local development only)."
        ),
    ] = False,
) -> None:
    """Receive BeProduct webhooks over HTTP and apply them with workers (child processes)."""
    settings = load_settings()
    if insecure_dev:
        settings = settings.model_copy(update={"beproduct_sync_insecure_dev": True})
    host = host or settings.beproduct_sync_host
    port = settings.beproduct_sync_port if port is None else port
    processes = (
        settings.beproduct_sync_worker_processes if worker_processes is None else worker_processes
    )
    if workers == 0:  # receive only
        processes = 0
    with _children_metrics(processes) as metrics_dir:
        try:
            guard_from(settings)  # refuse before touching the database when nothing authenticates
            rt = build(settings)
            from beproduct_sync.web.app import create_app

            web = create_app(rt.settings, rt.url, metrics_dir=metrics_dir)
        except SyncError as exc:
            raise fail(str(exc)) from None
        _serve(rt, web, host, port, workers, processes, metrics_dir)


@contextmanager
def _children_metrics(processes: int) -> Generator[str | None, None, None]:
    """Where the worker children record their metrics for this process's /metrics: a private
    directory for this run, or the operator's own multiprocess directory when one is set."""
    if processes == 0:
        yield None
    elif metrics.INHERITED_DIR is not None:
        yield metrics.INHERITED_DIR
    else:
        with tempfile.TemporaryDirectory(prefix="beproduct-sync-metrics-") as path:
            yield path


def _serve(
    rt: Runtime,
    web: Any,
    host: str,
    port: int,
    workers: int | None,
    processes: int,
    metrics_dir: str | None,
) -> None:
    """Say where webhooks go, then serve until a signal (see serve_forever)."""
    settings = rt.settings
    if rt.embedded:
        typer.echo(
            f"no DATABASE_URL: using the embedded PostgreSQL in {settings.beproduct_sync_data_dir}"
        )
    typer.echo(f"receiving BeProduct webhooks at http://{_local(host)}:{port}{WEBHOOK_PATH}")
    import uvicorn

    config = uvicorn.Config(
        web,
        host=host,
        port=port,
        log_config=None,
        lifespan="on",
        access_log=settings.beproduct_sync_access_log,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    long_running()
    run(serve_forever(rt, _server(config), workers, processes, metrics_dir))


def _local(host: str) -> str:
    """A host to reach a server bound to `host` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - not a bind


@app.command()
def send(
    paths: Annotated[list[Path], typer.Argument(help="JSON body files or directories of them.")],
    url: Annotated[str | None, typer.Option(help="Webhook URL of a running service.")] = None,
) -> None:
    """POST payload files to a running service with the configured secret; print each answer."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or directory: {', '.join(missing)}")
    settings = load_settings()
    target = url or (
        f"http://{_local(settings.beproduct_sync_host)}:"
        f"{settings.beproduct_sync_port}{WEBHOOK_PATH}"
    )
    ok = True
    from beproduct_sync.cli.send import post_all

    for line, good in post_all(settings, target, paths):
        typer.echo(line, err=not good)
        ok = ok and good
    if not ok:
        raise typer.Exit(1)


def _worker_processes(
    url: str, processes: int, workers: int | None, stop: asyncio.Event, metrics_dir: str | None
) -> Coroutine[Any, Any, None]:
    from beproduct_sync.apply.supervise import run_worker_processes

    return run_worker_processes(url, processes, workers, stop, metrics_dir)


def _worker_name(index: str) -> str:
    from beproduct_sync.apply.worker import worker_name

    return worker_name(index)
