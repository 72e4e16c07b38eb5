-- Claim up to %(limit)s events for one worker, oldest first. Claimable: pending or failed rows
-- whose time has come, and processing rows whose worker is gone: its lease ran out (it died
-- mid-apply: its transaction was rolled back, so applying again is the only way forward), its
-- process stopped renewing its heartbeat in ops.worker_process for %(dead_after)s seconds (a
-- crash: taken over at once, whatever the lease), or this very worker held it before its
-- connection dropped. SKIP LOCKED lets concurrent workers take disjoint batches without waiting
-- on each other, and passes by rows an apply's transaction holds. Every claim counts in
-- `claims`: unlike `attempts`, it grows even when the worker dies before the apply settles, so
-- the worker can dead-letter an event that keeps killing workers instead of claiming it
-- forever. A claim taken over from a dead process that had not begun applying the event
-- (apply_started_at NULL) is not charged: the crash was another event's.
WITH dead AS (
    SELECT id
    FROM ops.worker_process
    WHERE heartbeat_at < now() - make_interval(secs => %(dead_after)s)
),
picked AS (
    SELECT t.id,
           (t.status = 'processing' AND t.apply_started_at IS NULL
            AND split_part(t.locked_by, '/', 1) IN (SELECT id FROM dead)) AS unstarted
    FROM ops.beproduct_sync_log AS t
    WHERE t.status IN ('pending', 'processing', 'failed')
      AND t.next_attempt_at <= now()
      AND (t.status <> 'processing' OR t.locked_until < now() OR t.locked_by = %(worker)s
           OR split_part(t.locked_by, '/', 1) IN (SELECT id FROM dead))
    ORDER BY t.id
    LIMIT %(limit)s
    FOR UPDATE OF t SKIP LOCKED
)
UPDATE ops.beproduct_sync_log AS t
SET status = 'processing',
    locked_until = now() + make_interval(secs => %(lease_seconds)s),
    locked_by = %(worker)s,
    claims = t.claims + CASE WHEN picked.unstarted THEN 0 ELSE 1 END,
    apply_started_at = NULL
FROM picked
WHERE t.id = picked.id
RETURNING t.id, t.payload, t.body_sha256 AS digest, t.attempts, t.received_at, t.action, t.claims
