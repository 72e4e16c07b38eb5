-- Settle many events at once, inside the transaction that wrote their rows, so status and data
-- never disagree. Final outcomes (applied, stale, ignored, dead) are kept as given; a 'failed'
-- attempt is retried after `retry_in` seconds, or dead-lettered when it was the last allowed
-- one. processed_at stays NULL for a row whose stamp is false: its body's date cannot be cast
-- (model.body.date_readable).
UPDATE ops.beproduct_sync_log AS t
SET status = CASE WHEN x.status = 'failed' AND t.attempts + 1 >= x.max_attempts THEN 'dead'
                  ELSE x.status END,
    processed_at = CASE WHEN x.stamp THEN clock_timestamp() END,
    attempts = t.attempts + 1,
    duration_ms = x.duration_ms,
    next_attempt_at = CASE WHEN x.status = 'failed'
                           THEN clock_timestamp() + make_interval(secs => x.retry_in)
                           ELSE t.next_attempt_at END,
    reason = x.reason,
    last_error = coalesce(x.error, t.last_error),
    locked_until = NULL,
    locked_by = NULL,
    apply_started_at = NULL
FROM jsonb_to_recordset(%(rows)s::jsonb)
    AS x(id bigint, status text, duration_ms double precision, reason text, error text,
         stamp boolean, retry_in double precision, max_attempts integer)
WHERE t.id = x.id
RETURNING t.id, t.status, t.attempts
