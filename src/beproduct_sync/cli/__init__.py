"""The `beproduct-sync` command: one module per command group, each registering on `app`.

Entrypoints only: parse arguments, build the runtime (bootstrap), call a service, print.
"""

from __future__ import annotations

from beproduct_sync.cli import admin, api, fake, outbox, report, serve, supabase, worker
from beproduct_sync.cli.common import app

__all__ = [
    "admin",
    "api",
    "app",
    "fake",
    "main",
    "outbox",
    "report",
    "serve",
    "supabase",
    "worker",
]


def main() -> None:
    """Console entry point."""
    app()
