SELECT run_key, snapshot_at, finished_at FROM ops.backfill_run WHERE run_key = %(run_key)s
