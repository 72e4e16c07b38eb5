"""`beproduct-sync ingest`: record body files in the inbox and apply them one by one, in order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from beproduct_sync.apply.policy import Outcome, Policy
from beproduct_sync.apply.service import Entry, apply_batch
from beproduct_sync.inbox.log import record
from beproduct_sync.inbox.status import InboxStatus
from beproduct_sync.model.body import canonical, decode, digest

SUMMARY_KEYS = ("applied", "duplicate", "stale", "ignored", "failed")


def expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Files in the order given; a directory contributes its *.json files sorted by name."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".json")
        else:
            yield path


@dataclass
class FileResult:
    """What happened to one file."""

    path: Path
    status: str  # applied | duplicate | stale | ignored | failed
    log_id: int | None = None
    detail: str | None = None


@dataclass
class Summary:
    """Counts per outcome plus the per-file results."""

    results: list[FileResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Outcome → number of files, every key present."""
        c = Counter(r.status for r in self.results)
        return {k: c.get(k, 0) for k in SUMMARY_KEYS}

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return self.counts["failed"] == 0


def _load(path: Path) -> tuple[Any, bytes, bool, str | None]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, b"", False, f"cannot read file: {exc.strerror}"
    try:
        body, altered = decode(raw)
    except ValueError as exc:
        return None, raw, False, f"not JSON: {exc}"
    return body, raw, altered, None


def _status(outcome: Outcome) -> str:
    failed = outcome.status in (InboxStatus.FAILED, InboxStatus.DEAD)
    return "failed" if failed else outcome.status


async def ingest_one(conn: AsyncConnection[Any], path: Path, policy: Policy) -> FileResult:
    """Record and apply one file (its own transactions); never raises for bad input."""
    body, raw, altered, problem = _load(path)
    if problem is not None:
        return FileResult(path, "failed", detail=problem)
    body_digest = digest(canonical(body))
    async with conn.transaction():
        received = await record(conn, body, body_digest, raw, altered=altered)
    if received.duplicate:
        return FileResult(path, "duplicate", received.id, f"already received ({received.status})")
    # The body as stored (NUL replaced, see model.body.sanitise), as a worker would apply it.
    [outcome] = await apply_batch(conn, [Entry(received.id, received.payload, body_digest)], policy)
    return FileResult(path, _status(outcome), received.id, outcome.error or outcome.reason)


async def ingest(conn: AsyncConnection[Any], paths: Iterable[Path], policy: Policy) -> Summary:
    """Ingest every file, in order."""
    summary = Summary()
    for path in expand(paths):
        summary.results.append(await ingest_one(conn, path, policy))
    return summary
