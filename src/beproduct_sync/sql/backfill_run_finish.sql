UPDATE ops.backfill_run SET finished_at = now() WHERE run_key = %(run_key)s
