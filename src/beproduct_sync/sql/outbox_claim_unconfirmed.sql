-- Claim up to %(limit)s sent requests whose echo (BeProduct's OnChange webhook for our write) has
-- not confirmed them within %(window_seconds)s, to confirm them by reading BeProduct back. The
-- state stays `sent`; the lease only keeps two senders from reading the same ones.
WITH picked AS (
    SELECT id
    FROM ops.timeline_change_request
    WHERE state = 'sent'
      AND sent_at < now() - make_interval(secs => %(window_seconds)s)
      AND coalesce(locked_until, '-infinity') < now()
    ORDER BY sent_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE ops.timeline_change_request AS r
SET locked_by = %(owner)s,
    locked_until = now() + make_interval(secs => %(lease_seconds)s),
    updated_at = clock_timestamp()
FROM picked
WHERE r.id = picked.id
RETURNING r.*
