"""Service benchmark: ack latency and lag over HTTP, and drain rate per worker count, as JSON.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/service.py \
        [--rate 300] [--seconds 30] [--backlog 20000] [--worker-configs 1x1,1x2,2x1,2x2]

1. Receive: starts `beproduct-sync serve` on a scratch database and, for each stream kind
   (create: OnCreate only; mixed: 80 % OnChange, 15 % OnCreate, 5 % OnDelete), drives it from
   a separate process (bench/ack_latency.py, open loop) at --rate for --seconds: ack latency
   and errors. It then waits for the queue to empty and takes the receive→applied lag
   (processed_at - received_at of the applied rows) from ops.beproduct_sync_log.
2. Drain: stores --backlog events of each kind in the inbox (one COPY, into a template
   database), then for each --worker-configs entry (processes x loops) clones it, starts that
   many `beproduct-sync worker` processes and reports events/s until the queue is empty.

Every database it creates is dropped at the end. Short smoke run: --seconds 3 --backlog 2000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
from drain import command, drain, remaining, store, worker_env
from psycopg.conninfo import make_conninfo

from beproduct_sync import migrations
from beproduct_sync.testing.loadgen import Stream

KINDS = ("create", "mixed")
SECRET = "bench-secret"
LOADGEN = Path(__file__).with_name("ack_latency.py")
TARGETS = {  # (figure, kind): (comparison, limit)
    ("ack_p99_ms", "create"): ("<=", 20.0),
    ("ack_p99_ms", "mixed"): ("<=", 20.0),
    ("ack_errors", "create"): ("==", 0),
    ("ack_errors", "mixed"): ("==", 0),
    ("lag_p95_s", "create"): ("<=", 1.0),
    ("lag_p95_s", "mixed"): ("<=", 1.0),
    ("drain_events_per_s", "create"): (">=", 400.0),
    ("drain_events_per_s", "mixed"): (">=", 1000.0),
}


class Databases:
    """Scratch databases next to the one in the admin URL; all dropped by `drop_all`."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url, self.prefix, self.names = admin_url, uuid.uuid4().hex[:8], []

    def create(self, label: str, template: str | None = None) -> str:
        name = f"bps_bench_{self.prefix}_{label}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        self.names.append(name)
        return name

    def url(self, name: str) -> str:
        return make_conninfo(self.admin_url, dbname=name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.remove(name)

    def drop_all(self) -> None:
        for name in list(self.names):
            self.drop(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host(load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    """The host facts every benchmark prints: cores, and the load average at start and now."""
    return {
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load_at_start],
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }


@contextmanager
def service(
    url: str, port: int, workers: int, side: tuple[int, int] | None, log: Path, processes: int = 0
) -> Iterator[str]:
    """`beproduct-sync serve` on `url` (plus `side` = (processes, loops) of separate
    `beproduct-sync worker`s); yields the webhook URL once /readyz answers 200."""
    env = {
        **os.environ,
        **worker_env(100, "INFO"),
        "DATABASE_URL": url,
        "BEPRODUCT_WEBHOOK_SECRET": SECRET,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--worker-processes",
                str(processes),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    procs = [proc]
    if side:
        procs += [
            subprocess.Popen(
                [*command(), "worker", "--workers", str(side[1])],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(side[0])
        ]
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                tail = log.read_text()[-2000:]
                raise RuntimeError(f"serve exited with {proc.returncode}: {tail}")
            ready = f"http://127.0.0.1:{port}/readyz"
            with suppress(OSError), urllib.request.urlopen(ready, timeout=1) as reply:
                if reply.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("serve did not become ready in 60 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/webhooks/beproduct/tracking"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


def scalar(url: str, sql: str, params: dict[str, Any] | None = None) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def wait_empty(url: str, timeout: float) -> float:
    """Seconds until nothing is left to work on."""
    started = time.perf_counter()
    while remaining(url):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"the queue did not drain within {timeout:.0f} s after the load")
        time.sleep(0.05)
    return round(time.perf_counter() - started, 2)


def lag(url: str, after_id: int) -> dict[str, Any]:
    """Receive→applied lag of the rows stored after `after_id`."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY lag),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag)"
            " FROM (SELECT extract(epoch FROM processed_at - received_at)::float8 AS lag"
            "       FROM ops.beproduct_sync_log WHERE id > %(id)s AND status = 'applied') l",
            {"id": after_id},
        ).fetchone()
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM ops.beproduct_sync_log WHERE id > %(id)s"
                " GROUP BY status",
                {"id": after_id},
            ).fetchall()
        )
    assert row is not None
    r3 = lambda v: None if v is None else round(v, 3)  # noqa: E731
    return {
        "applied": row[0],
        "p50_s": r3(row[1]),
        "p95_s": r3(row[2]),
        "p99_s": r3(row[3]),
        "max_s": r3(row[4]),
        "statuses": statuses,
    }


def receive(dbs: Databases, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Part 1: ack latency, errors and lag per stream kind against one running service."""
    name = dbs.create("serve")
    url = dbs.url(name)
    migrations.migrate(url)
    out: dict[str, Any] = {"ack": {}, "lag": {}}
    side = args.side_workers[0] if args.side_workers else None
    with service(
        url, free_port(), args.serve_workers, side, workdir / "serve.log", args.serve_processes
    ) as webhook:
        for kind in args.kinds:
            floor = scalar(url, "SELECT coalesce(max(id), 0) FROM ops.beproduct_sync_log")
            done = subprocess.run(
                [
                    sys.executable,
                    str(LOADGEN),
                    "--json",
                    "--url",
                    webhook,
                    "--kind",
                    kind,
                    "--rate",
                    str(args.rate),
                    "--seconds",
                    str(args.seconds),
                    "--warmup",
                    str(args.warmup),
                    "--connections",
                    str(args.connections),
                ],
                env={**os.environ, "BEPRODUCT_WEBHOOK_SECRET": SECRET},
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise RuntimeError(f"the load generator failed: {done.stderr[-2000:]}")
            out["ack"][kind] = json.loads(done.stdout)
            if not (args.serve_workers or side):  # nothing applies: there is no lag
                out["lag"][kind] = None
                continue
            settle = wait_empty(url, timeout=max(120.0, 10 * args.seconds))
            out["lag"][kind] = {**lag(url, floor), "queue_empty_after_load_s": settle}
    dbs.drop(name)
    return out


def drains(dbs: Databases, args: argparse.Namespace) -> dict[str, Any]:
    """Part 2: events/s from a stored backlog, per kind and worker configuration."""
    out: dict[str, Any] = {}
    env = worker_env(args.batch_size, "INFO")
    for kind in args.kinds:
        template = dbs.create(f"{kind}_backlog")
        url = dbs.url(template)
        migrations.migrate(url)
        t0 = time.perf_counter()
        store(url, Stream().bodies(kind, args.backlog))
        stored_s = time.perf_counter() - t0
        runs = []
        for processes, loops in args.worker_configs:
            clone = dbs.create(f"{kind}_{processes}x{loops}", template=template)
            runs.append(drain(dbs.url(clone), processes, loops, env))
            dbs.drop(clone)
        dbs.drop(template)
        best = max(runs, key=lambda r: r["events_per_s"])
        out[kind] = {
            "backlog": args.backlog,
            "store_seconds": round(stored_s, 2),
            "best": f"{best['processes']}x{best['loops']}",
            "best_events_per_s": best["events_per_s"],
            "runs": runs,
        }
    return out


def verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured figure and pass/fail."""
    figures = {
        "ack_p99_ms": lambda k: result["ack"][k]["p99_ms"],
        "ack_errors": lambda k: result["ack"][k]["errors"],
        "lag_p95_s": lambda k: (result["lag"][k] or {}).get("p95_s"),
        "drain_events_per_s": lambda k: result["drain"][k]["best_events_per_s"],
    }
    checks = {"<=": lambda v, t: v <= t, ">=": lambda v, t: v >= t, "==": lambda v, t: v == t}
    out = []
    for (figure, kind), (op, limit) in TARGETS.items():
        part = "drain" if figure.startswith("drain") else "ack"
        if kind not in result["kinds"] or part not in result:
            continue
        value = figures[figure](kind)
        out.append(
            {
                "figure": figure,
                "stream": kind,
                "target": f"{op} {limit}",
                "value": value,
                "pass": value is not None and checks[op](value, limit),
            }
        )
    return out


def worker_configs(text: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(n) for n in part.lower().split("x")) for part in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give processes x loops, comma-separated, e.g. 1x1,2x1,2x2"
        )
    return [(p[0], p[1]) for p in pairs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--url",
        default=os.environ.get("DATABASE_URL"),
        help="any database on the server to use (default: DATABASE_URL)",
    )
    p.add_argument("--rate", type=float, default=300.0, help="requests per second")
    p.add_argument("--seconds", type=float, default=30.0, help="measured seconds per stream")
    p.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds before that")
    p.add_argument("--connections", type=int, default=32, help="load generator sockets")
    p.add_argument("--serve-workers", type=int, default=2, help="serve --workers")
    p.add_argument(
        "--serve-processes",
        type=int,
        default=1,
        help="serve --worker-processes (workers in child processes of serve)",
    )
    p.add_argument(
        "--side-workers",
        type=worker_configs,
        metavar="PxL",
        help="also run P `beproduct-sync worker` processes of L loops next to serve"
        " during the receive part (e.g. --serve-workers 0 --side-workers 1x2)",
    )
    p.add_argument("--backlog", type=int, default=20000, help="stored events per drain run")
    p.add_argument(
        "--worker-configs",
        type=worker_configs,
        default="1x1,1x2,2x1,2x2",
        help="processes x loops per drain run (default: %(default)s)",
    )
    p.add_argument("--batch-size", type=int, default=100, help="BEPRODUCT_SYNC_BATCH_SIZE")
    p.add_argument(
        "--kinds",
        type=lambda t: [k for k in t.split(",") if k],
        default=list(KINDS),
        help="streams to run, comma-separated (default: create,mixed)",
    )
    p.add_argument("--skip", choices=("receive", "drain"), action="append", default=[])
    args = p.parse_args()
    if not args.url:
        p.error("--url or DATABASE_URL is required (a PostgreSQL server to create databases on)")

    load_start = os.getloadavg()
    started = time.perf_counter()
    dbs = Databases(args.url)
    if set(args.kinds) - set(KINDS) or not args.kinds:
        p.error(f"--kinds: choose from {', '.join(KINDS)}")
    result: dict[str, Any] = {"benchmark": "service", "kinds": args.kinds}
    try:
        with tempfile.TemporaryDirectory(prefix="bps-bench-") as tmp:
            if "receive" not in args.skip:
                result.update(receive(dbs, args, Path(tmp)))
            if "drain" not in args.skip:
                result["drain"] = drains(dbs, args)
    finally:
        dbs.drop_all()
    server = scalar(args.url, "SHOW server_version")
    result["targets"] = verdicts(result)
    result["pass"] = all(t["pass"] for t in result["targets"])
    result["config"] = {
        "rate": args.rate,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "connections": args.connections,
        "serve_workers": args.serve_workers,
        "side_workers": [f"{a}x{b}" for a, b in args.side_workers or []],
        "backlog": args.backlog,
        "batch_size": args.batch_size,
        "worker_configs": [f"{a}x{b}" for a, b in args.worker_configs],
    }
    result["host"] = {
        **host(load_start),
        "python": platform.python_version(),
        "postgres": server,
        "busy_at_start": load_start[0] > 0.5 * (os.cpu_count() or 1),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
