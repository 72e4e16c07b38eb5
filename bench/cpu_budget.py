"""CPU per event, by process: receiver, worker, and the PostgreSQL backends serving each.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/cpu_budget.py \
        [--events 3000] [--profile DIR]

1. Receive: `beproduct-sync serve --workers 0` (receive only) on a scratch database takes
   --events mixed events from the closed-loop client (bench/ack_latency.py --flood).
2. Apply: a `beproduct-sync worker --workers 2` process drains them.
CPU time (user + system, from /proc) of each process and of the database backends serving it
is divided by the events. With --profile DIR, py-spy (the `bench` extra) samples the receiver
and the worker into DIR/receiver.txt and DIR/worker.txt (collapsed stacks) and the hottest
functions are printed. CPU time is counted per process, not as wall time, so other processes'
time is left out (contention on a busy machine still inflates it somewhat).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
from drain import command, remaining, worker_env
from memory import serve_pid
from service import SECRET, Databases, free_port, host, service

from beproduct_sync import migrations
from beproduct_sync.testing.loadgen import Stream

CLIENT = Path(__file__).with_name("ack_latency.py")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def backends(admin: str, db: str, app: str | None = None) -> list[int]:
    """Pids of the server processes connected to database `db`."""
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        ).fetchall()
    return [r[0] for r in rows]


def spy(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling `pid` (and its children) into `out`, or None without py-spy."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        return None
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _name(frame: str) -> str:
    # py-spy frames read "function (path/module.py:line)".
    function, _, where = frame.partition(" (")
    return f"{function} ({where.rsplit('/', 1)[-1].split(':')[0]})"


def hottest(collapsed: Path, top: int = 12) -> dict[str, list[tuple[str, float]]]:
    """From py-spy's collapsed stacks: the functions with most samples of their own (`self`,
    %), and our functions by samples with them on the stack (`ours_inclusive`, %)."""
    own: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        own[_name(frames[-1])] += n
        for frame in {f for f in frames if "beproduct_sync/" in f}:
            ours[_name(frame)] += n
    if not total:
        return {"self": [], "ours_inclusive": []}
    share = lambda c: [(f, round(100 * k / total, 1)) for f, k in c.most_common(top)]  # noqa: E731
    return {"self": share(own), "ours_inclusive": share(ours)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--events", type=int, default=3000)
    p.add_argument("--profile", metavar="DIR", help="py-spy both processes into DIR")
    args = p.parse_args()
    if not args.url:
        p.error("--url or DATABASE_URL is required")
    load = os.getloadavg()
    dbs = Databases(args.url)
    out: dict[str, Any] = {"benchmark": "cpu_budget", "events": args.events, "stream": "mixed"}
    profile = Path(args.profile) if args.profile else None
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    bodies = [orjson.dumps(b) for b in Stream(seed=16).bodies("mixed", args.events)]
    try:
        name = dbs.create("cpu")
        url = dbs.url(name)
        migrations.migrate(url)
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / "bodies.jsonl"
            file.write_bytes(b"\n".join(bodies))
            port = free_port()
            with service(url, port, 0, None, Path(tmp) / "serve.log", 0) as webhook:
                pid = serve_pid(port)
                sampler = spy(pid, profile / "receiver.txt") if profile else None
                pg = backends(args.url, name)
                before = cpu_seconds(pid), sum(cpu_seconds(b) for b in pg)
                flags = ("--url", webhook, "--connections", "32")
                done = subprocess.run(
                    [sys.executable, str(CLIENT), "--flood", "--bodies", str(file), *flags],
                    env={**os.environ, "BEPRODUCT_WEBHOOK_SECRET": SECRET},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                pg = backends(args.url, name)
                after = cpu_seconds(pid), sum(cpu_seconds(b) for b in pg)
                if sampler:
                    sampler.send_signal(signal.SIGINT)
                    sampler.wait(30)
            flood = json.loads(done.stdout)
            out["receive"] = {
                "requests_per_s": flood["achieved_rate"],
                "errors": flood["errors"],
                "receiver_cpu_ms_per_event": round(1000 * (after[0] - before[0]) / args.events, 3),
                "database_cpu_ms_per_event": round(1000 * (after[1] - before[1]) / args.events, 3),
            }
            worker = subprocess.Popen(
                [*command(), "worker", "--workers", "2"],
                env={**os.environ, **worker_env(100, "WARNING"), "DATABASE_URL": url},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            sampler = spy(worker.pid, profile / "worker.txt") if profile else None
            started = time.perf_counter()
            while remaining(url):
                time.sleep(0.02)
            seconds = time.perf_counter() - started
            pg = backends(args.url, name)
            worker_cpu, pg_cpu = cpu_seconds(worker.pid), sum(cpu_seconds(b) for b in pg)
            if sampler:
                sampler.send_signal(signal.SIGINT)
                sampler.wait(30)
            worker.terminate()
            worker.wait(60)
            out["apply"] = {
                "seconds_incl_startup": round(seconds, 2),
                "worker_cpu_ms_per_event_incl_startup": round(1000 * worker_cpu / args.events, 3),
                "database_cpu_ms_per_event": round(1000 * pg_cpu / args.events, 3),
            }
    finally:
        dbs.drop_all()
    if profile:
        for part in ("receiver", "worker"):
            if (profile / f"{part}.txt").exists():
                out[f"hottest_{part}"] = hottest(profile / f"{part}.txt")
    out["host"] = host(load)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
