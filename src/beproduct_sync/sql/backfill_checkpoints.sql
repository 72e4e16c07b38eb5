SELECT plan_id::text, kind, next_page, rows_done, done
FROM ops.backfill_checkpoint WHERE run_key = %(run_key)s
