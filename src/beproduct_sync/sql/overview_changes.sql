-- Reverse sync's change requests that need a person: conflicts, rejections and dead ones,
-- newest first (the dashboard's Reverse sync panel).
SELECT id, state, entity_type, milestone_id::text AS milestone_id, requested_by, requested_at,
       updated_at, attempts, last_error
FROM ops.timeline_change_request
WHERE state IN ('conflict', 'rejected', 'dead')
ORDER BY updated_at DESC
LIMIT %(limit)s
