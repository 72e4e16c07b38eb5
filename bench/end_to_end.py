"""End to end against the reference pattern: the same events, measured in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/end_to_end.py \
        [--events 6000] [--worker-processes 1] [--workers 2] [--receivers 1]

1. Reference (bench/reference_pattern.py): the events applied the reference design's way,
   straight to PostgreSQL, no HTTP, over 1 and then 4 connections (concurrent invocations of
   the serverless function); the faster is the baseline.
2. End to end: `beproduct-sync serve` on a scratch database (its workers in
   --worker-processes child processes of --workers loops each); the same events are sent over
   HTTP by a separate raw-socket client process as fast as they are acknowledged
   (bench/ack_latency.py --flood, --connections sockets), and the clock stops when the last one
   is applied. events/s = events / (first send → inbox empty). With --receivers 2 a second
   `serve --workers 0` (receive only) takes half of the requests.

Prints JSON: both rates, the ratio with its target (at least 2x), pass/fail and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import reference_pattern
from drain import remaining
from service import SECRET, Databases, free_port, host, scalar, service

from beproduct_sync import migrations
from beproduct_sync.testing.loadgen import Stream

CLIENT = Path(__file__).with_name("ack_latency.py")
TARGET_RATIO = 2.0


def end_to_end(
    dbs: Databases, args: argparse.Namespace, bodies_file: Path, events: int, workdir: Path
) -> dict[str, Any]:
    """The events through HTTP: receive, durable inbox, apply; events/s until all applied."""
    name = dbs.create("e2e")
    url = dbs.url(name)
    migrations.migrate(url)
    lines = bodies_file.read_bytes().splitlines()
    parts = [lines[i :: args.receivers] for i in range(args.receivers)]
    files = []
    for i, part in enumerate(parts):
        f = workdir / f"bodies_{i}.jsonl"
        f.write_bytes(b"\n".join(part))
        files.append(f)
    with ExitStack() as stack:
        urls = [
            stack.enter_context(
                service(
                    url,
                    free_port(),
                    args.workers if i == 0 else 0,
                    None,
                    workdir / f"serve_{i}.log",
                    args.worker_processes if i == 0 else 0,
                )
            )
            for i in range(args.receivers)
        ]
        clients = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(CLIENT),
                    "--flood",
                    "--bodies",
                    str(f),
                    "--url",
                    u,
                    "--connections",
                    str(args.connections),
                ],
                env={**os.environ, "BEPRODUCT_WEBHOOK_SECRET": SECRET},
                stdout=subprocess.PIPE,
                text=True,
            )
            for f, u in zip(files, urls, strict=True)
        ]
        reports = []
        for c in clients:
            out, _ = c.communicate(timeout=600)
            if c.returncode:
                raise RuntimeError("the HTTP client failed")
            reports.append(json.loads(out))
        deadline = time.monotonic() + 600
        while remaining(url):
            if time.monotonic() > deadline:
                raise TimeoutError("the inbox did not empty in 600 s")
            time.sleep(0.02)
        finished = time.time()
    started = min(r["started_at_epoch"] for r in reports)
    received_by = max(r["started_at_epoch"] + r["seconds"] for r in reports)
    with_status = dict(
        scalar(
            url,
            "SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM"
            " (SELECT status, count(*) AS n FROM ops.beproduct_sync_log GROUP BY status) s",
        )
    )
    dbs.drop(name)
    return {
        "events": events,
        "receivers": args.receivers,
        "worker_processes": args.worker_processes,
        "loops_per_process": args.workers,
        "errors": sum(r["errors"] for r in reports),
        "receive_seconds": round(received_by - started, 2),
        "receive_rate": round(events / (received_by - started), 1),
        "seconds": round(finished - started, 2),
        "events_per_s": round(events / (finished - started), 1),
        "statuses": with_status,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--events", type=int, default=6000)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument(
        "--reference-connections",
        type=lambda t: [int(n) for n in t.split(",")],
        default=[1, 4],
        help="run the reference with each of these connection counts; the best is the baseline",
    )
    p.add_argument("--worker-processes", type=int, default=1, help="serve --worker-processes")
    p.add_argument("--workers", type=int, default=2, help="serve --workers (loops per process)")
    p.add_argument("--receivers", type=int, default=1, choices=(1, 2))
    p.add_argument("--connections", type=int, default=32, help="client sockets per receiver")
    p.add_argument("--skip-reference", action="store_true")
    args = p.parse_args()
    if not args.url:
        p.error("--url or DATABASE_URL is required")

    load = os.getloadavg()
    bodies = [orjson.dumps(b) for b in Stream(seed=args.seed).bodies("mixed", args.events)]
    dbs = Databases(args.url)
    result: dict[str, Any] = {"benchmark": "end_to_end", "stream": "mixed"}
    try:
        with tempfile.TemporaryDirectory(prefix="bps-e2e-") as tmp:
            if not args.skip_reference:
                runs = []
                for n in args.reference_connections:
                    ref = dbs.create(f"reference_{n}")
                    runs.append(reference_pattern.run(dbs.url(ref), bodies, n))
                    dbs.drop(ref)
                result["reference_runs"] = runs
                result["reference"] = max(runs, key=lambda r: r["events_per_s"])
            bodies_file = Path(tmp) / "bodies.jsonl"
            bodies_file.write_bytes(b"\n".join(bodies))
            result["end_to_end"] = end_to_end(dbs, args, bodies_file, len(bodies), Path(tmp))
    finally:
        dbs.drop_all()
    if "reference" in result:
        ratio = result["end_to_end"]["events_per_s"] / result["reference"]["events_per_s"]
        result["targets"] = [
            {
                "figure": "end_to_end / reference events per second",
                "target": f">= {TARGET_RATIO}",
                "value": round(ratio, 2),
                "pass": ratio >= TARGET_RATIO,
            },
            {
                "figure": "request errors",
                "target": "== 0",
                "value": result["end_to_end"]["errors"],
                "pass": result["end_to_end"]["errors"] == 0,
            },
        ]
        result["pass"] = all(t["pass"] for t in result["targets"])
    result["host"] = host(load)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
