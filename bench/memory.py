"""Memory of `serve` while its workers drain a stored backlog.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/memory.py \
        [--backlog 20000] [--kind mixed]

Stores --backlog events in the inbox of a scratch database (one COPY), starts the default
`beproduct-sync serve` on it (the receiver plus its worker child process) and samples the
resident set size of serve and of all its descendants every 0.1 s until the queue is empty.
Prints JSON with the peak of serve alone and of the whole process tree, the target (tree ≤ 300
MB), pass/fail and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from drain import remaining, store
from service import Databases, free_port, host, service

from beproduct_sync import migrations
from beproduct_sync.testing.loadgen import Stream

TARGET_MB = 300.0


def rss_mb(pid: int) -> float:
    """Resident set size of one process, MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def serve_pid(port: int) -> int:
    """The pid of the process listening on `port` (the serve started by service())."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True)
    text = out.stdout
    start = text.index("pid=") + 4
    return int(text[start : text.index(",", start)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--backlog", type=int, default=20000)
    p.add_argument("--kind", choices=("mixed", "create"), default="mixed")
    args = p.parse_args()
    if not args.url:
        p.error("--url or DATABASE_URL is required")
    load = os.getloadavg()
    dbs = Databases(args.url)
    result: dict[str, Any] = {"benchmark": "memory", "kind": args.kind, "backlog": args.backlog}
    try:
        url = dbs.url(dbs.create("memory"))
        migrations.migrate(url)
        store(url, Stream().bodies(args.kind, args.backlog))
        port = free_port()
        peak_serve = peak_tree = 0.0
        with (
            tempfile.TemporaryDirectory() as tmp,
            service(url, port, 2, None, Path(tmp) / "log", 1),
        ):
            pid = serve_pid(port)
            started = time.perf_counter()
            while remaining(url):
                tree = descendants(pid)
                peak_serve = max(peak_serve, rss_mb(pid))
                peak_tree = max(peak_tree, sum(rss_mb(p) for p in tree))
                time.sleep(0.1)
            result["processes"] = len(descendants(pid))
            result["drain_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        dbs.drop_all()
    result["peak_rss_mb"] = {"serve": round(peak_serve, 1), "tree": round(peak_tree, 1)}
    result["targets"] = [
        {
            "figure": "peak RSS of serve and its worker processes, MB",
            "target": f"<= {TARGET_MB}",
            "value": round(peak_tree, 1),
            "pass": peak_tree <= TARGET_MB,
        }
    ]
    result["pass"] = peak_tree <= TARGET_MB
    result["host"] = host(load)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
