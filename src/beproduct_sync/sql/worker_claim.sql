-- Claim up to %(limit)s events for one worker, oldest first. Claimable: pending or failed rows
-- whose time has come, and processing rows whose lease ran out (their worker died mid-apply:
-- its transaction was rolled back, so applying again is the only way forward) or that this
-- very worker held before its connection dropped. SKIP LOCKED lets concurrent workers take
-- disjoint batches without waiting on each other. Every claim counts in `claims`: unlike
-- `attempts`, it grows even when the worker dies before the apply settles, so the worker can
-- dead-letter an event that keeps killing workers instead of claiming it forever.
WITH picked AS (
    SELECT id
    FROM ops.beproduct_sync_log
    WHERE status IN ('pending', 'processing', 'failed')
      AND next_attempt_at <= now()
      AND (status <> 'processing' OR locked_until < now() OR locked_by = %(worker)s)
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE ops.beproduct_sync_log AS t
SET status = 'processing',
    locked_until = now() + make_interval(secs => %(lease_seconds)s),
    locked_by = %(worker)s,
    claims = t.claims + 1
FROM picked
WHERE t.id = picked.id
RETURNING t.id, t.payload, t.body_sha256 AS digest, t.attempts, t.received_at, t.action, t.claims
