"""`python -m beproduct_sync` is the `beproduct-sync` command."""

from .cli import main

main()
