-- A failed attempt: retry later with backoff, or dead-letter after the last attempt.
-- processed_at stays NULL when the body's date cannot be cast (see inbox.date_readable).
UPDATE ops.beproduct_sync_log
SET status = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'dead' ELSE 'failed' END,
    processed_at = CASE WHEN %(stamp)s::boolean THEN clock_timestamp() END,
    attempts = attempts + 1,
    duration_ms = %(duration_ms)s,
    next_attempt_at = clock_timestamp() + make_interval(secs => %(delay_seconds)s),
    last_error = %(error)s,
    locked_until = NULL,
    locked_by = NULL
WHERE id = %(id)s
RETURNING status, attempts
