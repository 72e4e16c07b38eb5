-- A failed fetch waits and is tried again; jobs are never dropped (an API outage only delays).
UPDATE ops.enrichment_job
SET status = 'failed',
    attempts = attempts + 1,
    next_attempt_at = now() + make_interval(secs => %(delay_seconds)s),
    locked_until = NULL,
    last_error = %(error)s,
    updated_at = now()
WHERE kind = %(kind)s AND entity_id = %(entity_id)s
RETURNING attempts
