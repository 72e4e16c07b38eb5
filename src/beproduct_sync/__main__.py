"""`python -m beproduct_sync` is the `beproduct-sync` command."""

from beproduct_sync.cli.admin import main

main()
