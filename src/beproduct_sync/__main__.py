"""`python -m beproduct_sync` is the `beproduct-sync` command."""

from beproduct_sync.cli import main

main()
