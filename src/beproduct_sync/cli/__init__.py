"""The `beproduct-sync` command."""

from beproduct_sync.cli.admin import app, main

__all__ = ["app", "main"]
