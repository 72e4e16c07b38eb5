-- One batch of the inbox prune (see migration 20261201000051_retention).
SELECT last_id, oldest, deleted, errors_deleted
FROM ops.prune_inbox_batch(%(statuses)s::text[], %(cutoff)s, %(after)s, %(batch)s, %(dry_run)s)
