-- Claim up to %(limit)s change requests to send, under a lease: pending ones whose time has come,
-- and ones left `sending` by a sender that died (lease ran out). A request waits while an older
-- request for the same milestone is still pending or sending, so one milestone's requests reach
-- BeProduct in the order they were made. SKIP LOCKED lets several senders share the outbox.
WITH picked AS (
    SELECT r.id
    FROM ops.timeline_change_request AS r
    WHERE ((r.state = 'pending' AND r.next_attempt_at <= now())
           OR (r.state = 'sending' AND r.locked_until < now()))
      AND NOT EXISTS (
          SELECT 1 FROM ops.timeline_change_request AS o
          WHERE o.milestone_id = r.milestone_id AND o.id < r.id
            AND o.state IN ('pending', 'sending'))
    ORDER BY r.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE ops.timeline_change_request AS r
SET state = 'sending',
    claims = r.claims + 1,
    locked_by = %(owner)s,
    locked_until = now() + make_interval(secs => %(lease_seconds)s),
    updated_at = clock_timestamp()
FROM picked
WHERE r.id = picked.id
RETURNING r.*
