INSERT INTO ops.backfill_checkpoint AS c (run_key, plan_id, kind, next_page, page_size, total, rows_done, done, since)
VALUES (%(run_key)s, %(plan_id)s, %(kind)s, %(next_page)s, %(page_size)s, %(total)s, %(rows)s, %(done)s, %(since)s)
ON CONFLICT (run_key, plan_id, kind) DO UPDATE SET
    next_page = excluded.next_page,
    page_size = excluded.page_size,
    total = excluded.total,
    rows_done = c.rows_done + %(rows)s,
    done = excluded.done,
    since = excluded.since,
    updated_at = now()
