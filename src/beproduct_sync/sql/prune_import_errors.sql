-- One batch of the import errors prune (see migration 20261201000051_retention).
SELECT ops.prune_import_errors(%(cutoff)s, %(batch)s, %(dry_run)s)
