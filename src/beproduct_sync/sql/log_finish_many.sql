-- Final outcomes (applied, stale, ignored or dead) of many events at once, inside the
-- transaction that wrote their rows, so status and data never disagree. processed_at stays
-- NULL for a row whose stamp is false: its body's date cannot be cast (inbox.date_readable).
UPDATE ops.beproduct_sync_log AS t
SET status = x.status,
    processed_at = CASE WHEN x.stamp THEN clock_timestamp() END,
    attempts = t.attempts + 1,
    duration_ms = x.duration_ms,
    reason = x.reason,
    last_error = coalesce(x.error, t.last_error),
    locked_until = NULL,
    locked_by = NULL
FROM jsonb_to_recordset(%(rows)s::jsonb)
    AS x(id bigint, status text, duration_ms double precision, reason text, error text,
         stamp boolean)
WHERE t.id = x.id
