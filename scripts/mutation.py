#!/usr/bin/env python3
"""Mutation testing: put one realistic bug at a time into the source, run the tests meant to
catch it, put the source back. Prints JSON: how many mutations the tests killed, and which
survived. Not part of CI (it takes many minutes); run it before changing what tests cover.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python scripts/mutation.py
    .venv/bin/python scripts/mutation.py --only reconcile-fix-plus-margin --only claim-without-skip-locked
    .venv/bin/python scripts/mutation.py --list      # the catalogue, with each mutation's tests
    .venv/bin/python scripts/mutation.py --check     # every patch still applies (fast)

Each mutation is a named text substitution in a file under src/beproduct_sync/ (the text must
occur exactly once), followed by the tests named for it (pytest -x). Killed: a test failed.
Survived: all passed. Error: pytest could not run them (a broken patch, not a kill). The file is
restored afterwards, on Ctrl-C or SIGTERM too; a copy of the original is kept in
.mutation-backup/ while a mutation is in place, so a run killed hard is repaired by the next
one. Property tests run under the `mutation` Hypothesis profile (tests/conftest.py):
derandomized and without the example database, so two runs give the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "beproduct_sync"
BACKUP = ROOT / ".mutation-backup"
TIMEOUT_SECONDS = 1200


@dataclass(frozen=True)
class Mutation:
    """A named bug: `old` → `new` in `path` (relative to src/beproduct_sync), and the tests
    written to catch it (pytest node ids or files, relative to tests/)."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    also: tuple[tuple[str, str, str], ...] = ()  # more (path, old, new) edits of the same bug

    @property
    def edits(self) -> tuple[tuple[str, str, str], ...]:
        """Every (path, old, new) of this mutation."""
        return ((self.path, self.old, self.new), *self.also)


# Test groups (files under tests/).
PROPERTY = "integration/test_order_independence.py"
RACES = "integration/test_races.py"
EXACT = "integration/test_exact_values.py"
EXACT_UNIT = "unit/model/test_exact_values.py"
WRITER = "integration/test_apply_writer.py"
SERVICE = "integration/test_apply_service.py"
RETRY = "integration/test_apply_retry_replay.py"
HARDENING = "integration/test_inbox_hardening.py"
WORKER = "integration/test_apply_worker.py"
API = "integration/test_api_backfill_reconcile.py"
RECEIVE = "integration/test_web_receive.py"
WEB_ERRORS = "integration/test_web_errors.py"
AUTH_UNIT = "unit/web/test_auth.py"
WEB_AUTH = "integration/test_web_auth.py"
FROM_WEBHOOK = "unit/model/test_from_webhook.py"

CATALOGUE: tuple[Mutation, ...] = (
    # --- The bugs of issue 15's table, each with the test written to catch it. ---
    Mutation(
        "reconcile-fix-plus-margin",
        "api/reconcile.py",
        "at_ticks = snapshot.ticks - margin",
        "at_ticks = snapshot.ticks + margin",
        (f"{API}::test_a_webhook_landing_during_a_reconcile_fix_pass_keeps_its_newer_state",),
    ),
    Mutation(
        "lock-owned-without-for-update",
        "sql/log_lock_owned.sql",
        "\nFOR UPDATE",
        "",
        (f"{RACES}::test_a_lease_that_runs_out_mid_apply_lets_no_second_worker_claim_or_apply_the_events",),
    ),
    Mutation(
        "claim-without-skip-locked",
        "sql/worker_claim.sql",
        "FOR UPDATE SKIP LOCKED",
        "FOR UPDATE",
        (f"{RACES}::test_two_workers_claiming_at_once_take_disjoint_batches_without_waiting_and_apply_once",),
    ),
    # --- The property test on its own. ---
    Mutation(
        "oldest-write-wins-milestones",
        "sql/apply_milestones.sql",
        "WHERE excluded.source_version > coalesce(t.source_version, -1)",
        "WHERE excluded.source_version < coalesce(t.source_version, 1e40)",
        (PROPERTY,),
    ),
    Mutation(
        "oldest-write-wins-lifecycle",
        "sql/apply_record.sql",
        "active             = CASE WHEN excluded.lifecycle_version > coalesce(t.lifecycle_version, -1)",
        "active             = CASE WHEN excluded.lifecycle_version < coalesce(t.lifecycle_version, 1e40)",
        (PROPERTY,),
        also=(
            (
                "sql/apply_record.sql",
                "deleted_at         = CASE WHEN excluded.lifecycle_version > coalesce(t.lifecycle_version, -1)",
                "deleted_at         = CASE WHEN excluded.lifecycle_version < coalesce(t.lifecycle_version, 1e40)",
            ),
            (
                "sql/apply_record.sql",
                "   OR excluded.lifecycle_version > coalesce(t.lifecycle_version, -1)\n",
                "   OR excluded.lifecycle_version < coalesce(t.lifecycle_version, 1e40)\n",
            ),
        ),
    ),
    Mutation(
        "version-not-ordered-by-time-first",
        "model/rows.py",
        'return str(time.ticks * 1_000_000 + int.from_bytes(body_digest[:4], "big") % 1_000_000)',
        'return str(int.from_bytes(body_digest[:4], "big") % 1_000_000 * 10**20 + time.ticks)',
        (PROPERTY,),
    ),
)


def restore_backups() -> list[str]:
    """Put back any original a previous, hard-killed run left in .mutation-backup/."""
    restored = []
    if BACKUP.exists():
        for saved in BACKUP.rglob("*"):
            if saved.is_file():
                target = PACKAGE / saved.relative_to(BACKUP)
                shutil.copyfile(saved, target)
                restored.append(str(target.relative_to(ROOT)))
        shutil.rmtree(BACKUP)
    return restored


def check(mutation: Mutation) -> str | None:
    """Why the mutation cannot be applied (None when it can)."""
    for path, old, new in mutation.edits:
        file = PACKAGE / path
        if not file.exists():
            return f"{path}: no such file"
        count = file.read_text().count(old)
        if count != 1:
            return f"{path}: the text to replace occurs {count} times, not once"
        if old == new:
            return f"{path}: the replacement changes nothing"
    for test in mutation.tests:
        if not (ROOT / "tests" / test.split("::")[0]).exists():
            return f"{test}: no such test file"
    return None


class Interrupted(Exception):
    """SIGTERM: stop like Ctrl-C does."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def run_one(mutation: Mutation, python: str) -> dict[str, Any]:
    """Apply, test, restore: the result of one mutation."""
    originals: dict[Path, str] = {}
    started = time.monotonic()
    try:
        for path, old, new in mutation.edits:
            file = PACKAGE / path
            text = originals.setdefault(file, file.read_text())
            backup = BACKUP / path
            backup.parent.mkdir(parents=True, exist_ok=True)
            if not backup.exists():
                backup.write_text(text)
            file.write_text(file.read_text().replace(old, new, 1))
        command = [
            python,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-profile=mutation",
            *(f"tests/{t}" for t in mutation.tests),
        ]
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
            lines = (done.stdout + done.stderr).strip().splitlines()
            code, tail = done.returncode, lines[-3:]
            failed = [line.split(" - ")[0] for line in lines if line.startswith("FAILED ")]
        except subprocess.TimeoutExpired:
            code, tail, failed = 1, [f"timed out after {TIMEOUT_SECONDS} s"], []
    finally:
        for file, text in originals.items():
            file.write_text(text)
        shutil.rmtree(BACKUP, ignore_errors=True)
    status = {0: "survived", 1: "killed"}.get(code, "error")
    return {
        "name": mutation.name,
        "status": status,
        "seconds": round(time.monotonic() - started, 1),
        "where": mutation.path,
        "tests": list(mutation.tests),
        **({"killed_by": failed} if status == "killed" else {"output": tail}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run only this mutation")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--check", action="store_true", help="check every patch applies")
    args = parser.parse_args()
    catalogue = CATALOGUE
    names = [m.name for m in catalogue]
    if len(set(names)) != len(names):
        print("duplicate mutation names in the catalogue", file=sys.stderr)
        return 2
    unknown = [n for n in args.only if n not in names]
    if unknown:
        print(f"unknown mutation(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    if args.list:
        for m in catalogue:
            print(f"{m.name:44} {m.path:28} {' '.join(m.tests)}")
        return 0
    restored = restore_backups()
    if restored:
        print(f"restored after an earlier interrupted run: {', '.join(restored)}", file=sys.stderr)
    broken = {m.name: why for m in catalogue if (why := check(m)) is not None}
    if broken or args.check:
        print(json.dumps({"mutations": len(catalogue), "broken": broken}, indent=2))
        return 1 if broken else 0
    chosen = [m for m in catalogue if not args.only or m.name in args.only]
    python = str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    signal.signal(signal.SIGTERM, _terminate)
    results = []
    started = time.monotonic()
    try:
        for i, mutation in enumerate(chosen, 1):
            print(f"[{i}/{len(chosen)}] {mutation.name} ...", end=" ", flush=True, file=sys.stderr)
            result = run_one(mutation, python)
            print(f"{result['status']} ({result['seconds']} s)", file=sys.stderr)
            results.append(result)
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted; the source is restored", file=sys.stderr)
        return 130
    killed = sum(r["status"] == "killed" for r in results)
    report = {
        "mutations": len(results),
        "killed": killed,
        "survived": sum(r["status"] == "survived" for r in results),
        "errors": sum(r["status"] == "error" for r in results),
        "kill_ratio": round(killed / len(results), 3) if results else None,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "survivors": [r for r in results if r["status"] == "survived"],
        "errored": [r for r in results if r["status"] == "error"],
        "results": [
            {k: r[k] for k in ("name", "status", "seconds", "killed_by") if k in r}
            for r in results
        ],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
