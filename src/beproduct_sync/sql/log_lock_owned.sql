-- Lock the inbox rows an apply is about to settle and keep only those still ours: held by this
-- worker (or, for an unleased apply such as `ingest`, not yet settled). While the apply's
-- transaction holds these locks, claims (SKIP LOCKED) pass them by, so a lease that runs out
-- mid-apply can never make a second worker apply the same event.
SELECT id
FROM ops.beproduct_sync_log
WHERE id = ANY(%(ids)s::bigint[])
  AND CASE WHEN %(owner)s::text IS NULL
           THEN status IN ('pending', 'processing', 'failed')
           ELSE status = 'processing' AND locked_by = %(owner)s::text END
FOR UPDATE
