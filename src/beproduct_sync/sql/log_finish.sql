-- Final outcome of one apply attempt (applied, stale, ignored or dead): same transaction as
-- the rows it wrote, so status and data never disagree. processed_at stays NULL when the
-- body's date cannot be cast to timestamptz (%(stamp)s false: see inbox.date_readable).
UPDATE ops.beproduct_sync_log
SET status = %(status)s,
    processed_at = CASE WHEN %(stamp)s::boolean THEN clock_timestamp() END,
    attempts = attempts + 1,
    duration_ms = %(duration_ms)s,
    reason = %(reason)s,
    last_error = coalesce(%(error)s, last_error),
    locked_until = NULL,
    locked_by = NULL
WHERE id = %(id)s
