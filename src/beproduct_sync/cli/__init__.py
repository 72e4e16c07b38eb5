"""The `beproduct-sync` command: one module per command group, each registering on `app`.

Entrypoints only: parse arguments, build the runtime (bootstrap), call a service, print.
Run from the console, a command imports only the module that defines it (and what that
needs): `backfill` starts without the web stack or the worker machinery. `app` (attribute
access) loads every command.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

MODULES = ("admin", "api", "fake", "outbox", "report", "serve", "supabase", "worker")

# The module that defines each command; a command missing here still runs (every module is
# loaded), only later. tests/unit/cli checks the map against the commands.
HOMES = {
    "migrate": "admin",
    "ingest": "admin",
    "status": "admin",
    "prune": "admin",
    "backfill": "api",
    "reconcile": "api",
    "change": "outbox",
    "outbox": "outbox",
    "serve": "serve",
    "send": "serve",
    "worker": "worker",
    "replay": "worker",
    "fake-beproduct": "fake",
    "report": "report",
    "supabase": "supabase",
}

__all__ = ["HOMES", "MODULES", "load", "main", *MODULES]


def load(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    """The typer app with the commands of `modules` registered."""
    for name in modules:
        importlib.import_module(f"{__name__}.{name}")
    from beproduct_sync.cli.common import app

    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return load()
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console entry point."""
    home = HOMES.get(sys.argv[1]) if len(sys.argv) > 1 else None
    load((home,) if home else MODULES)()
