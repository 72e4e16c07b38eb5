SELECT plan_id::text AS plan_id, kind, next_page, page_size, total, rows_done, done, since
FROM ops.backfill_checkpoint WHERE run_key = %(run_key)s
